#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Known-answer tests for the primitive wrappers in `otr_core::crypto`, against the published
//! standards. Every value below was copied from the cited document; none is computed here.
//!
//! Sources:
//! - Ed448: RFC 8032 §7.4 "Test Vectors for Ed448" (all nine pure-Ed448 vectors).
//! - X448: RFC 7748 §5.2 (two single vectors and the iterated test) and §6.2 (Diffie-Hellman).
//! - SHAKE-256: FIPS 202 / NIST "SHA-3 example values" (SHAKE256 of the 1600-bit message
//!   0xa3 * 200, 4096 bits of output) and NIST CAVP SHA-3 byte-oriented vectors (CAVS 19.0):
//!   `SHAKE256ShortMsg.rsp` (Len = 408) and `SHAKE256VariableOut.rsp` (Outputlen = 912).
//! - MODP: RFC 3526 §4 (3072-bit MODP group, id 15).
//! - AES-256-GCM: McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B,
//!   Test Cases 13-16 (the 256-bit-key cases with a 96-bit IV; 17 and 18 use 64- and 480-bit
//!   IVs, which the wrapper's `[u8; 12]` nonce cannot express).

use core::convert::Infallible;

use otr_core::crypto::CryptoError;
use otr_core::crypto::aead::{TAG_LEN, open_raw, seal_raw};
use otr_core::crypto::ed448::{self, PublicPoint, SEED_LEN, SIGNATURE_LEN, SigningSecret};
use otr_core::crypto::kdf::shake256;
use otr_core::crypto::modp::{MODP3072_P_HEX, Modp3072};
use otr_core::crypto::x448::{X448_LEN, X448Secret, x448_raw};
use otr_core::secret::Secret;
use sha2::{Digest, Sha256};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test vector is valid hex")
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    let v = unhex(s);
    let len = v.len();
    v.try_into()
        .unwrap_or_else(|_| panic!("test vector has {len} bytes, expected {N}"))
}

/// An "RNG" that hands out one fixed byte string, so `X448Secret::generate` (the only public
/// constructor) can be driven with a known private key. It panics if asked for anything other
/// than exactly the bytes it holds, so a change in how `generate` draws randomness is caught
/// rather than silently producing a different key.
struct FixedBytes {
    bytes: Vec<u8>,
    used: bool,
}

impl FixedBytes {
    fn new(bytes: &[u8]) -> Self {
        FixedBytes {
            bytes: bytes.to_vec(),
            used: false,
        }
    }
}

impl rand::TryRng for FixedBytes {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        panic!("FixedBytes: only fill_bytes is supported");
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        panic!("FixedBytes: only fill_bytes is supported");
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        assert!(!self.used, "FixedBytes: asked for randomness twice");
        assert_eq!(
            dst.len(),
            self.bytes.len(),
            "FixedBytes: unexpected request size"
        );
        dst.copy_from_slice(&self.bytes);
        self.used = true;
        Ok(())
    }
}

impl rand::TryCryptoRng for FixedBytes {}

/// Builds an `X448Secret` whose private key is exactly `sk`.
fn x448_secret(sk: &[u8; X448_LEN]) -> X448Secret {
    let mut rng = FixedBytes::new(sk);
    let s = X448Secret::generate(&mut rng);
    assert!(rng.used);
    s
}

// ---------------------------------------------------------------------------------------------
// RFC 8032 §7.4 — Ed448
// ---------------------------------------------------------------------------------------------

struct Ed448Vector {
    name: &'static str,
    secret: &'static str,
    public: &'static str,
    message: &'static str,
    /// `None` for the vectors without a CONTEXT field (empty context).
    context: Option<&'static str>,
    signature: &'static str,
}

const RFC8032_ED448: &[Ed448Vector] = &[
    Ed448Vector {
        name: "-----Blank",
        secret: concat!(
            "6c82a562cb808d10d632be89c8513ebf",
            "6c929f34ddfa8c9f63c9960ef6e348a3",
            "528c8a3fcc2f044e39a3fc5b94492f8f",
            "032e7549a20098f95b",
        ),
        public: concat!(
            "5fd7449b59b461fd2ce787ec616ad46a",
            "1da1342485a70e1f8a0ea75d80e96778",
            "edf124769b46c7061bd6783df1e50f6c",
            "d1fa1abeafe8256180",
        ),
        message: "",
        context: None,
        signature: concat!(
            "533a37f6bbe457251f023c0d88f976ae",
            "2dfb504a843e34d2074fd823d41a591f",
            "2b233f034f628281f2fd7a22ddd47d78",
            "28c59bd0a21bfd3980ff0d2028d4b18a",
            "9df63e006c5d1c2d345b925d8dc00b41",
            "04852db99ac5c7cdda8530a113a0f4db",
            "b61149f05a7363268c71d95808ff2e65",
            "2600",
        ),
    },
    Ed448Vector {
        name: "-----1 octet",
        secret: concat!(
            "c4eab05d357007c632f3dbb48489924d",
            "552b08fe0c353a0d4a1f00acda2c463a",
            "fbea67c5e8d2877c5e3bc397a659949e",
            "f8021e954e0a12274e",
        ),
        public: concat!(
            "43ba28f430cdff456ae531545f7ecd0a",
            "c834a55d9358c0372bfa0c6c6798c086",
            "6aea01eb00742802b8438ea4cb82169c",
            "235160627b4c3a9480",
        ),
        message: "03",
        context: None,
        signature: concat!(
            "26b8f91727bd62897af15e41eb43c377",
            "efb9c610d48f2335cb0bd0087810f435",
            "2541b143c4b981b7e18f62de8ccdf633",
            "fc1bf037ab7cd779805e0dbcc0aae1cb",
            "cee1afb2e027df36bc04dcecbf154336",
            "c19f0af7e0a6472905e799f1953d2a0f",
            "f3348ab21aa4adafd1d234441cf807c0",
            "3a00",
        ),
    },
    Ed448Vector {
        name: "-----1 octet (with context)",
        secret: concat!(
            "c4eab05d357007c632f3dbb48489924d",
            "552b08fe0c353a0d4a1f00acda2c463a",
            "fbea67c5e8d2877c5e3bc397a659949e",
            "f8021e954e0a12274e",
        ),
        public: concat!(
            "43ba28f430cdff456ae531545f7ecd0a",
            "c834a55d9358c0372bfa0c6c6798c086",
            "6aea01eb00742802b8438ea4cb82169c",
            "235160627b4c3a9480",
        ),
        message: "03",
        context: Some("666f6f"),
        signature: concat!(
            "d4f8f6131770dd46f40867d6fd5d5055",
            "de43541f8c5e35abbcd001b32a89f7d2",
            "151f7647f11d8ca2ae279fb842d60721",
            "7fce6e042f6815ea000c85741de5c8da",
            "1144a6a1aba7f96de42505d7a7298524",
            "fda538fccbbb754f578c1cad10d54d0d",
            "5428407e85dcbc98a49155c13764e66c",
            "3c00",
        ),
    },
    Ed448Vector {
        name: "-----11 octets",
        secret: concat!(
            "cd23d24f714274e744343237b93290f5",
            "11f6425f98e64459ff203e8985083ffd",
            "f60500553abc0e05cd02184bdb89c4cc",
            "d67e187951267eb328",
        ),
        public: concat!(
            "dcea9e78f35a1bf3499a831b10b86c90",
            "aac01cd84b67a0109b55a36e9328b1e3",
            "65fce161d71ce7131a543ea4cb5f7e9f",
            "1d8b00696447001400",
        ),
        message: "0c3e544074ec63b0265e0c",
        context: None,
        signature: concat!(
            "1f0a8888ce25e8d458a21130879b840a",
            "9089d999aaba039eaf3e3afa090a09d3",
            "89dba82c4ff2ae8ac5cdfb7c55e94d5d",
            "961a29fe0109941e00b8dbdeea6d3b05",
            "1068df7254c0cdc129cbe62db2dc957d",
            "bb47b51fd3f213fb8698f064774250a5",
            "028961c9bf8ffd973fe5d5c206492b14",
            "0e00",
        ),
    },
    Ed448Vector {
        name: "-----12 octets",
        secret: concat!(
            "258cdd4ada32ed9c9ff54e63756ae582",
            "fb8fab2ac721f2c8e676a72768513d93",
            "9f63dddb55609133f29adf86ec9929dc",
            "cb52c1c5fd2ff7e21b",
        ),
        public: concat!(
            "3ba16da0c6f2cc1f30187740756f5e79",
            "8d6bc5fc015d7c63cc9510ee3fd44adc",
            "24d8e968b6e46e6f94d19b945361726b",
            "d75e149ef09817f580",
        ),
        message: "64a65f3cdedcdd66811e2915",
        context: None,
        signature: concat!(
            "7eeeab7c4e50fb799b418ee5e3197ff6",
            "bf15d43a14c34389b59dd1a7b1b85b4a",
            "e90438aca634bea45e3a2695f1270f07",
            "fdcdf7c62b8efeaf00b45c2c96ba457e",
            "b1a8bf075a3db28e5c24f6b923ed4ad7",
            "47c3c9e03c7079efb87cb110d3a99861",
            "e72003cbae6d6b8b827e4e6c143064ff",
            "3c00",
        ),
    },
    Ed448Vector {
        name: "-----13 octets",
        secret: concat!(
            "7ef4e84544236752fbb56b8f31a23a10",
            "e42814f5f55ca037cdcc11c64c9a3b29",
            "49c1bb60700314611732a6c2fea98eeb",
            "c0266a11a93970100e",
        ),
        public: concat!(
            "b3da079b0aa493a5772029f0467baebe",
            "e5a8112d9d3a22532361da294f7bb381",
            "5c5dc59e176b4d9f381ca0938e13c6c0",
            "7b174be65dfa578e80",
        ),
        message: "64a65f3cdedcdd66811e2915e7",
        context: None,
        signature: concat!(
            "6a12066f55331b6c22acd5d5bfc5d712",
            "28fbda80ae8dec26bdd306743c5027cb",
            "4890810c162c027468675ecf645a8317",
            "6c0d7323a2ccde2d80efe5a1268e8aca",
            "1d6fbc194d3f77c44986eb4ab4177919",
            "ad8bec33eb47bbb5fc6e28196fd1caf5",
            "6b4e7e0ba5519234d047155ac727a105",
            "3100",
        ),
    },
    Ed448Vector {
        name: "-----64 octets",
        secret: concat!(
            "d65df341ad13e008567688baedda8e9d",
            "cdc17dc024974ea5b4227b6530e339bf",
            "f21f99e68ca6968f3cca6dfe0fb9f4fa",
            "b4fa135d5542ea3f01",
        ),
        public: concat!(
            "df9705f58edbab802c7f8363cfe5560a",
            "b1c6132c20a9f1dd163483a26f8ac53a",
            "39d6808bf4a1dfbd261b099bb03b3fb5",
            "0906cb28bd8a081f00",
        ),
        message: concat!(
            "bd0f6a3747cd561bdddf4640a332461a",
            "4a30a12a434cd0bf40d766d9c6d458e5",
            "512204a30c17d1f50b5079631f64eb31",
            "12182da3005835461113718d1a5ef944",
        ),
        context: None,
        signature: concat!(
            "554bc2480860b49eab8532d2a533b7d5",
            "78ef473eeb58c98bb2d0e1ce488a98b1",
            "8dfde9b9b90775e67f47d4a1c3482058",
            "efc9f40d2ca033a0801b63d45b3b722e",
            "f552bad3b4ccb667da350192b61c508c",
            "f7b6b5adadc2c8d9a446ef003fb05cba",
            "5f30e88e36ec2703b349ca229c267083",
            "3900",
        ),
    },
    Ed448Vector {
        name: "-----256 octets",
        secret: concat!(
            "2ec5fe3c17045abdb136a5e6a913e32a",
            "b75ae68b53d2fc149b77e504132d3756",
            "9b7e766ba74a19bd6162343a21c8590a",
            "a9cebca9014c636df5",
        ),
        public: concat!(
            "79756f014dcfe2079f5dd9e718be4171",
            "e2ef2486a08f25186f6bff43a9936b9b",
            "fe12402b08ae65798a3d81e22e9ec80e",
            "7690862ef3d4ed3a00",
        ),
        message: concat!(
            "15777532b0bdd0d1389f636c5f6b9ba7",
            "34c90af572877e2d272dd078aa1e567c",
            "fa80e12928bb542330e8409f31745041",
            "07ecd5efac61ae7504dabe2a602ede89",
            "e5cca6257a7c77e27a702b3ae39fc769",
            "fc54f2395ae6a1178cab4738e543072f",
            "c1c177fe71e92e25bf03e4ecb72f47b6",
            "4d0465aaea4c7fad372536c8ba516a60",
            "39c3c2a39f0e4d832be432dfa9a706a6",
            "e5c7e19f397964ca4258002f7c0541b5",
            "90316dbc5622b6b2a6fe7a4abffd9610",
            "5eca76ea7b98816af0748c10df048ce0",
            "12d901015a51f189f3888145c03650aa",
            "23ce894c3bd889e030d565071c59f409",
            "a9981b51878fd6fc110624dcbcde0bf7",
            "a69ccce38fabdf86f3bef6044819de11",
        ),
        context: None,
        signature: concat!(
            "c650ddbb0601c19ca11439e1640dd931",
            "f43c518ea5bea70d3dcde5f4191fe53f",
            "00cf966546b72bcc7d58be2b9badef28",
            "743954e3a44a23f880e8d4f1cfce2d7a",
            "61452d26da05896f0a50da66a239a8a1",
            "88b6d825b3305ad77b73fbac0836ecc6",
            "0987fd08527c1a8e80d5823e65cafe2a",
            "3d00",
        ),
    },
    Ed448Vector {
        name: "-----1023 octets",
        secret: concat!(
            "872d093780f5d3730df7c212664b37b8",
            "a0f24f56810daa8382cd4fa3f77634ec",
            "44dc54f1c2ed9bea86fafb7632d8be19",
            "9ea165f5ad55dd9ce8",
        ),
        public: concat!(
            "a81b2e8a70a5ac94ffdbcc9badfc3feb",
            "0801f258578bb114ad44ece1ec0e799d",
            "a08effb81c5d685c0c56f64eecaef8cd",
            "f11cc38737838cf400",
        ),
        message: concat!(
            "6ddf802e1aae4986935f7f981ba3f035",
            "1d6273c0a0c22c9c0e8339168e675412",
            "a3debfaf435ed651558007db4384b650",
            "fcc07e3b586a27a4f7a00ac8a6fec2cd",
            "86ae4bf1570c41e6a40c931db27b2faa",
            "15a8cedd52cff7362c4e6e23daec0fbc",
            "3a79b6806e316efcc7b68119bf46bc76",
            "a26067a53f296dafdbdc11c77f7777e9",
            "72660cf4b6a9b369a6665f02e0cc9b6e",
            "dfad136b4fabe723d2813db3136cfde9",
            "b6d044322fee2947952e031b73ab5c60",
            "3349b307bdc27bc6cb8b8bbd7bd32321",
            "9b8033a581b59eadebb09b3c4f3d2277",
            "d4f0343624acc817804728b25ab79717",
            "2b4c5c21a22f9c7839d64300232eb66e",
            "53f31c723fa37fe387c7d3e50bdf9813",
            "a30e5bb12cf4cd930c40cfb4e1fc6225",
            "92a49588794494d56d24ea4b40c89fc0",
            "596cc9ebb961c8cb10adde976a5d602b",
            "1c3f85b9b9a001ed3c6a4d3b1437f520",
            "96cd1956d042a597d561a596ecd3d173",
            "5a8d570ea0ec27225a2c4aaff26306d1",
            "526c1af3ca6d9cf5a2c98f47e1c46db9",
            "a33234cfd4d81f2c98538a09ebe76998",
            "d0d8fd25997c7d255c6d66ece6fa56f1",
            "1144950f027795e653008f4bd7ca2dee",
            "85d8e90f3dc315130ce2a00375a318c7",
            "c3d97be2c8ce5b6db41a6254ff264fa6",
            "155baee3b0773c0f497c573f19bb4f42",
            "40281f0b1f4f7be857a4e59d416c06b4",
            "c50fa09e1810ddc6b1467baeac5a3668",
            "d11b6ecaa901440016f389f80acc4db9",
            "77025e7f5924388c7e340a732e554440",
            "e76570f8dd71b7d640b3450d1fd5f041",
            "0a18f9a3494f707c717b79b4bf75c984",
            "00b096b21653b5d217cf3565c9597456",
            "f70703497a078763829bc01bb1cbc8fa",
            "04eadc9a6e3f6699587a9e75c94e5bab",
            "0036e0b2e711392cff0047d0d6b05bd2",
            "a588bc109718954259f1d86678a579a3",
            "120f19cfb2963f177aeb70f2d4844826",
            "262e51b80271272068ef5b3856fa8535",
            "aa2a88b2d41f2a0e2fda7624c2850272",
            "ac4a2f561f8f2f7a318bfd5caf969614",
            "9e4ac824ad3460538fdc25421beec2cc",
            "6818162d06bbed0c40a387192349db67",
            "a118bada6cd5ab0140ee273204f628aa",
            "d1c135f770279a651e24d8c14d75a605",
            "9d76b96a6fd857def5e0b354b27ab937",
            "a5815d16b5fae407ff18222c6d1ed263",
            "be68c95f32d908bd895cd76207ae7264",
            "87567f9a67dad79abec316f683b17f2d",
            "02bf07e0ac8b5bc6162cf94697b3c27c",
            "d1fea49b27f23ba2901871962506520c",
            "392da8b6ad0d99f7013fbc06c2c17a56",
            "9500c8a7696481c1cd33e9b14e40b82e",
            "79a5f5db82571ba97bae3ad3e0479515",
            "bb0e2b0f3bfcd1fd33034efc6245eddd",
            "7ee2086ddae2600d8ca73e214e8c2b0b",
            "db2b047c6a464a562ed77b73d2d841c4",
            "b34973551257713b753632efba348169",
            "abc90a68f42611a40126d7cb21b58695",
            "568186f7e569d2ff0f9e745d0487dd2e",
            "b997cafc5abf9dd102e62ff66cba87",
        ),
        context: None,
        signature: concat!(
            "e301345a41a39a4d72fff8df69c98075",
            "a0cc082b802fc9b2b6bc503f926b65bd",
            "df7f4c8f1cb49f6396afc8a70abe6d8a",
            "ef0db478d4c6b2970076c6a0484fe76d",
            "76b3a97625d79f1ce240e7c576750d29",
            "5528286f719b413de9ada3e8eb78ed57",
            "3603ce30d8bb761785dc30dbc320869e",
            "1a00",
        ),
    },
];

/// The message with one bit flipped, or — for the empty message, which has no bit to flip —
/// a single zero byte (the nearest different message).
fn altered_message(msg: &[u8]) -> Vec<u8> {
    let mut m = msg.to_vec();
    if m.is_empty() {
        m.push(0);
    } else {
        let i = m.len() / 2;
        m[i] ^= 0x01;
    }
    m
}

fn check_ed448_vector(v: &Ed448Vector) {
    let name = v.name;
    let mut seed = arr::<SEED_LEN>(v.secret);
    let public = arr::<{ ed448::POINT_LEN }>(v.public);
    let msg = unhex(v.message);
    let sig = arr::<SIGNATURE_LEN>(v.signature);
    let expected_len: usize = name
        .trim_start_matches('-')
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert_eq!(msg.len(), expected_len, "{name}: message length as titled");

    let key = SigningSecret::from_seed(&Secret::from_array(&mut seed));
    assert_eq!(key.public().as_bytes(), &public, "{name}: public key");
    // The protocol's validated point type accepts every RFC public key.
    let point = PublicPoint::from_bytes(&public).expect("RFC public key is a valid point");
    assert_eq!(point.as_bytes(), &public, "{name}: PublicPoint round trip");
    // The seed round-trips.
    assert_eq!(
        key.seed().expose(),
        &arr::<SEED_LEN>(v.secret),
        "{name}: seed"
    );

    let bad_msg = altered_message(&msg);
    let mut bad_sig_r = sig;
    bad_sig_r[0] ^= 0x01;
    let mut bad_sig_s = sig;
    bad_sig_s[SIGNATURE_LEN - 2] ^= 0x01;

    match v.context {
        None => {
            // Signing is deterministic and must reproduce the RFC byte for byte.
            assert_eq!(key.sign_raw(&msg), sig, "{name}: sign_raw");
            // "Ed448" in RFC 8032 is the context-taking scheme with an empty context.
            assert_eq!(
                key.sign(&[], &msg).unwrap(),
                sig,
                "{name}: sign with empty ctx"
            );

            assert_eq!(
                ed448::verify_raw(&public, &msg, &sig),
                Ok(()),
                "{name}: verify_raw"
            );
            assert_eq!(
                ed448::verify(&point, &[], &msg, &sig),
                Ok(()),
                "{name}: verify"
            );

            assert_eq!(
                ed448::verify_raw(&public, &bad_msg, &sig),
                Err(CryptoError::BadSignature),
                "{name}: altered message must be rejected"
            );
            assert!(
                ed448::verify(&point, &[], &bad_msg, &sig).is_err(),
                "{name}: altered message must be rejected (verify)"
            );
            assert!(
                ed448::verify_raw(&public, &msg, &bad_sig_r).is_err(),
                "{name}: flipped bit in R must be rejected"
            );
            assert!(
                ed448::verify_raw(&public, &msg, &bad_sig_s).is_err(),
                "{name}: flipped bit in S must be rejected"
            );
            assert!(
                ed448::verify_raw(&public, &msg, &sig[..SIGNATURE_LEN - 1]).is_err(),
                "{name}: truncated signature must be rejected"
            );
            // A non-empty context is a different message.
            assert!(
                ed448::verify(&point, b"foo", &msg, &sig).is_err(),
                "{name}: signature must not verify under another context"
            );
        }
        Some(ctx_hex) => {
            let ctx = unhex(ctx_hex);
            assert_eq!(key.sign(&ctx, &msg).unwrap(), sig, "{name}: sign with ctx");
            assert_eq!(
                ed448::verify(&point, &ctx, &msg, &sig),
                Ok(()),
                "{name}: verify"
            );
            assert_eq!(
                ed448::verify(&point, &ctx, &bad_msg, &sig),
                Err(CryptoError::BadSignature),
                "{name}: altered message must be rejected"
            );
            assert!(
                ed448::verify(&point, &ctx, &msg, &bad_sig_r).is_err(),
                "{name}: flipped bit in R must be rejected"
            );
            assert!(
                ed448::verify(&point, &ctx, &msg, &bad_sig_s).is_err(),
                "{name}: flipped bit in S must be rejected"
            );
            // The context is bound: the empty-context verifiers must refuse it.
            assert!(
                ed448::verify(&point, &[], &msg, &sig).is_err(),
                "{name}: must not verify with the empty context"
            );
            assert!(
                ed448::verify_raw(&public, &msg, &sig).is_err(),
                "{name}: verify_raw (empty context) must refuse a ctx signature"
            );
            let mut other_ctx = ctx.clone();
            other_ctx[0] ^= 0x01;
            assert!(
                ed448::verify(&point, &other_ctx, &msg, &sig).is_err(),
                "{name}: must not verify under a different context"
            );
        }
    }
}

#[test]
fn rfc8032_ed448_all_vectors() {
    assert_eq!(RFC8032_ED448.len(), 9, "§7.4 has nine pure-Ed448 vectors");
    for v in RFC8032_ED448 {
        check_ed448_vector(v);
    }
}

#[test]
fn ed448_context_length_limit() {
    // RFC 8032 §5.2: the context is at most 255 octets.
    let mut seed = arr::<SEED_LEN>(RFC8032_ED448[0].secret);
    let key = SigningSecret::from_seed(&Secret::from_array(&mut seed));
    assert!(key.sign(&[0u8; 255], b"m").is_ok());
    assert_eq!(
        key.sign(&[0u8; 256], b"m"),
        Err(CryptoError::ContextTooLong)
    );
}

// ---------------------------------------------------------------------------------------------
// RFC 7748 — X448
// ---------------------------------------------------------------------------------------------

/// The u-coordinate 5 (the base point), little-endian.
fn five() -> [u8; X448_LEN] {
    let mut b = [0u8; X448_LEN];
    b[0] = 5;
    b
}

#[test]
fn rfc7748_5_2_x448_single_vectors() {
    // (input scalar, input u-coordinate, output u-coordinate)
    let vectors = [
        (
            concat!(
                "3d262fddf9ec8e88495266fea19a34d28882acef045104d0",
                "d1aae121700a779c984c24f8cdd78fbff44943eba368f54b",
                "29259a4f1c600ad3",
            ),
            concat!(
                "06fce640fa3487bfda5f6cf2d5263f8aad88334cbd07437f",
                "020f08f9814dc031ddbdc38c19c6da2583fa5429db94ada1",
                "8aa7a7fb4ef8a086",
            ),
            concat!(
                "ce3e4ff95a60dc6697da1db1d85e6afbdf79b50a2412d754",
                "6d5f239fe14fbaadeb445fc66a01b0779d98223961111e21",
                "766282f73dd96b6f",
            ),
        ),
        (
            concat!(
                "203d494428b8399352665ddca42f9de8fef600908e0d461c",
                "b021f8c538345dd77c3e4806e25f46d3315c44e0a5b43712",
                "82dd2c8d5be3095f",
            ),
            concat!(
                "0fbcc2f993cd56d3305b0b7d9e55d4c1a8fb5dbb52f8e9a1",
                "e9b6201b165d015894e56c4d3570bee52fe205e28a78b91c",
                "dfbde71ce8d157db",
            ),
            concat!(
                "884a02576239ff7a2f2f63b2db6a9ff37047ac13568e1e30",
                "fe63c4a7ad1b3ee3a5700df34321d62077e63633c575c1c9",
                "54514e99da7c179d",
            ),
        ),
    ];
    for (i, (k, u, out)) in vectors.iter().enumerate() {
        let k = arr::<X448_LEN>(k);
        let u = arr::<X448_LEN>(u);
        let out = arr::<X448_LEN>(out);
        assert_eq!(x448_raw(&k, &u), out, "RFC 7748 §5.2 X448 vector {}", i + 1);
    }
}

/// RFC 7748 §5.2 iterated test: k = u = 5; each round k' = X448(k, u), u' = old k.
fn x448_iterate(rounds: usize, checkpoints: &[(usize, &str)]) {
    let mut k = five();
    let mut u = five();
    for i in 1..=rounds {
        let next = x448_raw(&k, &u);
        u = k;
        k = next;
        for (at, expect) in checkpoints {
            if *at == i {
                assert_eq!(
                    hex::encode(k),
                    *expect,
                    "RFC 7748 §5.2 X448 after {i} iteration(s)"
                );
            }
        }
    }
}

#[test]
fn rfc7748_5_2_x448_iterated_1000() {
    x448_iterate(
        1000,
        &[
            (
                1,
                concat!(
                    "3f482c8a9f19b01e6c46ee9711d9dc14fd4bf67af30765c2",
                    "ae2b846a4d23a8cd0db897086239492caf350b51f833868b",
                    "9bc2b3bca9cf4113",
                ),
            ),
            (
                1000,
                concat!(
                    "aa3b4749d55b9daf1e5b00288826c467274ce3ebbdd5c17b",
                    "975e09d4af6c67cf10d087202db88286e2b79fceea3ec353",
                    "ef54faa26e219f38",
                ),
            ),
        ],
    );
}

#[test]
#[ignore = "slow: one million X448 evaluations (run with --ignored)"]
fn rfc7748_5_2_x448_iterated_1000000() {
    x448_iterate(
        1_000_000,
        &[(
            1_000_000,
            concat!(
                "077f453681caca3693198420bbe515cae0002472519b3e67",
                "661a7e89cab94695c8f4bcd66e61b9b9c946da8d524de3d6",
                "9bd9d9d66b997e37",
            ),
        )],
    );
}

const RFC7748_ALICE_SK: &str = concat!(
    "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28d",
    "d9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b",
);
const RFC7748_ALICE_PK: &str = concat!(
    "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c",
    "22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0",
);
const RFC7748_BOB_SK: &str = concat!(
    "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d",
    "6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d",
);
const RFC7748_BOB_PK: &str = concat!(
    "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b430",
    "27d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609",
);
const RFC7748_SHARED_K: &str = concat!(
    "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282b",
    "b60c0b56fd2464c335543936521c24403085d59a449a5037514a879d",
);

#[test]
fn rfc7748_6_2_x448_diffie_hellman_raw() {
    let a = arr::<X448_LEN>(RFC7748_ALICE_SK);
    let b = arr::<X448_LEN>(RFC7748_BOB_SK);
    let ka = arr::<X448_LEN>(RFC7748_ALICE_PK);
    let kb = arr::<X448_LEN>(RFC7748_BOB_PK);
    let k = arr::<X448_LEN>(RFC7748_SHARED_K);
    assert_eq!(x448_raw(&a, &five()), ka, "Alice's public key X448(a, 5)");
    assert_eq!(x448_raw(&b, &five()), kb, "Bob's public key X448(b, 5)");
    assert_eq!(x448_raw(&a, &kb), k, "X448(a, X448(b, 5))");
    assert_eq!(x448_raw(&b, &ka), k, "X448(b, X448(a, 5))");
}

#[test]
fn rfc7748_6_2_x448_diffie_hellman_via_x448secret() {
    let alice = x448_secret(&arr(RFC7748_ALICE_SK));
    let bob = x448_secret(&arr(RFC7748_BOB_SK));
    let ka = arr::<X448_LEN>(RFC7748_ALICE_PK);
    let kb = arr::<X448_LEN>(RFC7748_BOB_PK);
    let k = arr::<X448_LEN>(RFC7748_SHARED_K);
    assert_eq!(alice.public(), &ka);
    assert_eq!(bob.public(), &kb);
    assert_eq!(alice.diffie_hellman(&kb).unwrap().expose(), &k);
    assert_eq!(bob.diffie_hellman(&ka).unwrap().expose(), &k);
}

#[test]
fn x448_low_order_inputs_rejected_by_dh() {
    // RFC 7748 §6.2: X448 of a small-order point is all zeros and MAY be rejected; the
    // protocol wrapper must reject it. u = 0 and u = 1 are both small order on Curve448.
    let alice = x448_secret(&arr(RFC7748_ALICE_SK));
    let zero = [0u8; X448_LEN];
    let mut one = [0u8; X448_LEN];
    one[0] = 1;
    for u in [zero, one] {
        assert_eq!(x448_raw(&arr(RFC7748_ALICE_SK), &u), [0u8; X448_LEN]);
        assert!(matches!(
            alice.diffie_hellman(&u),
            Err(CryptoError::NonContributory)
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// FIPS 202 — SHAKE-256
// ---------------------------------------------------------------------------------------------

fn shake(input: &[u8], len: usize) -> String {
    let mut out = vec![0u8; len];
    shake256(input, &mut out);
    hex::encode(out)
}

#[test]
fn shake256_empty_message() {
    assert_eq!(
        shake(b"", 32),
        "46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f"
    );
}

#[test]
fn shake256_nist_example_1600_bit_message() {
    // NIST SHA-3 example values, "SHAKE256_Msg1600": M = 0xa3 repeated 200 times (two rate
    // blocks absorbed), 4096 bits of output (several squeezes).
    let msg = [0xa3u8; 200];
    let expected = concat!(
        "cd8a920ed141aa0407a22d59288652e9d9f1a7ee0c1e7c1ca699424da84a904d",
        "2d700caae7396ece96604440577da4f3aa22aeb8857f961c4cd8e06f0ae6610b",
        "1048a7f64e1074cd629e85ad7566048efc4fb500b486a3309a8f26724c0ed628",
        "001a1099422468de726f1061d99eb9e93604d5aa7467d4b1bd6484582a384317",
        "d7f47d750b8f5499512bb85a226c4243556e696f6bd072c5aa2d9b69730244b5",
        "6853d16970ad817e213e470618178001c9fb56c54fefa5fee67d2da524bb3b0b",
        "61ef0e9114a92cdbb6cccb98615cfe76e3510dd88d1cc28ff99287512f24bfaf",
        "a1a76877b6f37198e3a641c68a7c42d45fa7acc10dae5f3cefb7b735f12d4e58",
        "9f7a456e78c0f5e4c4471fffa5e4fa0514ae974d8c2648513b5db494cea84715",
        "6d277ad0e141c24c7839064cd08851bc2e7ca109fd4e251c35bb0a04fb05b364",
        "ff8c4d8b59bc303e25328c09a882e952518e1a8ae0ff265d61c465896973d749",
        "0499dc639fb8502b39456791b1b6ec5bcc5d9ac36a6df622a070d43fed781f5f",
        "149f7b62675e7d1a4d6dec48c1c7164586eae06a51208c0b791244d307726505",
        "c3ad4b26b6822377257aa152037560a739714a3ca79bd605547c9b78dd1f596f",
        "2d4f1791bc689a0e9b799a37339c04275733740143ef5d2b58b96a363d4e0807",
        "6a1a9d7846436e4dca5728b6f760eef0ca92bf0be5615e96959d767197a0beeb",
    );
    assert_eq!(shake(&msg, 512), expected);
    // An XOF's shorter output is a prefix of its longer output.
    assert_eq!(shake(&msg, 32), expected[..64]);
}

#[test]
fn shake256_cavp_short_msg_len_408() {
    // SHAKE256ShortMsg.rsp, Len = 408, [Outputlen = 256].
    let msg = unhex(concat!(
        "cfca8967eabe1aab783d5ceaf36d2c98c69af786542ad86e3bd300cdda0b5bf0",
        "11c07152474a8a25b29e152fd2c44ad73f8b0f",
    ));
    assert_eq!(
        shake(&msg, 32),
        "e560b7f45616089d76362f483f585fddc28c8a10dc785036f97ac2e39b615954"
    );
}

#[test]
fn shake256_cavp_variable_output_912_bits() {
    // SHAKE256VariableOut.rsp: 256-bit message, Outputlen = 912 (114 bytes, the Ed448
    // hash length).
    let msg = unhex("e3ef127eadfafaf40408cebb28705df30b68d99dfa1893507ef3062d85461715");
    assert_eq!(
        shake(&msg, 114),
        concat!(
            "7314002948c057006d4fc21e3e19c258fb5bdd57728fe93c9c6ef265b6d9f559",
            "ca73da32c427e135ba0db900d9003b19c9cf116f542a760418b1a435ac75ed5a",
            "b4ef151808c3849c3bce11c3cd285dd75e5c9fd0a0b32a89640a68e6e5b270f9",
            "66f33911cfdffd03488b52b4c7fd1b2219de",
        )
    );
}

// ---------------------------------------------------------------------------------------------
// RFC 3526 §4 — 3072-bit MODP group (id 15)
// ---------------------------------------------------------------------------------------------

/// The little-endian 64-bit words of a big-endian byte string (as crypto-bigint stores them).
fn be_bytes_to_le_words(bytes: &[u8]) -> Vec<u64> {
    bytes
        .rchunks(8)
        .map(|c| u64::from_be_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn rfc3526_group15_prime_constant() {
    let p = unhex(MODP3072_P_HEX);
    assert_eq!(p.len(), 384, "p is a 3072-bit (384-byte) integer");
    assert_eq!(
        hex::encode(Sha256::digest(&p)),
        "48cf8b092fbce4359d9871abf74f98e25b6163379eaa15cd9087e800c6d1c55c",
        "SHA-256 of the big-endian encoding of p"
    );
    // p = 2^3072 - 2^3008 - 1 + 2^64 * (...): the top and bottom 64 bits are all ones.
    assert_eq!(&p[..8], &[0xff; 8]);
    assert_eq!(&p[p.len() - 8..], &[0xff; 8]);
    // The group object was built from exactly this constant.
    let group = Modp3072::new();
    assert_eq!(
        group.p().as_words().to_vec(),
        be_bytes_to_le_words(&p),
        "Modp3072::p() equals MODP3072_P_HEX"
    );
}

#[test]
fn rfc3526_group15_generator_2_has_order_q() {
    let group = Modp3072::new();
    let q = group.q();
    // Values of the crate's (unexported) U3072 type, built through `From<u64>` inference.
    let one = 1u64.into();
    let two = 2u64.into();
    // q = (p - 1) / 2, i.e. 2q + 1 = p.
    assert_eq!(
        q.wrapping_add(&q).wrapping_add(&one),
        *group.p(),
        "2q + 1 = p"
    );
    assert_eq!(group.pow(&two, &one), two, "2^1 = 2");
    assert_eq!(
        group.pow(&two, &q),
        one,
        "2^q = 1: 2 lies in the order-q subgroup"
    );
    let q_minus_1 = q.wrapping_sub(&one);
    assert_ne!(group.pow(&two, &q_minus_1), one, "2^(q-1) != 1");
    // With q prime, 2^q = 1 and 2 != 1 mean 2 generates the whole order-q subgroup.
}

// ---------------------------------------------------------------------------------------------
// GCM specification, Appendix B — AES-256-GCM with a 96-bit IV
// ---------------------------------------------------------------------------------------------

struct GcmVector {
    case: u32,
    key: &'static str,
    iv: &'static str,
    plaintext: &'static str,
    aad: &'static str,
    ciphertext: &'static str,
    tag: &'static str,
}

const GCM_PT_64: &str = concat!(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72",
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
);
const GCM_CT_64: &str = concat!(
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa",
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
);
const GCM_KEY_15: &str = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";

const GCM_VECTORS: &[GcmVector] = &[
    GcmVector {
        case: 13,
        key: "0000000000000000000000000000000000000000000000000000000000000000",
        iv: "000000000000000000000000",
        plaintext: "",
        aad: "",
        ciphertext: "",
        tag: "530f8afbc74536b9a963b4f1c4cb738b",
    },
    GcmVector {
        case: 14,
        key: "0000000000000000000000000000000000000000000000000000000000000000",
        iv: "000000000000000000000000",
        plaintext: "00000000000000000000000000000000",
        aad: "",
        ciphertext: "cea7403d4d606b6e074ec5d3baf39d18",
        tag: "d0d1c8a799996bf0265b98b5d48ab919",
    },
    GcmVector {
        case: 15,
        key: GCM_KEY_15,
        iv: "cafebabefacedbaddecaf888",
        plaintext: GCM_PT_64,
        aad: "",
        ciphertext: GCM_CT_64,
        tag: "b094dac5d93471bdec1a502270e3cc6c",
    },
    GcmVector {
        case: 16,
        key: GCM_KEY_15,
        iv: "cafebabefacedbaddecaf888",
        // The first 60 bytes of test case 15's plaintext and ciphertext.
        plaintext: concat!(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72",
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        ),
        aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        ciphertext: concat!(
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa",
            "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        ),
        tag: "76fc6ece0f4e1768cddf8853bb2d551b",
    },
];

#[test]
fn gcm_spec_aes256_test_cases_13_to_16() {
    for v in GCM_VECTORS {
        let case = v.case;
        let key = arr::<32>(v.key);
        let iv = arr::<12>(v.iv);
        let pt = unhex(v.plaintext);
        let aad = unhex(v.aad);
        let mut sealed = unhex(v.ciphertext);
        sealed.extend_from_slice(&unhex(v.tag));
        assert_eq!(sealed.len(), pt.len() + TAG_LEN);

        assert_eq!(
            seal_raw(&key, &iv, &aad, &pt).map(hex::encode),
            Some(hex::encode(&sealed)),
            "test case {case}: C || T"
        );
        assert_eq!(
            open_raw(&key, &iv, &aad, &sealed),
            Some(pt.clone()),
            "test case {case}: decrypt"
        );

        // Every single-bit change to the ciphertext or tag, the AAD, the nonce or the key must
        // be refused.
        let mut bad_tag = sealed.clone();
        *bad_tag.last_mut().unwrap() ^= 0x01;
        assert_eq!(open_raw(&key, &iv, &aad, &bad_tag), None, "{case}: tag");
        if !pt.is_empty() {
            let mut bad_ct = sealed.clone();
            bad_ct[0] ^= 0x80;
            assert_eq!(open_raw(&key, &iv, &aad, &bad_ct), None, "{case}: ct");
        }
        let mut bad_aad = aad.clone();
        bad_aad.push(0);
        assert_eq!(open_raw(&key, &iv, &bad_aad, &sealed), None, "{case}: aad");
        let mut bad_iv = iv;
        bad_iv[11] ^= 0x01;
        assert_eq!(open_raw(&key, &bad_iv, &aad, &sealed), None, "{case}: iv");
        let mut bad_key = key;
        bad_key[31] ^= 0x01;
        assert_eq!(open_raw(&bad_key, &iv, &aad, &sealed), None, "{case}: key");
        // Too short to hold a tag.
        assert_eq!(open_raw(&key, &iv, &aad, &sealed[..TAG_LEN - 1]), None);
    }
}
