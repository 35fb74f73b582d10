//! TLS upstream: verification against a CA file, pinning, refusal, and the post-quantum
//! hybrid key exchange offered by default.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

use crate::fake::{Conn, FakeServer};
use crate::pki;
use crate::{Bouncer, TestClient, write};

/// A CA and a leaf certificate for "localhost" signed by it.
struct Pki {
    ca_pem: String,
    leaf_der: CertificateDer<'static>,
    leaf_key: PrivateKeyDer<'static>,
}

fn pki() -> Pki {
    let (ca_cert, issuer) = pki::ca();
    let (leaf, leaf_key) = pki::leaf(&issuer, "localhost");
    Pki {
        ca_pem: ca_cert.pem(),
        leaf_der: leaf.der().clone(),
        leaf_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    }
}

fn acceptor(pki: &Pki) -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.leaf_der.clone()], pki.leaf_key.clone_key())
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

fn network(port: u16, extra: &str) -> String {
    format!(
        "host = \"127.0.0.1\"\nport = {port}\ntransport = \"tls\"\nnick = \"alice\"\n\
         reconnect_min_secs = 1\nreconnect_max_secs = 2\n{extra}"
    )
}

/// Accepts one TLS connection; Err when the handshake fails.
async fn accept_tls(
    server: &FakeServer,
    acceptor: &TlsAcceptor,
) -> Result<Conn<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>, String> {
    let (tcp, _) = server.listener.accept().await.unwrap();
    acceptor
        .accept(tcp)
        .await
        .map(Conn::new)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn verified_against_a_ca_file_with_the_hybrid_pq_key_exchange() {
    let pki = pki();
    let server = FakeServer::bind().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.pem", &pki.ca_pem);
    let b = Bouncer::start(&network(
        server.port,
        &format!(
            "tls_server_name = \"localhost\"\ntls_ca_file = \"{}\"",
            ca.display()
        ),
    ))
    .await;
    let mut c = accept_tls(&server, &acceptor(&pki)).await.unwrap();
    {
        let (_, session) = c.io_ref().get_ref();
        let group = session.negotiated_key_exchange_group().unwrap().name();
        assert_eq!(format!("{group:?}"), "X25519MLKEM768");
        assert_eq!(
            session.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
    }
    c.send(":srv CAP * LS :\r\n").await;
    c.welcome("alice").await;
    let mut client = TestClient::connect(b.port, "alice").await;
    client.expect(" 001 alice", 10).await;
}

#[tokio::test]
async fn an_unknown_issuer_is_refused_and_the_user_is_told() {
    let pki = pki();
    let server = FakeServer::bind().await;
    let b = Bouncer::start(&network(server.port, "tls_server_name = \"localhost\"")).await;
    let err = accept_tls(&server, &acceptor(&pki)).await.err();
    assert!(err.is_some(), "the handshake must fail without the CA");
    let mut client = TestClient::connect(b.port, "alice").await;
    let notice = client.expect("Cannot connect to test", 10).await;
    assert!(
        notice.contains("TLS") && notice.to_lowercase().contains("issuer"),
        "{notice}"
    );
}

#[tokio::test]
async fn a_wrong_name_is_refused() {
    let pki = pki();
    let server = FakeServer::bind().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.pem", &pki.ca_pem);
    // The certificate is for "localhost"; the name checked defaults to the host, 127.0.0.1.
    let _b = Bouncer::start(&network(
        server.port,
        &format!("tls_ca_file = \"{}\"", ca.display()),
    ))
    .await;
    assert!(accept_tls(&server, &acceptor(&pki)).await.is_err());
}

#[tokio::test]
async fn pinning_accepts_the_pinned_certificate_only() {
    let pki = pki();
    let pin = hex::encode(Sha256::digest(&pki.leaf_der));
    let server = FakeServer::bind().await;
    let b = Bouncer::start(&network(
        server.port,
        &format!("tls_pin_sha256 = [\"{pin}\"]"),
    ))
    .await;
    let mut c = accept_tls(&server, &acceptor(&pki)).await.unwrap();
    c.send(":srv CAP * LS :\r\n").await;
    c.welcome("alice").await;
    let mut client = TestClient::connect(b.port, "alice").await;
    client.expect(" 001 alice", 10).await;
    drop(b);

    let other = "00".repeat(32);
    let server = FakeServer::bind().await;
    let b = Bouncer::start(&network(
        server.port,
        &format!("tls_pin_sha256 = [\"{other}\"]"),
    ))
    .await;
    assert!(accept_tls(&server, &acceptor(&pki)).await.is_err());
    let mut client = TestClient::connect(b.port, "alice").await;
    let notice = client.expect("Cannot connect to test", 10).await;
    assert!(notice.contains("not pinned"), "{notice}");
}

/// SASL EXTERNAL: otrbnc presents its client certificate in the TLS handshake and answers
/// `AUTHENTICATE +` with an empty response.
#[tokio::test]
async fn sasl_external_with_a_client_certificate() {
    let pki = pki();
    // A client certificate, signed by its own CA that the server trusts.
    let (client_ca, client_issuer) = pki::ca();
    let (client_cert, client_key) = pki::leaf(&client_issuer, "alice");
    let dir = tempfile::tempdir().unwrap();
    let cert_path = write(dir.path(), "client.pem", &client_cert.pem());
    let key_path = write(dir.path(), "client.key", &client_key.serialize_pem());
    let pin = hex::encode(Sha256::digest(&pki.leaf_der));

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(client_ca.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![pki.leaf_der.clone()], pki.leaf_key.clone_key())
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let server = FakeServer::bind().await;
    let _b = Bouncer::start(&network(
        server.port,
        &format!(
            "tls_pin_sha256 = [\"{pin}\"]\ntls_client_cert = \"{}\"\ntls_client_key = \"{}\"\nsasl_mechanism = \"external\"",
            cert_path.display(),
            key_path.display()
        ),
    ))
    .await;
    let mut c = accept_tls(&server, &acceptor).await.unwrap();
    {
        let (_, session) = c.io_ref().get_ref();
        let presented = session.peer_certificates().unwrap();
        assert_eq!(
            presented.first().unwrap().as_ref(),
            client_cert.der().as_ref()
        );
    }
    c.send(":srv CAP * LS :sasl=EXTERNAL\r\n").await;
    c.expect("CAP REQ :sasl").await;
    c.send(":srv CAP * ACK :sasl\r\n").await;
    c.expect("AUTHENTICATE EXTERNAL").await;
    c.send("AUTHENTICATE +\r\n").await;
    assert_eq!(c.expect("AUTHENTICATE ").await, "AUTHENTICATE +");
    c.send(":srv 903 alice :SASL authentication successful\r\n")
        .await;
    c.expect("CAP END").await;
}
