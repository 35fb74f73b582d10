//! SECURITY.md's claims each name tests, and those tests exist (as `#[test]` or
//! `#[tokio::test]` functions somewhere in the workspace, so `cargo test` runs them).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

fn rust_sources(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() && name != "target" && !name.starts_with('.') {
            rust_sources(&p, out);
        } else if name.ends_with(".rs") {
            out.push(std::fs::read_to_string(&p).unwrap_or_default());
        }
    }
}

/// Whether `name` is a test function: `fn name(` preceded (within a few lines) by a test
/// attribute.
fn is_test(sources: &[String], name: &str) -> bool {
    let needle = format!("fn {name}(");
    sources.iter().any(|src| {
        let lines: Vec<&str> = src.lines().collect();
        lines.iter().enumerate().any(|(i, l)| {
            l.contains(&needle)
                && lines[i.saturating_sub(3)..i]
                    .iter()
                    .any(|a| a.contains("#[test]") || a.contains("#[tokio::test"))
        })
    })
}

#[test]
fn every_claim_names_tests_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("SECURITY.md")).unwrap();
    let mut sources = Vec::new();
    for d in ["src", "tests", "crates", "benches"] {
        rust_sources(&root.join(d), &mut sources);
    }
    let claims: Vec<&str> = doc.lines().filter(|l| l.starts_with("- C")).collect();
    assert!(claims.len() >= 25, "only {} claims found", claims.len());
    for claim in claims {
        let (_, tests) = claim
            .split_once(" Test: ")
            .or_else(|| claim.split_once(" Tests: "))
            .unwrap_or_else(|| panic!("claim without a test: {claim}"));
        let names: Vec<&str> = tests
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, n)| n)
            .collect();
        assert!(!names.is_empty(), "claim without a test name: {claim}");
        for n in names {
            assert!(
                is_test(&sources, n),
                "SECURITY.md names `{n}`, which is not a test"
            );
        }
    }
}
