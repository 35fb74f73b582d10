#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| otr_core::fuzzing::attestation(data));
