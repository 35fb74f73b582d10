//! The listener password: stored as an Argon2id PHC string, verified in constant time.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2};

/// Hashes a password for `listen.password_hash` (Argon2id, the crate's default cost:
/// 19 MiB, 2 passes).
pub fn hash(password: &str) -> Result<String, String> {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `hash` is an Argon2id PHC string we can verify against.
pub fn check_hash_format(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash)
        .map_err(|e| format!("not a PHC hash string ({e}); use `otrbnc hash-password`"))?;
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return Err(format!(
            "algorithm {} is not argon2id; use `otrbnc hash-password`",
            parsed.algorithm
        ));
    }
    Ok(())
}

/// A verified password hash, parsed once.
pub struct Verifier {
    phc: String,
}

impl Verifier {
    /// Wraps a hash already checked by [`check_hash_format`].
    pub fn new(phc: String) -> Result<Self, String> {
        check_hash_format(&phc)?;
        Ok(Verifier { phc })
    }

    /// Whether `password` matches. Argon2 compares the derived output in constant time; the
    /// cost is the same for every wrong password.
    pub fn verify(&self, password: &[u8]) -> bool {
        match PasswordHash::new(&self.phc) {
            Ok(h) => Argon2::default().verify_password(password, &h).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash("correct horse").unwrap();
        check_hash_format(&h).unwrap();
        let v = Verifier::new(h).unwrap();
        assert!(v.verify(b"correct horse"));
        assert!(!v.verify(b"correct hors"));
        assert!(!v.verify(b""));
    }

    #[test]
    fn refuses_other_formats() {
        assert!(check_hash_format("hunter2").is_err());
        assert!(
            check_hash_format("$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng")
                .is_err()
        );
    }
}
