//! Writes the seeds of otr-core's fuzz targets (`otr_core::fuzzing::seeds()`) to
//! `<dir>/<target>/seed-<n>`, replacing that target's directory (`scripts/fuzz.sh seeds` runs
//! it; it needs neither the fuzz crate nor the bouncer). Only the targets named after the
//! directory, if any.
//!
//! Run: `cargo run --release -p otr-core --features test-utils --example write_fuzz_seeds -- fuzz/seeds dake_messages`

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let dir = args
        .next()
        .map_or_else(|| PathBuf::from("fuzz/seeds"), PathBuf::from);
    let only: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    for (target, inputs) in otr_core::fuzzing::seeds() {
        if !only.is_empty() && !only.iter().any(|t| t == target) {
            continue;
        }
        let d = dir.join(target);
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
        std::fs::create_dir_all(&d)?;
        let mut total = 0;
        for (i, input) in inputs.iter().enumerate() {
            std::fs::write(d.join(format!("seed-{i:02}")), input)?;
            total += input.len();
        }
        println!("{target}: {} seeds, {total} bytes", inputs.len());
    }
    Ok(())
}
