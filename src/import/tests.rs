use std::path::Path;

use otr3::keyfile::{FingerprintEntry, StoredKey, parse_fingerprints, parse_private_keys};
use zeroize::Zeroizing;

use super::*;
use crate::store::sealed::TEST_PARAMS;
use crate::store::{KeyStatus, Passphrase};

/// Written by libotr 4.1.1 for account "alice@irc.example", protocol "IRC".
const ALICE_KEY: &[u8] = include_bytes!("../../crates/otr3/tests/data/libotr.private_key");
/// libotr's fingerprint of that key.
const ALICE_FP: &str = include_str!("../../crates/otr3/tests/data/libotr.fingerprint.txt");
/// Another key, account "bob@irc.example", protocol "IRC".
const BOB_KEY: &[u8] = include_bytes!("../../crates/otr3/tests/data/bob.private_key");
/// libotr's fingerprint file for alice@irc.example: bob verified by SMP, carol not verified.
const ALICE_FPS: &str = include_str!("../../crates/otr3/tests/data/otr.fingerprints");

fn path() -> &'static Path {
    Path::new("/home/alice/.irssi/otr/otr.key")
}

fn err<T>(r: Result<T, ImportError>) -> ImportError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn alice_fp() -> [u8; 20] {
    otr3::dsa::parse_fingerprint(ALICE_FP.trim()).expect("the fixture's fingerprint")
}

fn key_of(text: &[u8]) -> StoredKey {
    parse_private_keys(text).unwrap().remove(0)
}

/// A key file with these (account, protocol, key file text) accounts.
fn key_file(accounts: &[(&str, &str, &[u8])]) -> String {
    let keys: Vec<StoredKey> = accounts
        .iter()
        .map(|(a, p, text)| StoredKey {
            account: a.to_string(),
            protocol: p.to_string(),
            key: key_of(text).key,
        })
        .collect();
    otr3::keyfile::write_private_keys(&keys).to_string()
}

fn fp(n: u8) -> [u8; 20] {
    [n; 20]
}

fn line(user: &str, account: &str, protocol: &str, fp: [u8; 20], trust: &str) -> String {
    format!(
        "{user}\t{account}\t{protocol}\t{}\t{trust}\n",
        hex::encode(fp)
    )
}

#[test]
fn trust_words_map_onto_the_store() {
    assert_eq!(trust_of("smp"), Trust::SmpVerified);
    assert_eq!(trust_of("SMP"), Trust::SmpVerified);
    for word in ["manual", "verified", "yes", "smpx"] {
        assert_eq!(trust_of(word), Trust::Trusted, "{word}");
    }
    assert_eq!(trust_of(""), Trust::Known);
}

#[test]
fn the_only_account_is_chosen_with_libotrs_fingerprint() {
    let chosen = choose_key(path(), ALICE_KEY, None, None).unwrap();
    assert_eq!(
        (chosen.account.as_str(), chosen.protocol.as_str()),
        ("alice@irc.example", "IRC")
    );
    assert_eq!(chosen.key.public().fingerprint(), alice_fp());
    // Naming it works too; another name is refused with the file's accounts listed.
    let named = choose_key(path(), ALICE_KEY, Some("alice@irc.example"), Some("IRC")).unwrap();
    assert_eq!(named.key.public().fingerprint(), alice_fp());
    let e = err(choose_key(path(), ALICE_KEY, Some("e2e"), None));
    assert!(matches!(e, ImportError::NoSuchAccount { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("otr.key")
            && msg.contains("\"e2e\"")
            && msg.contains("\"alice@irc.example\" (IRC)"),
        "{msg}"
    );
}

#[test]
fn several_accounts_need_choosing_and_the_error_lists_them() {
    let text = key_file(&[
        ("alice@irc.example", "IRC", ALICE_KEY),
        ("bob@irc.example", "IRC", BOB_KEY),
    ]);
    let e = err(choose_key(path(), text.as_bytes(), None, None));
    let msg = e.to_string();
    assert!(matches!(e, ImportError::SeveralAccounts { .. }), "{msg}");
    assert!(
        msg.contains("\"alice@irc.example\" (IRC)")
            && msg.contains("\"bob@irc.example\" (IRC)")
            && msg.contains("--account"),
        "{msg}"
    );
    let bob = choose_key(path(), text.as_bytes(), Some("bob@irc.example"), None).unwrap();
    assert_eq!(bob.account, "bob@irc.example");
    assert_eq!(
        bob.key.public().fingerprint(),
        key_of(BOB_KEY).key.public().fingerprint()
    );
    assert_ne!(bob.key.public().fingerprint(), alice_fp());

    // One name under two protocols (pidgin): --protocol picks.
    let text = key_file(&[
        ("alice", "prpl-irc", ALICE_KEY),
        ("alice", "prpl-jabber", BOB_KEY),
    ]);
    let e = err(choose_key(path(), text.as_bytes(), Some("alice"), None));
    assert!(
        matches!(
            e,
            ImportError::SeveralAccounts {
                how: "--protocol",
                ..
            }
        ),
        "{e}"
    );
    let irc = choose_key(path(), text.as_bytes(), Some("alice"), Some("prpl-irc")).unwrap();
    assert_eq!(irc.key.public().fingerprint(), alice_fp());
    let irc = choose_key(path(), text.as_bytes(), None, Some("prpl-irc")).unwrap();
    assert_eq!(irc.protocol, "prpl-irc");
}

#[test]
fn refused_keys_name_the_file_and_account_and_no_key_material() {
    let good = key_file(&[("e2e", "IRC", ALICE_KEY)]);
    let rsa = good.replace("(dsa", "(rsa");
    // y no longer matches x: the key is refused.
    let y_at = good.find("(y #").unwrap() + 4;
    let mut wrong = good.clone().into_bytes();
    wrong[y_at + 2] = if wrong[y_at + 2] == b'1' { b'2' } else { b'1' };
    let wrong = String::from_utf8(wrong).unwrap();
    for (text, problem) in [
        (rsa.as_str(), "not a DSA key"),
        (wrong.as_str(), "invalid DSA"),
    ] {
        let e = err(choose_key(path(), text.as_bytes(), None, None));
        let msg = e.to_string();
        assert!(matches!(e, ImportError::BadKey { .. }), "{msg}");
        assert!(
            msg.contains("/home/alice/.irssi/otr/otr.key")
                && msg.contains("\"e2e\" (IRC)")
                && msg.contains(problem),
            "{msg}"
        );
        // No run of hex digits as long as a key number (or even a fingerprint group pair).
        let longest_hex = msg
            .split(|c: char| !c.is_ascii_hexdigit())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest_hex < 16, "{msg}");
    }
    // A broken account does not stop the import of another one.
    let account_text =
        |file: &str| file[file.find(" (account").unwrap()..file.len() - 2].to_string();
    let mixed = format!(
        "(privkeys\n{}\n{}\n)\n",
        account_text(&rsa),
        account_text(&key_file(&[("libera", "IRC", BOB_KEY)]))
    );
    let libera = choose_key(path(), mixed.as_bytes(), Some("libera"), None).unwrap();
    assert_eq!(libera.account, "libera");
    // Not a key file at all, or an empty one.
    let e = err(choose_key(path(), b"(private-keys)", None, None));
    assert!(matches!(e, ImportError::KeyFile { .. }), "{e}");
    let e = err(choose_key(path(), b"(privkeys)", None, None));
    assert!(matches!(e, ImportError::NoAccounts { .. }), "{e}");
}

#[test]
fn the_accounts_lines_are_planned_folded_with_the_most_trusted_first() {
    let mut text = ALICE_FPS.to_string();
    text.push_str(&line(
        "Dave[m]",
        "alice@irc.example",
        "IRC",
        fp(4),
        "manual",
    ));
    text.push_str(&line("erin", "other@irc.example", "IRC", fp(5), "smp"));
    text.push_str(&line("frank", "alice@irc.example", "prpl-irc", fp(6), ""));
    text.push_str(&line("#chan", "alice@irc.example", "IRC", fp(7), "smp"));
    text.push_str(&line(
        "gus@jabber.org",
        "alice@irc.example",
        "IRC",
        fp(8),
        "",
    ));
    let entries: Vec<FingerprintEntry> = parse_fingerprints(&text).unwrap();
    let plan = plan_contacts(&entries, "alice@irc.example", "IRC");
    assert_eq!(plan.other_accounts, 2);
    assert_eq!(plan.not_nicks, 2);
    let got: Vec<(&str, &str, Trust)> = plan
        .contacts
        .iter()
        .map(|c| (c.nick.as_str(), c.display.as_str(), c.trust))
        .collect();
    assert_eq!(
        got,
        [
            ("bob", "bob", Trust::SmpVerified),
            ("dave{m}", "Dave[m]", Trust::Trusted),
            ("carol", "carol", Trust::Known),
        ]
    );
    assert_eq!(plan.contacts[1].fingerprint, fp(4));
    assert_eq!(
        hex::encode(plan.contacts[0].fingerprint),
        "101112131415161718191a1b1c1d1e1f20212223"
    );
}

fn contact(nick: &str, fingerprint: [u8; 20], trust: Trust) -> Contact {
    Contact {
        nick: CaseMapping::default().fold(nick),
        display: nick.to_string(),
        fingerprint,
        trust,
    }
}

#[test]
fn contacts_are_stored_with_their_trust_which_is_never_lowered() {
    let mut store = TrustStore::memory();
    // carol's key was trusted in otrbnc already; bob has an OTRv4+ key.
    store.observe("carol", "carol", &fp(3), 10);
    store.set_trusted("carol", &fp(3), true);
    store.observe("bob", "bob", &[9u8; 56], 10);
    let plan = ContactPlan {
        contacts: vec![
            contact("bob", fp(1), Trust::SmpVerified),
            contact("Dave[m]", fp(4), Trust::Trusted),
            contact("carol", fp(3), Trust::Known),
        ],
        other_accounts: 0,
        not_nicks: 0,
    };
    let counts = apply_contacts(&plan, &mut store, 100);
    assert_eq!(
        counts,
        ContactCounts {
            smp_verified: 1,
            trusted: 1,
            known: 1,
            not_stored: 0
        }
    );
    let status = |s: &TrustStore, nick: &str, f: [u8; 20]| s.key_status(nick, &f);
    assert_eq!(
        status(&store, "bob", fp(1)),
        Some(KeyStatus {
            trusted: false,
            smp_verified: true
        })
    );
    assert_eq!(
        status(&store, "dave{m}", fp(4)),
        Some(KeyStatus {
            trusted: true,
            smp_verified: false
        })
    );
    assert_eq!(
        status(&store, "carol", fp(3)),
        Some(KeyStatus {
            trusted: true,
            smp_verified: false
        }),
        "an empty trust column does not take a stored trust away"
    );
    // Stored as OTRv3 keys beside bob's OTRv4+ key, and shown as spelt.
    assert_eq!(store.keys("bob").len(), 2);
    assert!(
        store
            .keys("bob")
            .iter()
            .any(|k| k.fingerprint == hex::encode_upper(fp(1)))
    );
    let dave = store.nicks().find(|(n, _)| *n == "dave{m}").unwrap().1;
    assert_eq!(dave.display, "Dave[m]");
    // Importing again changes nothing and adds nothing.
    let again = apply_contacts(&plan, &mut store, 200);
    assert_eq!(again, counts);
    assert_eq!(store.keys("bob").len(), 2);
    assert_eq!(store.nicks().count(), 3);
    assert!(store.is_dirty());
}

#[test]
fn a_full_store_keeps_what_it_has() {
    let mut store = TrustStore::memory();
    for i in 0..MAX_NICKS {
        store.observe(&format!("n{i}"), &format!("n{i}"), &fp(1), 10);
    }
    let mut keys = vec![];
    for i in 0..MAX_KEYS_PER_NICK {
        let mut f = fp(2);
        f[0] = u8::try_from(i).unwrap();
        keys.push(f);
        store.observe("n0", "n0", &f, 10);
    }
    assert_eq!(store.keys("n0").len(), MAX_KEYS_PER_NICK);
    let plan = ContactPlan {
        contacts: vec![
            // A new nick, verified: no room (no nick is evicted for it).
            contact("zed", fp(9), Trust::SmpVerified),
            // A new key for a nick with 16: no room.
            contact("n0", fp(8), Trust::SmpVerified),
            // A key already stored: marked.
            contact("n0", keys[3], Trust::SmpVerified),
        ],
        other_accounts: 0,
        not_nicks: 0,
    };
    let counts = apply_contacts(&plan, &mut store, 100);
    assert_eq!(
        counts,
        ContactCounts {
            smp_verified: 1,
            trusted: 0,
            known: 0,
            not_stored: 2
        }
    );
    assert_eq!(store.nicks().count(), MAX_NICKS);
    assert!(store.keys("zed").is_empty());
    assert_eq!(store.keys("n0").len(), MAX_KEYS_PER_NICK);
    assert!(store.key_status("n0", &fp(8)).is_none());
    assert!(store.is_trusted("n0", &keys[3]));
}

fn pass() -> Passphrase {
    Passphrase::new(Zeroizing::new(b"pw".to_vec())).unwrap()
}

fn reload(dir: &Path) -> Identity {
    let (_, stored, created) =
        IdentityFile::load_or_create_with_params(dir, &pass(), TEST_PARAMS, || {
            Err("must exist".into())
        })
        .unwrap();
    assert!(!created);
    Identity::from_stored(stored).unwrap()
}

#[test]
fn the_key_is_written_once_and_another_replaces_it_only_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let (file, stored, _) =
        IdentityFile::load_or_create_with_params(tmp.path(), &pass(), TEST_PARAMS, || {
            Identity::generate().map(|i| i.to_stored())
        })
        .unwrap();
    let identity = Identity::from_stored(stored).unwrap();
    let v4 = identity.fingerprint();
    let alice = key_of(ALICE_KEY).key;
    let bob = key_of(BOB_KEY).key;
    let bob_fp = bob.public().fingerprint();

    assert_eq!(
        install_key(&identity, &file, &alice, false).unwrap(),
        KeyOutcome::Installed
    );
    let identity = reload(tmp.path());
    assert_eq!(identity.legacy_fingerprint(), Some(alice_fp()));
    assert_eq!(identity.fingerprint(), v4, "the OTRv4+ keys are kept");
    let account = identity
        .account(otr_core::session::Policy::default(), 1_700_000_000_000)
        .unwrap();
    assert_eq!(account.legacy_fingerprint(), Some(alice_fp()));

    assert_eq!(
        install_key(&identity, &file, &alice, false).unwrap(),
        KeyOutcome::Unchanged
    );
    let before = std::fs::read(file.path()).unwrap();
    let e = err(install_key(&identity, &file, &bob, false));
    let msg = e.to_string();
    assert!(
        msg.contains(&fingerprint_human(&alice_fp()))
            && msg.contains(&fingerprint_human(&bob_fp))
            && msg.contains("--replace"),
        "{msg}"
    );
    assert_eq!(
        std::fs::read(file.path()).unwrap(),
        before,
        "nothing written"
    );
    assert_eq!(reload(tmp.path()).legacy_fingerprint(), Some(alice_fp()));

    assert_eq!(
        install_key(&identity, &file, &bob, true).unwrap(),
        KeyOutcome::Replaced {
            previous: alice_fp()
        }
    );
    let identity = reload(tmp.path());
    assert_eq!(identity.legacy_fingerprint(), Some(bob_fp));
    assert_eq!(identity.fingerprint(), v4);
}

fn args(key: &Path) -> ImportArgs {
    ImportArgs {
        key: key.to_path_buf(),
        fingerprints: None,
        account: None,
        protocol: None,
        network: None,
        replace: false,
    }
}

fn config(dir: &Path) -> Config {
    let mut config = Config::embedded();
    config.data.dir = Some(dir.to_path_buf());
    config.data.passphrase = Some("import test".to_string());
    config
}

#[test]
fn run_imports_key_and_contacts_into_the_store_and_reports_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let key = tmp.path().join("otr.key");
    let fps = tmp.path().join("otr.fp");
    std::fs::write(&key, ALICE_KEY).unwrap();
    let mut text = ALICE_FPS.to_string();
    text.push_str(&line("dave", "someone@else", "IRC", fp(4), "smp"));
    std::fs::write(&fps, text).unwrap();
    let mut config = config(&data);

    // Refused before anything is written: a bad key file, an unknown network, ephemeral.
    std::fs::write(tmp.path().join("bad.key"), b"(privkeys (account (name a)))").unwrap();
    let e = err(run(&config, &args(&tmp.path().join("bad.key"))));
    assert!(matches!(e, ImportError::BadKey { .. }), "{e}");
    let mut a = args(&key);
    a.fingerprints = Some(fps.clone());
    a.network = Some("nowhere".to_string());
    let e = err(run(&config, &a));
    assert!(
        matches!(e, ImportError::UnknownNetwork { .. }) && e.to_string().contains("libera"),
        "{e}"
    );
    a.network = Some("libera".to_string());
    config.data.identity = IdentityMode::Ephemeral;
    assert!(matches!(err(run(&config, &a)), ImportError::Ephemeral));
    config.data.identity = IdentityMode::Persistent;
    assert!(!data.exists(), "nothing was written by the refused runs");

    let report = run(&config, &a).unwrap();
    assert_eq!(report.key, KeyOutcome::Installed);
    assert_eq!(report.fingerprint, alice_fp());
    let c = report.contacts.as_ref().unwrap();
    assert_eq!(
        (c.counts.smp_verified, c.counts.known, c.other_accounts),
        (1, 1, 1)
    );
    let lines = report.lines().join("\n");
    for want in [
        fingerprint_human(&alice_fp()).as_str(),
        "\"alice@irc.example\" (IRC)",
        "2 imported (1 verified by SMP, 0 trusted, 1 not verified)",
        "1 line(s) for other accounts skipped",
        "start it now",
    ] {
        assert!(lines.contains(want), "{want:?} not in:\n{lines}");
    }

    // What a starting otrbnc reads: the key, and bob's key as verified by SMP.
    let policy = crate::network::otr::policy(&config.otr);
    let state = LocalState::open(&config.data, &policy).unwrap();
    assert_eq!(state.identity.legacy_fingerprint(), Some(alice_fp()));
    let trust = state.trust_for("libera").unwrap();
    let bob = parse_fingerprints(ALICE_FPS).unwrap()[0].fingerprint;
    assert_eq!(
        trust.key_status("bob", &bob),
        Some(KeyStatus {
            trusted: false,
            smp_verified: true
        })
    );
    assert!(trust.keys("dave").is_empty());
    drop(state);

    // Again: unchanged. With another key: refused without --replace.
    assert_eq!(run(&config, &a).unwrap().key, KeyOutcome::Unchanged);
    std::fs::write(&key, BOB_KEY).unwrap();
    let e = err(run(&config, &args(&key)));
    assert!(matches!(e, ImportError::DifferentKey { .. }), "{e}");
}
