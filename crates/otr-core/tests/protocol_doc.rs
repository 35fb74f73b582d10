//! docs/PROTOCOL.md must describe what the code does: its message-size table is regenerated
//! from real DAKEs and data messages and compared line by line, and the constants it states
//! are checked against the code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use otr_core::testing::{wire_size_markdown, wire_size_table};

fn protocol_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/PROTOCOL.md");
    std::fs::read_to_string(path).expect("docs/PROTOCOL.md exists")
}

#[test]
fn size_table_matches_the_code() {
    let doc = protocol_md();
    let table = wire_size_markdown(&wire_size_table(400));
    for line in table.lines() {
        assert!(
            doc.lines().any(|l| l.trim_end() == line.trim_end()),
            "PROTOCOL.md §11 is stale; expected a row:\n{line}\nRegenerate with the wire_sizes example."
        );
    }
}

/// Issue 19's target for a first contact, the Profile and Ciphertext messages counted: at
/// most 11,000 binary bytes and 44 lines at the 400-byte budget; and the lines that wait for
/// each other (Identity, Auth-R without the profile, Auth-I without CT_R) are 30. The
/// cached-no-PSK case sends CT_R ahead too: 23 lines in turn.
#[test]
fn first_contact_meets_the_size_target() {
    let rows = wire_size_table(400);
    let row = |name: &str| rows.iter().find(|r| r.name == name).unwrap();
    let total = row("first contact: total");
    assert!(total.binary <= 11_000, "{} bytes", total.binary);
    assert!(total.lines <= 44, "{} lines", total.lines);
    let parts = [
        "first contact: Identity",
        "first contact: Profile",
        "first contact: Ciphertext (ahead)",
        "first contact: Auth-R (sent ahead)",
        "first contact: Auth-I (sent ahead)",
    ];
    assert_eq!(
        parts.iter().map(|n| row(n).binary).sum::<usize>(),
        total.binary
    );
    assert_eq!(
        parts.iter().map(|n| row(n).lines).sum::<usize>(),
        total.lines
    );
    let in_turn = row(parts[0]).lines + row(parts[3]).lines + row(parts[4]).lines;
    assert_eq!(in_turn, 30);
    assert_eq!(row(parts[1]).lines, 7);
    assert_eq!(row(parts[2]).lines, 6);
    assert_eq!(row(parts[4]).lines, 2);
    let cached = [
        "cached, no PSK: Identity",
        "cached, no PSK: Ciphertext (ahead)",
        "cached, no PSK: Auth-R",
        "cached, no PSK: Auth-I (sent ahead)",
    ];
    assert_eq!(
        cached.iter().map(|n| row(n).binary).sum::<usize>(),
        row("cached, no PSK: total").binary
    );
    let in_turn = row(cached[0]).lines + row(cached[2]).lines + row(cached[3]).lines;
    assert_eq!(in_turn, 23);
}

/// Issue 19's repeat contact: with the ephemeral ML-KEM exchange deferred to the ratchet
/// (§6.2) the handshake's lines all fit in the first burst of ircd-hybrid's flood control (five
/// lines a client, then two every 2 s): the initiator's Identity and Auth-I plus one typed
/// line sent early, and the responder's Auth-R.
#[test]
fn repeat_contact_fits_a_servers_first_burst() {
    let rows = wire_size_table(400);
    let row = |name: &str| rows.iter().find(|r| r.name == name).unwrap();
    let identity = row("repeat contact: Identity");
    let auth_r = row("repeat contact: Auth-R");
    let auth_i = row("repeat contact: Auth-I");
    assert_eq!((identity.lines, auth_r.lines, auth_i.lines), (1, 2, 2));
    let typed = row("data: 5-byte text").lines;
    assert!(identity.lines + auth_i.lines + typed <= 5);
    assert!(auth_r.lines <= 5);
    assert!(row("repeat contact: total").binary <= 1_200);
}

#[test]
fn stated_constants_match_the_code() {
    let doc = protocol_md();
    use otr_core::crypto::kdf::Usage;
    use otr_core::limits;
    use otr_core::wire::{HEADER_LEN, MessageType, PROTOCOL_VERSION};
    assert!(doc.contains(&format!("protocol version = 0x{PROTOCOL_VERSION:04X}")));
    assert_eq!(HEADER_LEN, 11);
    for (id, name) in [
        (Usage::Fingerprint, "Fingerprint"),
        (Usage::ProfileHash, "ProfileHash"),
        (Usage::DakeTranscript, "DakeTranscript"),
        (Usage::AuthRMessage, "AuthRMessage"),
        (Usage::AuthIMessage, "AuthIMessage"),
        (Usage::SharedSecret, "SharedSecret"),
        (Usage::Ssid, "Ssid"),
        (Usage::AuthIConfirm, "AuthIConfirm"),
        (Usage::ResumptionPsk, "ResumptionPsk"),
        (Usage::ResumptionPskId, "ResumptionPskId"),
        (Usage::RootInit, "RootInit"),
        (Usage::RootStep, "RootStep"),
        (Usage::ChainNext, "ChainNext"),
        (Usage::MessageKey, "MessageKey"),
        (Usage::RingChallenge, "RingChallenge"),
        (Usage::KemBinding, "KemBinding"),
        (Usage::IdentityHash, "IdentityHash"),
        (Usage::DsaKeyHash, "DsaKeyHash"),
    ] {
        let row = format!("| 0x{:02X} | {name} |", id as u8);
        assert!(doc.contains(&row), "usage table row missing: {row}");
    }
    for (t, n) in [
        (MessageType::Data, "Data"),
        (MessageType::Identity, "Identity"),
        (MessageType::AuthR, "Auth-R"),
        (MessageType::AuthI, "Auth-I"),
        (MessageType::ProfileRequest, "Profile-Request"),
        (MessageType::Profile, "Profile"),
        (MessageType::Ciphertext, "Ciphertext"),
    ] {
        assert!(
            doc.contains(&format!("| 0x{:02x} | {n} |", t as u8)),
            "type row {n}"
        );
    }
    assert_eq!(otr_core::profile::PROFILE_LEN, 1843);
    assert!(doc.contains("A profile is 1,843 bytes"));
    assert_eq!(otr_core::profile::PROFILE_FORMAT, 0x02);
    assert!(doc.contains("BYTE    format = 0x02"));
    assert_eq!(otr_core::profile::ATTESTATION_LEN, 7219);
    assert!(doc.contains("exactly 7,219 bytes"));
    // The Profile message (§5.8): its bound, and the first characters of an Identity.
    assert_eq!(otr_core::profile::MAX_PROFILE_LEN, 1859);
    assert!(doc.contains("the rest of the message, 1–1,859 bytes"));
    let identity_start =
        otr_core::wire::envelope::encode(&[0x00, 0x50, MessageType::Identity as u8]);
    assert_eq!(identity_start, "?OTR:AFA1.");
    assert!(doc.contains("whose piece begins `?OTR:AFA1`"));
    assert_eq!(otr_core::wire::tlv::types::PROFILE_ATTESTATION, 9);
    assert!(doc.contains("9 profile\nattestation (§4.4)"));
    assert_eq!(limits::MAX_SKIP_PER_CHAIN, 1000);
    assert_eq!(limits::MAX_SKIPPED_KEYS_TOTAL, 2000);
    assert!(doc.contains("At most 1000 skipped keys per chain and 2000 per session"));
    assert_eq!(limits::MAX_INCOMPLETE_PER_PEER, 8);
    assert_eq!(limits::MAX_FRAGMENTS_PER_MESSAGE, 400);
    assert_eq!(limits::MAX_ENCODED_BYTES, 87_400);
    assert_eq!(limits::MAX_STRANGERS, 256);
    assert_eq!(limits::MAX_STRANGER_FRAGMENT_BYTES, 2 * 1024 * 1024);
    assert!(doc.contains("at most 256 are tracked (`MAX_STRANGERS`"));
    assert!(doc.contains("share 2 MiB\n(`MAX_STRANGER_FRAGMENT_BYTES`"));
    assert!(doc.contains("8\nincomplete messages (the oldest evicted), 400 fragments per message, 87,400 bytes per message"));
}

#[test]
fn smp_section_matches_the_code() {
    use otr_core::crypto::kdf::Usage;
    use otr_core::limits;
    let doc = protocol_md();
    assert!(doc.contains(&format!(
        "| 0x{:02X} | SmpChallenge |",
        Usage::SmpChallenge as u8
    )));
    assert!(doc.contains(&format!("| 0x{:02X} | SmpSecret |", Usage::SmpSecret as u8)));
    assert!(doc.contains(&format!("After {} failed runs", limits::MAX_SMP_FAILURES)));
    assert!(doc.contains(&format!(
        "question (UTF-8, <= {} bytes)",
        limits::MAX_SMP_QUESTION_BYTES
    )));
    assert!(doc.contains("(1 to 1,024 bytes)"));
    assert_eq!(limits::MAX_SMP_SECRET_BYTES, 1024);
    let policy = otr_core::session::Policy::default();
    assert!(doc.contains(&format!("`psk_max_uses` (default {})", policy.psk_max_uses)));
    assert_eq!(policy.psk_max_age_ms, 7 * 24 * 3600 * 1000);
    assert!(doc.contains("`psk_max_age_ms` (default 7"));
    let minutes = otr_core::session::Policy::default().smp_timeout_ms / 60_000;
    assert!(doc.contains(&format!("`smp_timeout_ms` ({minutes} minutes")));
}
