//! `otrbnc import-libotr`: moving from irssi-otr, pidgin-otr or znc-otr (libotr's files, read
//! by `otr3::keyfile`). The chosen account's DSA key becomes the identity's OTRv3 key, so
//! contacts see the fingerprint they know; the contacts that account's fingerprint file lists
//! go into one network's trust store with their verification (`smp` → verified by SMP, any
//! other word → trusted, empty → known only).
//!
//! Everything is read and checked before anything is written. The import never lowers a
//! trust already stored, and never evicts stored keys or nicks to make room for its own.

use std::io::Read;
use std::path::{Path, PathBuf};

use otr3::dsa::{FINGERPRINT_LEN, PrivateKey, fingerprint_human};
use otr3::keyfile::{self, AccountEntry, FingerprintEntry, KeyFileError};
use zeroize::Zeroizing;

use crate::cli::ImportArgs;
use crate::config::validate::is_valid_nick;
use crate::config::{Config, IdentityMode, OtrVersion};
use crate::identity::Identity;
use crate::irc::CaseMapping;
use crate::local_state::{LocalState, StateError};
use crate::store::trust::{MAX_KEYS_PER_NICK, MAX_NICK_LEN, MAX_NICKS};
use crate::store::{IdentityFile, Observation, StoreError, TrustStore};

/// Why the import stopped. Messages name files and accounts, never key material.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// `data.identity = "ephemeral"`: no key is kept to import into.
    #[error(
        "data.identity is \"ephemeral\": otrbnc keeps no key between starts, so there is nothing to import into. Set data.identity = \"persistent\" (the default) first"
    )]
    Ephemeral,
    /// `--network` names no network of the config.
    #[error("no network {name:?} in the config (it has: {known})")]
    UnknownNetwork {
        /// As given.
        name: String,
        /// The config's networks.
        known: String,
    },
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file is larger than any libotr file.
    #[error("{}: larger than {max} bytes, not a libotr file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        max: usize,
    },
    /// The key file as a whole is unreadable.
    #[error("{}: not a usable libotr private key file: {error}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: KeyFileError,
    },
    /// The key file lists no account.
    #[error("{}: the file holds no account", path.display())]
    NoAccounts {
        /// The file.
        path: PathBuf,
    },
    /// No account matches `--account` / `--protocol`.
    #[error("{}: no account {wanted}; the file holds: {available}", path.display())]
    NoSuchAccount {
        /// The file.
        path: PathBuf,
        /// What was asked for.
        wanted: String,
        /// Every account of the file.
        available: String,
    },
    /// Several accounts match and none was chosen.
    #[error("{}: the file holds several accounts ({available}): choose one with {how}", path.display())]
    SeveralAccounts {
        /// The file.
        path: PathBuf,
        /// The accounts that matched.
        available: String,
        /// The options that choose.
        how: &'static str,
    },
    /// The chosen account's key is not a valid DSA key (or is not DSA at all).
    #[error("{}: the key of account {account} cannot be imported: {problem}", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// The account, as shown to the user.
        account: String,
        /// What is wrong.
        problem: String,
    },
    /// The fingerprint file is unreadable.
    #[error("{}: not a usable libotr fingerprint file: {error}", path.display())]
    FingerprintFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: KeyFileError,
    },
    /// The fingerprint file is not UTF-8 text.
    #[error("{}: not a libotr fingerprint file (not UTF-8 text)", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// otrbnc has another OTRv3 key and `--replace` was not given.
    #[error(
        "otrbnc already has another OTRv3 key (fingerprint {current}) than the one to import ({imported}); contacts who know the current one would see a new fingerprint. Nothing was changed. To replace it anyway: --replace"
    )]
    DifferentKey {
        /// otrbnc's key, in libotr's human form.
        current: String,
        /// The imported key, in libotr's human form.
        imported: String,
    },
    /// The identity could not be opened (passphrase, permissions, damage).
    #[error("cannot open otrbnc's identity: {0}")]
    State(#[from] StateError),
    /// The network's trust store could not be opened.
    #[error("cannot open the trust store of network {network:?}: {source}")]
    Trust {
        /// The network.
        network: String,
        /// Why.
        source: StoreError,
    },
    /// The identity could not be written.
    #[error("cannot write the identity: {0}. Nothing was imported")]
    SaveKey(StoreError),
    /// The key was written but the trust store was not.
    #[error(
        "the OTRv3 key was imported, but the contacts could not be written to network {network:?}'s trust store: {source}. Run the import again"
    )]
    SaveTrust {
        /// The network.
        network: String,
        /// Why.
        source: StoreError,
    },
}

/// Most bytes read from a libotr file.
const MAX_FILE_BYTES: usize = keyfile::MAX_FILE_BYTES;

/// The account whose key is imported.
pub struct ChosenKey {
    /// Its name in the key file.
    pub account: String,
    /// Its protocol in the key file.
    pub protocol: String,
    /// The DSA key.
    pub key: PrivateKey,
}

/// How a libotr trust word maps onto the trust store; ordered from most to least trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trust {
    /// `smp`: verified with SMP.
    SmpVerified,
    /// Any other word (`manual`, `verified`, ...): trusted by hand.
    Trusted,
    /// Empty: seen, not verified.
    Known,
}

/// The trust a libotr fingerprint file's last column stands for.
pub fn trust_of(word: &str) -> Trust {
    if word.is_empty() {
        Trust::Known
    } else if word.eq_ignore_ascii_case("smp") {
        Trust::SmpVerified
    } else {
        Trust::Trusted
    }
}

/// One contact key to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The nick folded by the default case mapping (the trust store's key).
    pub nick: String,
    /// The nick as the file spells it.
    pub display: String,
    /// The contact's OTRv3 fingerprint.
    pub fingerprint: [u8; FINGERPRINT_LEN],
    /// How the old client trusted it.
    pub trust: Trust,
}

/// A fingerprint file sorted out for one account.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ContactPlan {
    /// The keys to import, most trusted first (if the store fills up, they are the ones kept).
    pub contacts: Vec<Contact>,
    /// Lines for another account or protocol.
    pub other_accounts: usize,
    /// Lines whose username is not an IRC nick.
    pub not_nicks: usize,
}

/// What happened to the contacts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ContactCounts {
    /// Stored as verified by SMP.
    pub smp_verified: usize,
    /// Stored as trusted.
    pub trusted: usize,
    /// Stored as known only.
    pub known: usize,
    /// Not stored: the store is full for them.
    pub not_stored: usize,
}

impl ContactCounts {
    fn imported(&self) -> usize {
        self.smp_verified + self.trusted + self.known
    }
}

/// What became of the OTRv3 key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    /// otrbnc had none; it has this one now.
    Installed,
    /// otrbnc had this very key already.
    Unchanged,
    /// It replaced the key with this fingerprint (`--replace`).
    Replaced {
        /// The previous key's fingerprint.
        previous: [u8; FINGERPRINT_LEN],
    },
}

/// The contacts part of a [`Report`].
#[derive(Debug)]
pub struct ContactsReport {
    /// The fingerprint file.
    pub file: PathBuf,
    /// The network whose trust store received them.
    pub network: String,
    /// Lines for other accounts and non-nicks.
    pub other_accounts: usize,
    /// Lines whose username is not an IRC nick.
    pub not_nicks: usize,
    /// What was stored.
    pub counts: ContactCounts,
}

/// What the import did, for the summary.
#[derive(Debug)]
pub struct Report {
    /// The key file.
    pub key_file: PathBuf,
    /// The account imported.
    pub account: String,
    /// Its protocol.
    pub protocol: String,
    /// The imported key's fingerprint.
    pub fingerprint: [u8; FINGERPRINT_LEN],
    /// What became of the key.
    pub key: KeyOutcome,
    /// The contacts, with `--fingerprints`.
    pub contacts: Option<ContactsReport>,
    /// Networks whose `versions` leave OTRv3 off (the key is not used there).
    pub v3_off: Vec<String>,
}

impl Report {
    /// The summary printed for the user.
    pub fn lines(&self) -> Vec<String> {
        let account = format!("{:?} ({})", self.account, self.protocol);
        let file = self.key_file.display();
        let mut out = vec![match self.key {
            KeyOutcome::Installed => {
                format!("Imported the OTRv3 key of account {account} from {file}.")
            }
            KeyOutcome::Unchanged => format!(
                "otrbnc already had the OTRv3 key of account {account} from {file}: unchanged."
            ),
            KeyOutcome::Replaced { previous } => format!(
                "Replaced otrbnc's OTRv3 key (fingerprint {}) with the key of account {account} from {file}.",
                fingerprint_human(&previous)
            ),
        }];
        out.push(format!(
            "Your OTRv3 fingerprint: {} (your old client shows the same, e.g. irssi's /otr info).",
            fingerprint_human(&self.fingerprint)
        ));
        if let Some(c) = &self.contacts {
            let n = c.counts;
            out.push(format!(
                "Contacts from {} into network {:?}: {} imported ({} verified by SMP, {} trusted, {} not verified).",
                c.file.display(),
                c.network,
                n.imported(),
                n.smp_verified,
                n.trusted,
                n.known
            ));
            if c.other_accounts > 0 {
                out.push(format!(
                    "{} line(s) for other accounts skipped.",
                    c.other_accounts
                ));
            }
            if c.not_nicks > 0 {
                out.push(format!(
                    "{} line(s) whose name is not an IRC nick skipped.",
                    c.not_nicks
                ));
            }
            if n.not_stored > 0 {
                out.push(format!(
                    "{} key(s) NOT imported: the trust store is full for them (at most {MAX_NICKS} nicks and {MAX_KEYS_PER_NICK} keys per nick; nothing stored was dropped to make room).",
                    n.not_stored
                ));
            }
        }
        if !self.v3_off.is_empty() {
            out.push(format!(
                "Note: OTRv3 is off for network(s) {} ([otr] versions): the key is used only where versions includes \"v3\".",
                self.v3_off.join(", ")
            ));
        }
        out.push(
            "otrbnc reads its identity and trust stores at start: start it now. If it was running during the import, stop it, run the import again, then start it (a running otrbnc does not see the import and may write its own copy over it)."
                .to_string(),
        );
        out.push(format!(
            "The private key is still in {file}: delete it (and its backups) once you no longer use the old client."
        ));
        out
    }
}

/// Runs the import with `config`'s store.
pub fn run(config: &Config, args: &ImportArgs) -> Result<Report, ImportError> {
    if config.data.identity == IdentityMode::Ephemeral {
        return Err(ImportError::Ephemeral);
    }
    if let Some(name) = &args.network
        && !config.networks.contains_key(name)
    {
        return Err(ImportError::UnknownNetwork {
            name: name.clone(),
            known: config
                .networks
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    // Read and check both files before anything is opened or written.
    let key_text = read_file(&args.key)?;
    let chosen = choose_key(
        &args.key,
        &key_text,
        args.account.as_deref(),
        args.protocol.as_deref(),
    )?;
    drop(key_text);
    let plan = match &args.fingerprints {
        Some(path) => {
            let bytes = read_file(path)?;
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| ImportError::NotText { path: path.clone() })?;
            let entries = keyfile::parse_fingerprints(text).map_err(|error| {
                ImportError::FingerprintFile {
                    path: path.clone(),
                    error,
                }
            })?;
            Some((
                path.clone(),
                plan_contacts(&entries, &chosen.account, &chosen.protocol),
            ))
        }
        None => None,
    };

    let policy = crate::network::otr::policy(&config.otr);
    let state = LocalState::open(&config.data, &policy)?;
    let Some(file) = &state.identity_file else {
        return Err(ImportError::Ephemeral);
    };
    // The trust store is opened (and so checked) before the key is written.
    let mut trust = match (&args.network, &plan) {
        (Some(network), Some(_)) => Some((
            network.clone(),
            state
                .trust_for(network)
                .map_err(|source| ImportError::Trust {
                    network: network.clone(),
                    source,
                })?,
        )),
        _ => None,
    };
    let key = install_key(&state.identity, file, &chosen.key, args.replace)?;
    let contacts = match (&mut trust, plan) {
        (Some((network, store)), Some((path, plan))) => {
            let counts = apply_contacts(&plan, store, crate::network::now_ms() / 1000);
            store.save().map_err(|source| ImportError::SaveTrust {
                network: network.clone(),
                source,
            })?;
            Some(ContactsReport {
                file: path,
                network: network.clone(),
                other_accounts: plan.other_accounts,
                not_nicks: plan.not_nicks,
                counts,
            })
        }
        _ => None,
    };
    let v3_off = config
        .networks
        .iter()
        .filter(|(name, n)| {
            args.network.as_ref().is_none_or(|want| want == *name)
                && !n
                    .otr_versions
                    .as_ref()
                    .unwrap_or(&config.otr.versions)
                    .contains(&OtrVersion::V3)
        })
        .map(|(name, _)| name.clone())
        .collect();
    Ok(Report {
        key_file: args.key.clone(),
        account: chosen.account,
        protocol: chosen.protocol,
        fingerprint: chosen.key.public().fingerprint(),
        key,
        contacts,
        v3_off,
    })
}

/// Reads a libotr file of at most [`MAX_FILE_BYTES`] (a key file holds private keys: the
/// buffer is wiped on drop and sized up front so that no unwiped copy is left behind).
fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let read = |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let len = file.metadata().map_err(read)?.len();
    let too_large = || ImportError::TooLarge {
        path: path.to_path_buf(),
        max: MAX_FILE_BYTES,
    };
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= MAX_FILE_BYTES)
        .ok_or_else(too_large)?;
    let mut buf = Zeroizing::new(Vec::with_capacity(len.saturating_add(1)));
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(read)?;
    if buf.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(buf)
}

/// An account as shown to the user.
fn label(e: &AccountEntry) -> String {
    match (&e.account, &e.protocol) {
        (Some(a), Some(p)) => format!("{a:?} ({p})"),
        (Some(a), None) => format!("{a:?}"),
        _ => format!("#{} (its name cannot be read)", e.index + 1),
    }
}

/// The account's problem without the "account N:" the file-level error adds.
fn problem_of(e: &KeyFileError) -> String {
    match e {
        KeyFileError::Account { problem, .. } => (*problem).to_string(),
        KeyFileError::AccountKey { error, .. } => error.to_string(),
        other => other.to_string(),
    }
}

/// Picks the account to import from a key file: the one matching `account` and `protocol`
/// (each optional), which must be unique; with neither, the file's only account.
pub fn choose_key(
    path: &Path,
    text: &[u8],
    account: Option<&str>,
    protocol: Option<&str>,
) -> Result<ChosenKey, ImportError> {
    let entries = keyfile::parse_key_file_accounts(text).map_err(|error| ImportError::KeyFile {
        path: path.to_path_buf(),
        error,
    })?;
    if entries.is_empty() {
        return Err(ImportError::NoAccounts {
            path: path.to_path_buf(),
        });
    }
    let labels = |es: &[AccountEntry]| es.iter().map(label).collect::<Vec<_>>().join(", ");
    let available = labels(&entries);
    let mut picked: Vec<AccountEntry> = entries
        .into_iter()
        .filter(|e| {
            account.is_none_or(|a| e.account.as_deref() == Some(a))
                && protocol.is_none_or(|p| e.protocol.as_deref() == Some(p))
        })
        .collect();
    if picked.len() > 1 {
        let first = picked.first().map(|e| (&e.account, &e.protocol));
        let same = picked
            .iter()
            .all(|e| Some((&e.account, &e.protocol)) == first);
        if same && first.is_some_and(|(a, p)| a.is_some() && p.is_some()) {
            return Err(ImportError::BadKey {
                path: path.to_path_buf(),
                account: picked.first().map(label).unwrap_or_default(),
                problem: "the file holds two keys for it".to_string(),
            });
        }
        return Err(ImportError::SeveralAccounts {
            path: path.to_path_buf(),
            available: labels(&picked),
            how: if account.is_some() {
                "--protocol"
            } else {
                "--account (and --protocol if a name appears twice)"
            },
        });
    }
    let Some(entry) = picked.pop() else {
        let wanted = match (account, protocol) {
            (Some(a), Some(p)) => format!("{a:?} ({p})"),
            (Some(a), None) => format!("{a:?}"),
            (None, Some(p)) => format!("with protocol {p}"),
            (None, None) => String::new(),
        };
        return Err(ImportError::NoSuchAccount {
            path: path.to_path_buf(),
            wanted,
            available,
        });
    };
    let shown = label(&entry);
    let bad = |problem: String| ImportError::BadKey {
        path: path.to_path_buf(),
        account: shown.clone(),
        problem,
    };
    let key = entry.key.map_err(|e| bad(problem_of(&e)))?;
    let (Some(account), Some(protocol)) = (entry.account, entry.protocol) else {
        return Err(bad("its name or protocol cannot be read".to_string()));
    };
    Ok(ChosenKey {
        account,
        protocol,
        key,
    })
}

/// The fingerprint file's lines for `account` and `protocol`, folded and mapped; the rest
/// counted.
pub fn plan_contacts(entries: &[FingerprintEntry], account: &str, protocol: &str) -> ContactPlan {
    let mut plan = ContactPlan::default();
    for e in entries {
        if e.account != account || e.protocol != protocol {
            plan.other_accounts += 1;
        } else if !is_valid_nick(&e.username) {
            plan.not_nicks += 1;
        } else {
            plan.contacts.push(Contact {
                nick: CaseMapping::default().fold(&e.username),
                display: e.username.clone(),
                fingerprint: e.fingerprint,
                trust: trust_of(&e.trust),
            });
        }
    }
    // Stable: the file's order within each level.
    plan.contacts.sort_by_key(|c| c.trust);
    plan
}

/// Stores the planned contacts as OTRv3 keys: new keys are observed, then marked verified
/// or trusted as the old client had them; a stored key's trust is only ever raised. A key
/// that would need an eviction (the store's bounds) is left out and counted.
pub fn apply_contacts(plan: &ContactPlan, trust: &mut TrustStore, now_unix: u64) -> ContactCounts {
    let mut counts = ContactCounts::default();
    let mut nicks = trust.nicks().count();
    for c in &plan.contacts {
        let keys = trust.keys(&c.nick);
        let hex = hex::encode_upper(c.fingerprint);
        let stored = keys.iter().any(|k| k.fingerprint == hex);
        let new_nick = keys.is_empty();
        let full = if new_nick {
            nicks >= MAX_NICKS
        } else {
            keys.len() >= MAX_KEYS_PER_NICK
        };
        if c.nick.len() > MAX_NICK_LEN || (!stored && full) {
            counts.not_stored += 1;
            continue;
        }
        if let Observation::NotRemembered { .. } =
            trust.observe(&c.nick, &c.display, &c.fingerprint, now_unix)
        {
            counts.not_stored += 1;
            continue;
        }
        if new_nick {
            nicks += 1;
        }
        match c.trust {
            Trust::SmpVerified => {
                trust.set_smp_verified(&c.nick, &c.fingerprint, true);
                counts.smp_verified += 1;
            }
            Trust::Trusted => {
                trust.set_trusted(&c.nick, &c.fingerprint, true);
                counts.trusted += 1;
            }
            Trust::Known => counts.known += 1,
        }
    }
    counts
}

/// Makes `key` the identity's OTRv3 key and writes the identity; refuses to replace another
/// key unless `replace`.
pub fn install_key(
    identity: &Identity,
    file: &IdentityFile,
    key: &PrivateKey,
    replace: bool,
) -> Result<KeyOutcome, ImportError> {
    let new = key.public().fingerprint();
    let outcome = match identity.legacy_fingerprint() {
        Some(old) if old == new => return Ok(KeyOutcome::Unchanged),
        Some(old) if !replace => {
            return Err(ImportError::DifferentKey {
                current: fingerprint_human(&old),
                imported: fingerprint_human(&new),
            });
        }
        Some(previous) => KeyOutcome::Replaced { previous },
        None => KeyOutcome::Installed,
    };
    let updated = identity.with_legacy_key(key);
    file.save(&updated.to_stored())
        .map_err(ImportError::SaveKey)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests;
