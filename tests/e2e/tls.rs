//! TLS to a real server: ngircd with an `[SSL]` port (GnuTLS) and a certificate for
//! "localhost" from a test CA; two bouncers with `transport = "tls"`, verifying either
//! against the CA file (with `tls_server_name`) or by a pinned SHA-256 of the leaf. The wire
//! auditors sit between the bouncers and the TLS port: they relay and record ciphertext.

use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::pki;
use crate::require_e2e;
use crate::support::auditor::Auditor;
use crate::support::client::Client;
use crate::support::ngircd::{Ngircd, NgircdOpts, NgircdTls};
use crate::support::otrbnc::{BncConfig, OtrBnc, toml_str};
use crate::support::scenario::{self, REGISTER_TIMEOUT};
use crate::support::{secs, token};

/// The first message starts a session: allow for the whole first-contact handshake.
const FIRST: Duration = Duration::from_secs(60);
/// A message through an established session.
const NEXT: Duration = Duration::from_secs(20);

/// A CA and a leaf certificate for "localhost" signed by it, as PEM files.
struct Pki {
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    cert_file: PathBuf,
    key_file: PathBuf,
    leaf_der: Vec<u8>,
}

fn pki() -> Pki {
    use std::os::unix::fs::PermissionsExt;
    let (ca_cert, issuer) = pki::ca();
    let (leaf, leaf_key) = pki::leaf(&issuer, "localhost");
    let dir = tempfile::Builder::new()
        .prefix("otrbnc-e2e-pki-")
        .tempdir()
        .unwrap();
    // ngircd reads its files as root before switching to `nobody`; readable by all anyway
    // (a throwaway test key).
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        p
    };
    let ca_file = write("ca.pem", &ca_cert.pem());
    let cert_file = write("cert.pem", &leaf.pem());
    let key_file = write("key.pem", &leaf_key.serialize_pem());
    Pki {
        ca_file,
        cert_file,
        key_file,
        leaf_der: leaf.der().to_vec(),
        _dir: dir,
    }
}

/// The pin as the example config writes it: upper-case hex bytes separated by colons.
fn pin_of(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The key exchange group the server chose, from its first ServerHello (plaintext in TLS
/// 1.3): the `key_share` extension (a HelloRetryRequest names the group the same way).
fn server_key_share_group(s2c: &[u8]) -> Option<u16> {
    let u16_at =
        |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*s2c.get(i)?, *s2c.get(i + 1)?])) };
    // Record header (5), handshake type 2 and length (4), version (2), random (32).
    if s2c.first() != Some(&0x16) || s2c.get(5) != Some(&0x02) {
        return None;
    }
    let mut i = 5 + 4 + 2 + 32;
    i += 1 + usize::from(*s2c.get(i)?); // session id
    i += 2 + 1; // cipher suite, compression
    let end = i + 2 + usize::from(u16_at(i)?);
    i += 2;
    while i + 4 <= end {
        let (ty, len) = (u16_at(i)?, usize::from(u16_at(i + 2)?));
        if ty == 0x0033 {
            return u16_at(i + 4);
        }
        i += 4 + len;
    }
    None
}

fn group_name(g: u16) -> String {
    match g {
        0x001d => "x25519".to_string(),
        0x0017 => "secp256r1".to_string(),
        0x0018 => "secp384r1".to_string(),
        0x11ec => "X25519MLKEM768".to_string(),
        other => format!("0x{other:04x}"),
    }
}

/// How a bouncer checks the server's certificate.
#[derive(Clone, Copy)]
enum Verify {
    /// `tls_ca_file` and `tls_server_name = "localhost"`.
    CaFile,
    /// `tls_pin_sha256` only (no CA file, no server name: the host is 127.0.0.1, which the
    /// certificate does not name; the pin replaces the chain and the name check).
    Pin,
}

/// An auditor towards ngircd's TLS port and a bouncer through it; waits until ngircd
/// registered the bouncer's nick (the auditor sees only ciphertext, so it cannot tell).
async fn tls_bouncer(
    ng: &Ngircd,
    pki: &Pki,
    verify: Verify,
    nick: &str,
    peer: &str,
) -> (Auditor, OtrBnc) {
    let tls = ng.tls_addr().expect("ngircd has a TLS port");
    let aud = Auditor::start_labeled(tls, &format!("auditor for {nick} (TLS)")).await;
    let keys = match verify {
        Verify::CaFile => format!(
            "tls_ca_file = {}\ntls_server_name = \"localhost\"",
            toml_str(&pki.ca_file.display().to_string())
        ),
        Verify::Pin => format!("tls_pin_sha256 = [{}]", toml_str(&pin_of(&pki.leaf_der))),
    };
    let cfg = BncConfig::new(nick, aud.addr())
        .otr_nicks(&[peer])
        .transport("tls")
        .network_toml(&keys);
    let bnc = OtrBnc::start(cfg).await;
    ng.wait_log(
        REGISTER_TIMEOUT,
        &format!("{nick} registered over TLS"),
        |_| ng.registrations_of(nick) >= 1,
    )
    .await;
    (aud, bnc)
}

async fn tls_conversation(verify: Verify) {
    let pki = pki();
    let ng = Ngircd::start(NgircdOpts {
        tls: Some(NgircdTls {
            cert_file: pki.cert_file.clone(),
            key_file: pki.key_file.clone(),
        }),
        ..NgircdOpts::no_penalties()
    })
    .await;
    let (aud_a, bnc_a) = tls_bouncer(&ng, &pki, verify, "alice", "bob").await;
    let (aud_b, bnc_b) = tls_bouncer(&ng, &pki, verify, "bob", "alice").await;
    let mut a = scenario::attach(&bnc_a).await;
    let mut b = scenario::attach(&bnc_b).await;

    let mut to_bob = Vec::new();
    let mut to_alice = Vec::new();
    for i in 0..6 {
        let text = format!("over tls message {i} {}", token(16));
        let limit = if i == 0 { FIRST } else { NEXT };
        let (from, to): (&Client, &mut Client) = if i % 2 == 0 {
            (&a, &mut b)
        } else {
            (&b, &mut a)
        };
        from.privmsg(to.nick(), &text).await;
        let from_nick = from.nick().to_string();
        to.expect_text_from(&from_nick, &text, limit).await;
        if i % 2 == 0 {
            to_bob.push(text);
        } else {
            to_alice.push(text);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.texts_from("alice"), to_bob);
    assert_eq!(a.texts_from("bob"), to_alice);
    for c in [&a, &b] {
        assert!(
            c.otr_texts().iter().any(|t| t.contains("private")),
            "{}: never told the session is private: {:?}",
            c.label(),
            c.otr_texts()
        );
        c.assert_never_received("?OTR");
    }

    // ngircd: both connections came in over TLS 1.3, none was dropped.
    let log = ng.log();
    let tls_conns = log
        .lines()
        .filter(|l| l.contains(": initialized TLS1.3 using cipher"))
        .count();
    assert!(
        tls_conns >= 2,
        "ngircd logged {tls_conns} TLS 1.3 connections:\n{}",
        crate::support::tail(&log, 30)
    );
    assert!(
        ng.forced_disconnects().is_empty(),
        "{:?}",
        ng.forced_disconnects()
    );

    // The wire is TLS records from the first byte, and carries no IRC text at all.
    let mut needles: Vec<Vec<u8>> = to_bob
        .iter()
        .chain(to_alice.iter())
        .map(|t| t.as_bytes().to_vec())
        .collect();
    for n in [
        &b"over tls message"[..],
        b"PRIVMSG",
        b"NICK alice",
        b"NICK bob",
        b"USER alice",
        b"CAP LS",
        b"PING",
        b"irc.test",
        b"Welcome to the Internet",
        b"?OTR:",
        b"?OTR|",
    ] {
        needles.push(n.to_vec());
    }
    let refs: Vec<&[u8]> = needles.iter().map(Vec::as_slice).collect();
    for aud in [&aud_a, &aud_b] {
        assert_eq!(aud.connection_count(), 1, "the upstream reconnected");
        let conn = &aud.connections()[0];
        // A TLS handshake record (0x16), version 3.x, both ways.
        assert_eq!(&conn.c2s[..2], &[0x16, 0x03], "client→server is not TLS");
        assert_eq!(&conn.s2c[..2], &[0x16, 0x03], "server→client is not TLS");
        aud.assert_absent(&refs);
    }
    // Reported, not asserted: whether the hybrid post-quantum group is used depends on the
    // server's TLS library (GnuTLS 3.7 has no ML-KEM).
    let group = server_key_share_group(&aud_a.connections()[0].s2c);
    println!(
        "key exchange chosen by ngircd: {}",
        group.map_or("unknown".to_string(), group_name)
    );
    println!(
        "bytes on the wire: alice {} up / {} down, bob {} up / {} down",
        aud_a.client_to_server().len(),
        aud_a.server_to_client().len(),
        aud_b.client_to_server().len(),
        aud_b.server_to_client().len()
    );
}

/// Verified against the test CA, by name ("localhost").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_ngircd_with_ca_file() {
    require_e2e!();
    tls_conversation(Verify::CaFile).await;
}

/// Verified by the pinned SHA-256 of the leaf alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_ngircd_with_pinned_certificate() {
    require_e2e!();
    tls_conversation(Verify::Pin).await;
}

/// TLS records in `bytes` (one direction of a connection, from its first byte): their total
/// lengths, header included. Stops at a truncated record.
fn tls_records(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(h) = bytes.get(i..i + 5) {
        let len = 5 + usize::from(u16::from_be_bytes([h[3], h[4]]));
        if i + len > bytes.len() {
            break;
        }
        out.push(len);
        i += len;
    }
    out
}

/// A burst of 2,000 lines of 200 bytes typed at once (pacing off) goes to ngircd over TLS in
/// batches, and every line reaches the channel, in order. ngircd (GnuTLS) reads at most
/// 2,048 bytes per readable event and does not look for what GnuTLS still buffers, so a
/// batch written as 16 kB records would stall there; otrbnc's records stay within 2,048 bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_burst_arrives_whole() {
    require_e2e!();
    const LINES: usize = 2000;
    let pki = pki();
    let ng = Ngircd::start(NgircdOpts {
        tls: Some(NgircdTls {
            cert_file: pki.cert_file.clone(),
            key_file: pki.key_file.clone(),
        }),
        ..NgircdOpts::no_penalties()
    })
    .await;
    let (aud, bnc) = tls_bouncer(&ng, &pki, Verify::CaFile, "alice", "bob").await;
    let mut a = scenario::attach(&bnc).await;
    let mut watcher = Client::connect(ng.addr(), None, "watcher", "watcher", &[]).await;
    watcher.join("#burst").await;
    a.join("#burst").await;

    let tag = token(8);
    let pad = "x".repeat(170);
    let texts: Vec<String> = (0..LINES).map(|i| format!("{tag} {i:05} {pad}")).collect();
    let mut burst = Vec::new();
    for t in &texts {
        burst.extend_from_slice(format!("PRIVMSG #burst :{t}\r\n").as_bytes());
    }
    let t0 = std::time::Instant::now();
    a.send_bytes(&burst).await;
    let mine = |log: &[crate::support::client::Msg]| {
        log.iter()
            .filter(|m| m.command == "PRIVMSG" && m.is_from("alice") && m.target() == "#burst")
            .map(|m| m.text().to_string())
            .collect::<Vec<String>>()
    };
    watcher
        .wait_log(secs(30), "every line of the burst", |log| {
            mine(log).len() >= LINES
        })
        .await;
    let took = t0.elapsed();
    assert_eq!(mine(&watcher.log()), texts);

    let records = tls_records(&aud.connections()[0].c2s);
    let largest = records.iter().copied().max().unwrap_or(0);
    println!(
        "{LINES} lines of {} bytes over TLS in {took:?}: {} records from otrbnc, the largest {largest} bytes",
        burst.len() / LINES,
        records.len()
    );
    // The plaintext of a TLS 1.3 record is its length less the header (5), the inner content
    // type (1) and the AEAD tag (16): ngircd takes in at most 2,048 bytes of it per read.
    assert!(
        largest.saturating_sub(5 + 1 + 16) <= 2048,
        "a TLS record of {largest} bytes"
    );
    // One record per line would be more than LINES records.
    assert!(
        records.len() < LINES,
        "{} records for {LINES} lines: not batched",
        records.len()
    );
    assert!(
        ng.forced_disconnects().is_empty(),
        "{:?}",
        ng.forced_disconnects()
    );
}
