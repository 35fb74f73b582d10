//! Throwaway certificates for TLS tests (shared by tests/upstream and tests/e2e).

use rcgen::{BasicConstraints, Certificate, CertificateParams, IsCa, Issuer, KeyPair};

/// A self-signed CA: its certificate and the issuer that signs with it.
pub fn ca() -> (Certificate, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    (cert, Issuer::new(params, key))
}

/// A leaf certificate for `name`, signed by `issuer`, with its key.
pub fn leaf(issuer: &Issuer<'static, KeyPair>, name: &str) -> (Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .signed_by(&key, issuer)
        .unwrap();
    (cert, key)
}
