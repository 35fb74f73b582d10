//! rustls client configuration: the aws-lc-rs provider (whose default key exchange list
//! starts with the hybrid X25519MLKEM768 when `prefer-post-quantum` is on), web roots plus an
//! optional CA file, optional pinning of the leaf certificate by SHA-256, optional client
//! certificate for SASL EXTERNAL.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::config::Network;
use crate::config::validate::parse_pin;

/// The crypto provider otrbnc uses for every TLS connection.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// SHA-256 of a DER certificate, as pinned in `tls_pin_sha256`.
pub fn cert_sha256(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// Largest TLS record otrbnc writes (rustls counts the 5-byte header in it, so the plaintext
/// of a record stays below 2,048 bytes). ngircd (GnuTLS) reads at most
/// 2,048 bytes (`READBUFFER_LEN`) per readable event and never asks GnuTLS for what it still
/// holds (no `gnutls_record_check_pending`): the rest of a bigger record would sit unread
/// until the socket became readable again. A record that fits one read is consumed whole and
/// the next stays in the socket, readable, so many lines can be written in one flush.
pub const MAX_RECORD: usize = 2048;

/// Builds the client config for one network.
pub fn client_config(net: &Network) -> Result<ClientConfig, String> {
    let mut config = base_config(net)?;
    config.max_fragment_size = Some(MAX_RECORD);
    Ok(config)
}

fn base_config(net: &Network) -> Result<ClientConfig, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if net.tls_pin_sha256.is_empty() {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &net.tls_ca_file {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        builder.with_root_certificates(roots)
    } else {
        let pins = net
            .tls_pin_sha256
            .iter()
            .filter_map(|p| parse_pin(p))
            .collect();
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedVerifier {
                pins,
                algorithms: provider.signature_verification_algorithms,
            }))
    };
    match (&net.tls_client_cert, &net.tls_client_key) {
        (Some(cert), Some(key)) => {
            let certs = CertificateDer::pem_file_iter(cert)
                .map_err(|e| format!("{}: {e}", cert.display()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: {e}", cert.display()))?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| e.to_string())
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// Accepts exactly the pinned leaf certificates (ZNC's "trusted server fingerprints"): the
/// pin replaces the CA chain and the name check; handshake signatures are still verified.
#[derive(Debug)]
struct PinnedVerifier {
    pins: Vec<[u8; 32]>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest = cert_sha256(end_entity);
        if self.pins.iter().any(|p| p == &digest) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "certificate SHA-256 {} is not pinned",
                hex::encode(digest)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
