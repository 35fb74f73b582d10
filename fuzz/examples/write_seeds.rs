//! Writes valid example inputs for every fuzz target to `<dir>/<target>/seed-<n>`
//! (default dir: `fuzz/seeds`). Run by `scripts/fuzz.sh seeds`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/seeds")),
        PathBuf::from,
    );
    for (target, inputs) in otr_core::fuzzing::seeds() {
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
