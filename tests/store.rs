//! The persistent identity through the `otrbnc` binary: the same fingerprint across starts,
//! file modes, and a corrupt store or wrong passphrase refused with a clear message, the file
//! left byte for byte as it was.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn write_config(dir: &Path, extra_data: &str) -> std::path::PathBuf {
    let data = dir.join("data");
    let config = dir.join("otrbnc.toml");
    std::fs::write(
        &config,
        format!(
            "[listen]\naddress = \"127.0.0.1:1\"\npassword_hash = \"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$7M9Mz2DDn0cRK5ERVKZXg9ZqVhq0j7dPAbTe5nd5TkA\"\n\n[data]\ndir = \"{}\"\n{extra_data}\n[networks.test]\nhost = \"127.0.0.1\"\nport = 1\ntransport = \"plain\"\nnick = \"t\"\n",
            data.display()
        ),
    )
    .unwrap();
    config
}

fn otrbnc(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_otrbnc"));
    cmd.arg("--config").arg(config).args(args);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OTRBNC_") {
            cmd.env_remove(&k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn persistent_identity_keeps_its_fingerprint_and_files_are_0600() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let first = otrbnc(&config, &["fingerprint"], &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let fp = stdout(&first);
    assert_eq!(fp.len(), 112 + 13, "fingerprint {fp:?}");
    let second = otrbnc(&config, &["fingerprint"], &[]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(
        stdout(&second),
        fp,
        "the fingerprint changed between starts"
    );
    let data = dir.path().join("data");
    assert_eq!(mode(&data), 0o700);
    for f in ["identity.sealed", "store.key"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
}

#[test]
fn corrupt_identity_store_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    assert!(otrbnc(&config, &["fingerprint"], &[]).status.success());
    let path = dir.path().join("data/identity.sealed");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    for args in [&["fingerprint"][..], &["run"][..]] {
        let out = otrbnc(&config, args, &[]);
        assert!(
            !out.status.success(),
            "{args:?} started with a corrupt store"
        );
        let err = stderr(&out);
        assert!(err.contains("identity.sealed"), "{err}");
        assert!(
            err.contains("wrong passphrase, or the file is corrupted or was tampered with"),
            "{err}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "the store was modified"
        );
    }
    // Garbage instead of a store: refused as corrupt, untouched.
    std::fs::write(&path, b"not a store at all").unwrap();
    let out = otrbnc(&config, &["run"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("identity.sealed"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&path).unwrap(), b"not a store at all");
}

#[test]
fn wrong_passphrase_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let made = otrbnc(
        &config,
        &["fingerprint"],
        &[("OTRBNC_PASSPHRASE", "correct horse battery")],
    );
    assert!(made.status.success(), "{}", stderr(&made));
    let path = dir.path().join("data/identity.sealed");
    let before = std::fs::read(&path).unwrap();
    let out = otrbnc(
        &config,
        &["run"],
        &[("OTRBNC_PASSPHRASE", "wrong horse battery")],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("wrong passphrase"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let again = otrbnc(
        &config,
        &["fingerprint"],
        &[("OTRBNC_PASSPHRASE", "correct horse battery")],
    );
    assert_eq!(stdout(&again), stdout(&made));
    // No key file was created when a passphrase was given.
    assert!(!dir.path().join("data/store.key").exists());
}

#[test]
fn ephemeral_identity_writes_nothing_and_changes_every_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "identity = \"ephemeral\"\n");
    let out = otrbnc(&config, &["fingerprint"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("ephemeral"));
    assert!(!dir.path().join("data/identity.sealed").exists());
}
