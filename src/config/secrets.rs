//! `listen.password_file`: the listener password from a file (a Docker or systemd secret), so
//! it need not sit in the config file or the environment, where `docker inspect` shows it.

use std::path::Path;

use super::{Config, ConfigError};
use crate::store::files;

/// Largest password file read (a password or a PHC string is far shorter).
const MAX_PASSWORD_FILE_LEN: u64 = 4096;

impl Config {
    /// Reads `listen.password_file`, if set, into `listen.password_hash`: the file holds the
    /// password (hashed here with Argon2id, as `otrbnc hash-password` does) or already its
    /// Argon2id hash. Like the passphrase file, it must not be accessible to other users
    /// (its group may read it); a trailing line break is ignored. Afterwards only `password_hash` is set.
    pub fn resolve_password_file(&mut self) -> Result<(), ConfigError> {
        let Some(path) = self.listen.password_file.take() else {
            return Ok(());
        };
        let hash = hash_from_file(&path).map_err(|reason| ConfigError::Invalid {
            key: "listen.password_file".to_string(),
            reason,
        })?;
        self.listen.password_hash = Some(hash);
        Ok(())
    }
}

/// The Argon2id hash for the password in `path` (or the hash it holds).
fn hash_from_file(path: &Path) -> Result<String, String> {
    let mut bytes = files::read_secret(path, MAX_PASSWORD_FILE_LEN).map_err(|e| e.to_string())?;
    while bytes.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        bytes.pop();
    }
    let text =
        std::str::from_utf8(&bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
    if text.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    if text.starts_with("$argon2") {
        crate::password::check_hash_format(text)
            .map_err(|e| format!("{} holds a password hash that is {e}", path.display()))?;
        return Ok(text.to_string());
    }
    // `text` borrows the buffer `read_secret` wipes on drop: no other copy is made.
    crate::password::hash(text)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::password::Verifier;

    fn secret_file(dir: &Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn config_with(file: &Path) -> Config {
        let mut c = Config::embedded();
        c.listen.password_file = Some(file.to_path_buf());
        c
    }

    #[test]
    fn a_password_in_the_file_is_hashed_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        // Group-readable is fine (a container's user may read it through its group).
        let f = secret_file(dir.path(), "pw", "correct horse\n", 0o640);
        let mut c = config_with(&f);
        c.validate().unwrap();
        c.resolve_password_file().unwrap();
        assert!(c.listen.password_file.is_none());
        let v = Verifier::new(c.listen.password_hash.clone().unwrap()).unwrap();
        assert!(v.verify(b"correct horse"));
        assert!(!v.verify(b"correct horse\n"));
        assert!(!v.verify(b"correct hors"));
    }

    #[test]
    fn a_hash_in_the_file_is_used_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let h = crate::password::hash("battery staple").unwrap();
        let f = secret_file(dir.path(), "pw", &format!("{h}\r\n"), 0o400);
        let mut c = config_with(&f);
        c.resolve_password_file().unwrap();
        assert_eq!(c.listen.password_hash.as_deref(), Some(h.as_str()));
    }

    #[test]
    fn unusable_files_are_refused_with_the_key_named() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (secret_file(dir.path(), "world", "pw", 0o644), "other users"),
            (
                secret_file(dir.path(), "groupw", "pw", 0o660),
                "other users",
            ),
            (secret_file(dir.path(), "empty", "\n", 0o600), "is empty"),
            (
                secret_file(
                    dir.path(),
                    "badhash",
                    "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
                    0o600,
                ),
                "not argon2id",
            ),
            (
                secret_file(dir.path(), "long", &"x".repeat(5000), 0o600),
                "larger than",
            ),
            (dir.path().join("missing"), "cannot access"),
        ];
        for (path, want) in cases {
            let mut c = config_with(&path);
            let e = c.resolve_password_file().unwrap_err().to_string();
            assert!(
                e.starts_with("listen.password_file: ") && e.contains(want),
                "{}: {e}",
                path.display()
            );
            // Nothing was set from a refused file.
            assert!(c.listen.password_hash.is_none());
        }
    }
}
