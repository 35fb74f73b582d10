//! What we know about our contacts' keys, one sealed file per network:
//! `<data dir>/trust-<network>.sealed`.
//!
//! Per (case-folded) nick: every key fingerprint seen, when it was first and last seen, whether
//! the user trusts it by hand or verified it with SMP, and the peer's last verified client
//! profile with its ML-DSA-87 attestation once that arrived. Also the nicks the user opted in (`enable`, `start`, and the nicks they follow
//! through NICK changes) and the policy toggles changed with `*otr policy`, so that both hold
//! after a restart. The payload is JSON (`{"version":1,"nicks":{...},"opted":{...},"policy":
//! {...}}`) inside the seal; files written before `opted` and `policy` existed read as empty.
//!
//! Bounds keep a hostile network from growing the file without limit: at most
//! [`MAX_NICKS`] nicks of at most [`MAX_NICK_LEN`] bytes, [`MAX_KEYS_PER_NICK`] keys per nick
//! and one profile of at most `MAX_PROFILE_LEN` bytes (with one attestation of
//! `ATTESTATION_LEN` bytes) per nick. When a bound is reached, the
//! least recently seen key (or nick) that is neither trusted nor verified makes room; trusted
//! and verified keys are never dropped to make room. If nothing can be dropped the new key is
//! not remembered ([`Observation::NotRemembered`]) and so never becomes trusted by accident.
//! Within these bounds the payload stays under [`MAX_PAYLOAD_LEN`] (checked by a test), so a
//! store we wrote can always be read back.
//!
//! Profiles of format 0x01 (stored before format 0x02) are read too, once: opening the store
//! moves the trust of each one's key to its new fingerprint and drops the profile
//! (`migrate_v1`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use otr_core::profile::{ATTESTATION_LEN, FINGERPRINT_LEN, MAX_PROFILE_LEN, MAX_V1_PROFILE_LEN};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::sealed::{KdfParams, SealedFile};
use super::{Passphrase, StoreError, files};

mod migrate_v1;

/// Most nicks remembered per network.
pub const MAX_NICKS: usize = 4096;
/// Most keys remembered per nick.
pub const MAX_KEYS_PER_NICK: usize = 16;
/// Longest nick (folded or displayed) remembered, in bytes.
pub const MAX_NICK_LEN: usize = 64;
/// Most opted-in nicks remembered per network (a server forging NICK changes must not grow
/// the file without limit).
pub const MAX_OPTED: usize = 1024;
/// Largest trust payload read or written (a full store is about 70 MB).
pub const MAX_PAYLOAD_LEN: usize = super::sealed::MAX_PAYLOAD_LEN;
/// The JSON model version this code writes and reads.
const MODEL_VERSION: u32 = 1;
/// Length of an OTRv4+ fingerprint in hex.
const FINGERPRINT_HEX_LEN: usize = 2 * FINGERPRINT_LEN;
/// Length of an OTRv3 (DSA, SHA-1) fingerprint in hex.
const LEGACY_FINGERPRINT_HEX_LEN: usize = 2 * otr3::dsa::FINGERPRINT_LEN;

/// One key fingerprint seen for a nick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownKey {
    /// Upper-case hex, no spaces: 112 digits for an OTRv4+ key, 40 for an OTRv3 (DSA) key.
    /// The two kinds are separate: a nick's OTRv3 key is never a "change" of its OTRv4+ key.
    pub fingerprint: String,
    /// When first seen (Unix seconds).
    pub first_seen: u64,
    /// When last seen (Unix seconds).
    pub last_seen: u64,
    /// Trusted by hand.
    pub trusted: bool,
    /// Verified with SMP.
    pub smp_verified: bool,
    /// The holder of this key verified us with SMP (our answer to their question matched).
    /// Informational: it does not make the key trusted.
    #[serde(default)]
    pub verified_us: bool,
}

impl KnownKey {
    fn vouched(&self) -> bool {
        self.trusted || self.smp_verified
    }
}

/// Everything known about one nick.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NickTrust {
    /// The nick as last seen (not folded).
    pub display: String,
    /// Keys seen for it.
    pub fingerprints: Vec<KnownKey>,
    /// Base64 of the peer's last verified client profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Base64 of the peer's verified attestation of that profile (its ML-DSA-87 key and
    /// signature), once it arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
}

/// The trust status of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyStatus {
    /// Trusted by hand.
    pub trusted: bool,
    /// Verified with SMP.
    pub smp_verified: bool,
}

/// What [`TrustStore::observe`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// The first key ever seen for this nick (now remembered).
    New,
    /// This key was seen for this nick before.
    Known {
        /// Trusted by hand.
        trusted: bool,
        /// Verified with SMP.
        smp_verified: bool,
    },
    /// The nick had other keys, and this one is new (now remembered).
    Changed {
        /// Whether one of the nick's other keys was trusted or verified.
        previous_trusted_or_verified: bool,
    },
    /// The key is new and could not be remembered: every key of the nick (or, for a new
    /// nick, every nick) that could make room is trusted or verified, or the nick is longer
    /// than [`MAX_NICK_LEN`]. Treat it as unverified; with `first_key == false` it is a
    /// change from a trusted or verified key.
    NotRemembered {
        /// The nick had no remembered keys.
        first_key: bool,
    },
}

/// The policy toggles the user changed at run time (`*otr policy`), over the config's values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyToggles {
    /// `allow_plain_notice`, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_plain_notice: Option<bool>,
    /// `allow_plain_ctcp`, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_plain_ctcp: Option<bool>,
    /// `accept_strangers`, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_strangers: Option<bool>,
    /// `hold_first_contact`, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_first_contact: Option<bool>,
}

/// Why an opt-in cannot be remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OptInError {
    /// It would pass [`MAX_OPTED`].
    #[error("{MAX_OPTED} nicks are opted in already; disable some first")]
    Full,
    /// Not a nick (the file must stay readable).
    #[error("not a valid nick")]
    InvalidNick,
}

/// The serialised model.
#[derive(Default, Serialize, Deserialize)]
struct Model {
    version: u32,
    nicks: BTreeMap<String, NickTrust>,
    /// Opted-in nicks: folded → as typed.
    #[serde(default)]
    opted: BTreeMap<String, String>,
    #[serde(default)]
    policy: PolicyToggles,
    /// Channels joined at run time: folded → as spelt, with the key.
    #[serde(default)]
    channels: BTreeMap<String, StoredChannel>,
    /// Per-nick OTRv3 setting (`*otr versions`): folded nick → OTRv3 allowed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    nick_v3: BTreeMap<String, bool>,
    /// Nicks whose decrypted conversations are written to the message log
    /// (`*otr policy <nick> log on`): folded.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    logged: std::collections::BTreeSet<String>,
}

/// A channel the user joined at run time, kept to be joined again after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredChannel {
    /// The name as spelt.
    pub name: String,
    /// Its key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The trust store of one network: the model in memory, and (unless it is a memory-only
/// store) the sealed file it is saved to.
pub struct TrustStore {
    model: Model,
    file: Option<SealedFile>,
    dirty: AtomicBool,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field("path", &self.file.as_ref().map(SealedFile::path))
            .field("nicks", &self.model.nicks.len())
            .finish_non_exhaustive()
    }
}

impl TrustStore {
    /// A store that is never written (ephemeral mode, tests).
    pub fn memory() -> TrustStore {
        TrustStore {
            model: Model {
                version: MODEL_VERSION,
                nicks: BTreeMap::new(),
                opted: BTreeMap::new(),
                policy: PolicyToggles::default(),
                channels: BTreeMap::new(),
                nick_v3: BTreeMap::new(),
                logged: std::collections::BTreeSet::new(),
            },
            file: None,
            dirty: AtomicBool::new(false),
        }
    }

    /// The file name of `network`'s trust store, refusing names that could leave the
    /// directory or clash (anything but `A-Z a-z 0-9 _ . -`, or containing `..`).
    pub fn file_name(network: &str) -> Result<String, StoreError> {
        let ok = !network.is_empty()
            && network.len() <= 64
            && !network.contains("..")
            && network
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return Err(StoreError::InvalidName {
                name: network.to_string(),
            });
        }
        Ok(format!("trust-{network}.sealed"))
    }

    /// Opens `<dir>/trust-<network>.sealed`, or starts an empty store if there is none (its
    /// file is written by the first save). A file that is there but cannot be decrypted or
    /// parsed is an error and is left untouched.
    pub fn open_or_create(
        dir: &Path,
        network: &str,
        pass: &Passphrase,
    ) -> Result<TrustStore, StoreError> {
        TrustStore::open_or_create_with_params(dir, network, pass, KdfParams::DEFAULT)
    }

    /// [`TrustStore::open_or_create`] with the Argon2 parameters a new file gets.
    pub fn open_or_create_with_params(
        dir: &Path,
        network: &str,
        pass: &Passphrase,
        params: KdfParams,
    ) -> Result<TrustStore, StoreError> {
        let path = dir.join(TrustStore::file_name(network)?);
        if !files::exists(&path)? {
            let file = SealedFile::create_with_params(&path, pass, params)?;
            let mut store = TrustStore::memory();
            store.file = Some(file);
            return Ok(store);
        }
        let (file, payload) = SealedFile::open(&path, pass)?;
        let mut model = parse(&payload).map_err(|reason| StoreError::corrupt(&path, reason))?;
        let changed = migrate_v1::migrate(&mut model);
        Ok(TrustStore {
            model,
            file: Some(file),
            dirty: AtomicBool::new(changed),
        })
    }

    /// The backing file, unless this is a memory-only store.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(SealedFile::path)
    }

    /// Records that `nick` (folded; `display` as seen) presented the key `fingerprint` at
    /// `now_unix`, and says how that compares with what was known.
    pub fn observe(
        &mut self,
        nick: &str,
        display: &str,
        fingerprint: &[u8],
        now_unix: u64,
    ) -> Observation {
        if nick.len() > MAX_NICK_LEN {
            return Observation::NotRemembered { first_key: true };
        }
        let fp = hex::encode_upper(fingerprint);
        let display = truncate(display, MAX_NICK_LEN);
        let new_key = KnownKey {
            fingerprint: fp,
            first_seen: now_unix,
            last_seen: now_unix,
            trusted: false,
            smp_verified: false,
            verified_us: false,
        };
        if let Some(entry) = self.model.nicks.get_mut(nick) {
            if entry.display != display {
                entry.display = display.to_string();
            }
            self.dirty.store(true, Ordering::Relaxed);
            if let Some(k) = entry
                .fingerprints
                .iter_mut()
                .find(|k| k.fingerprint == new_key.fingerprint)
            {
                k.last_seen = k.last_seen.max(now_unix);
                return Observation::Known {
                    trusted: k.trusted,
                    smp_verified: k.smp_verified,
                };
            }
            // Only keys of the same kind (OTRv4+ or OTRv3) count as before.
            let same_kind = |k: &&KnownKey| k.fingerprint.len() == new_key.fingerprint.len();
            let first_key = !entry.fingerprints.iter().any(|k| same_kind(&k));
            let previous = entry
                .fingerprints
                .iter()
                .filter(same_kind)
                .any(KnownKey::vouched);
            if entry.fingerprints.len() >= MAX_KEYS_PER_NICK {
                let evict = entry
                    .fingerprints
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| !k.vouched())
                    .min_by_key(|(_, k)| k.last_seen)
                    .map(|(i, _)| i);
                match evict {
                    Some(i) => {
                        entry.fingerprints.remove(i);
                    }
                    None => return Observation::NotRemembered { first_key },
                }
            }
            entry.fingerprints.push(new_key);
            return if first_key {
                Observation::New
            } else {
                Observation::Changed {
                    previous_trusted_or_verified: previous,
                }
            };
        }
        if self.model.nicks.len() >= MAX_NICKS && !self.evict_a_nick() {
            return Observation::NotRemembered { first_key: true };
        }
        self.model.nicks.insert(
            nick.to_string(),
            NickTrust {
                display: display.to_string(),
                fingerprints: vec![new_key],
                profile: None,
                attestation: None,
            },
        );
        self.dirty.store(true, Ordering::Relaxed);
        Observation::New
    }

    /// Drops the least recently seen nick none of whose keys is trusted or verified; false
    /// if every nick has one.
    fn evict_a_nick(&mut self) -> bool {
        let victim = self
            .model
            .nicks
            .iter()
            .filter(|(_, t)| !t.fingerprints.iter().any(KnownKey::vouched))
            .min_by_key(|(_, t)| t.fingerprints.iter().map(|k| k.last_seen).max())
            .map(|(n, _)| n.clone());
        match victim {
            Some(n) => {
                self.model.nicks.remove(&n);
                true
            }
            None => false,
        }
    }

    /// Marks a known key trusted (or not) by hand; false if the key was never seen for
    /// this nick.
    pub fn set_trusted(&mut self, nick: &str, fingerprint: &[u8], trusted: bool) -> bool {
        self.update_key(nick, fingerprint, |k| k.trusted = trusted)
    }

    /// Marks a known key SMP-verified (or not); false if the key was never seen for this
    /// nick.
    pub fn set_smp_verified(&mut self, nick: &str, fingerprint: &[u8], verified: bool) -> bool {
        self.update_key(nick, fingerprint, |k| k.smp_verified = verified)
    }

    /// Records that the holder of this key verified us with SMP.
    pub fn set_verified_us(&mut self, nick: &str, fingerprint: &[u8]) -> bool {
        self.update_key(nick, fingerprint, |k| k.verified_us = true)
    }

    /// Whether the holder of this key verified us with SMP.
    pub fn verified_us(&self, nick: &str, fingerprint: &[u8]) -> bool {
        let fp = hex::encode_upper(fingerprint);
        self.keys(nick)
            .iter()
            .any(|k| k.fingerprint == fp && k.verified_us)
    }

    fn update_key(
        &mut self,
        nick: &str,
        fingerprint: &[u8],
        change: impl FnOnce(&mut KnownKey),
    ) -> bool {
        let fp = hex::encode_upper(fingerprint);
        let Some(key) = self
            .model
            .nicks
            .get_mut(nick)
            .and_then(|t| t.fingerprints.iter_mut().find(|k| k.fingerprint == fp))
        else {
            return false;
        };
        change(key);
        self.dirty.store(true, Ordering::Relaxed);
        true
    }

    /// Whether the key is trusted by hand or SMP-verified for this nick.
    pub fn is_trusted(&self, nick: &str, fingerprint: &[u8]) -> bool {
        self.key_status(nick, fingerprint)
            .is_some_and(|s| s.trusted || s.smp_verified)
    }

    /// The key's status, if it was ever seen for this nick.
    pub fn key_status(&self, nick: &str, fingerprint: &[u8]) -> Option<KeyStatus> {
        let fp = hex::encode_upper(fingerprint);
        self.keys(nick)
            .iter()
            .find(|k| k.fingerprint == fp)
            .map(|k| KeyStatus {
                trusted: k.trusted,
                smp_verified: k.smp_verified,
            })
    }

    /// Removes everything known about `nick`; false if nothing was.
    pub fn forget(&mut self, nick: &str) -> bool {
        let removed = self.model.nicks.remove(nick).is_some();
        if removed {
            self.dirty.store(true, Ordering::Relaxed);
        }
        removed
    }

    /// Remembers that `nick` (folded; `display` as typed) is opted in (`on`) or not. Says
    /// whether anything changed.
    pub fn set_opted(&mut self, nick: &str, display: &str, on: bool) -> Result<bool, OptInError> {
        let changed = if on {
            if !crate::config::validate::is_valid_nick(display) || nick.len() > MAX_NICK_LEN {
                return Err(OptInError::InvalidNick);
            }
            if self.model.opted.get(nick).is_some_and(|d| d == display) {
                false
            } else {
                if !self.model.opted.contains_key(nick) && self.model.opted.len() >= MAX_OPTED {
                    return Err(OptInError::Full);
                }
                self.model
                    .opted
                    .insert(nick.to_string(), display.to_string());
                true
            }
        } else {
            self.model.opted.remove(nick).is_some()
        };
        if changed {
            self.dirty.store(true, Ordering::Relaxed);
        }
        Ok(changed)
    }

    /// The opted-in nicks remembered, as typed.
    pub fn opted(&self) -> impl Iterator<Item = &str> {
        self.model.opted.values().map(String::as_str)
    }

    /// The opted-in nicks remembered: (folded under the mapping then in force, as typed).
    pub fn opted_entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.model
            .opted
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Sets (or with `None` clears) whether OTRv3 is spoken with `nick` (folded); whether
    /// anything changed. Bounded like the opted-in nicks.
    pub fn set_nick_v3(&mut self, nick: &str, v3: Option<bool>) -> Result<bool, OptInError> {
        if nick.len() > MAX_NICK_LEN {
            return Err(OptInError::InvalidNick);
        }
        let changed = match v3 {
            Some(on) => {
                if self.model.nick_v3.get(nick) == Some(&on) {
                    return Ok(false);
                }
                if !self.model.nick_v3.contains_key(nick) && self.model.nick_v3.len() >= MAX_OPTED {
                    return Err(OptInError::Full);
                }
                self.model.nick_v3.insert(nick.to_string(), on);
                true
            }
            None => self.model.nick_v3.remove(nick).is_some(),
        };
        if changed {
            self.dirty.store(true, Ordering::Relaxed);
        }
        Ok(changed)
    }

    /// The per-nick OTRv3 settings: (folded nick, OTRv3 allowed).
    pub fn nick_v3(&self) -> impl Iterator<Item = (&str, bool)> {
        self.model.nick_v3.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Sets whether the decrypted conversation with `nick` (folded) is written to the
    /// message log; whether anything changed. Bounded like the opted-in nicks.
    pub fn set_logged(&mut self, nick: &str, on: bool) -> Result<bool, OptInError> {
        let changed = if on {
            if nick.is_empty() || nick.len() > MAX_NICK_LEN {
                return Err(OptInError::InvalidNick);
            }
            if !self.model.logged.contains(nick) && self.model.logged.len() >= MAX_OPTED {
                return Err(OptInError::Full);
            }
            self.model.logged.insert(nick.to_string())
        } else {
            self.model.logged.remove(nick)
        };
        if changed {
            self.dirty.store(true, Ordering::Relaxed);
        }
        Ok(changed)
    }

    /// Whether the decrypted conversation with `nick` (folded) is written to the log.
    pub fn is_logged(&self, nick: &str) -> bool {
        self.model.logged.contains(nick)
    }

    /// The nicks whose conversations are logged (folded).
    pub fn logged(&self) -> impl Iterator<Item = &str> {
        self.model.logged.iter().map(String::as_str)
    }

    /// The policy toggles changed at run time.
    pub fn policy(&self) -> PolicyToggles {
        self.model.policy
    }

    /// Remembers the policy toggles.
    pub fn set_policy(&mut self, policy: PolicyToggles) {
        if self.model.policy != policy {
            self.model.policy = policy;
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// Keeps (or updates) a channel joined at run time; whether anything changed. Bounded
    /// by the caller (`network::joins`).
    pub fn set_channel(&mut self, folded: &str, channel: StoredChannel) -> bool {
        if self.model.channels.get(folded) == Some(&channel) {
            return false;
        }
        self.model.channels.insert(folded.to_string(), channel);
        self.dirty.store(true, Ordering::Relaxed);
        true
    }

    /// Forgets a channel; whether it was kept.
    pub fn remove_channel(&mut self, folded: &str) -> bool {
        let removed = self.model.channels.remove(folded).is_some();
        if removed {
            self.dirty.store(true, Ordering::Relaxed);
        }
        removed
    }

    /// The channels joined at run time, in order.
    pub fn channels(&self) -> impl Iterator<Item = &StoredChannel> {
        self.model.channels.values()
    }

    /// The keys seen for `nick` (empty if none).
    pub fn keys(&self, nick: &str) -> &[KnownKey] {
        self.model
            .nicks
            .get(nick)
            .map(|t| t.fingerprints.as_slice())
            .unwrap_or_default()
    }

    /// Keeps the peer's verified client profile; false if the nick is unknown (observe it
    /// first) or the profile is longer than any valid one. Another profile than the one kept
    /// drops the attestation kept with it.
    pub fn set_profile(&mut self, nick: &str, profile: &[u8]) -> bool {
        if profile.len() > MAX_PROFILE_LEN {
            return false;
        }
        let Some(entry) = self.model.nicks.get_mut(nick) else {
            return false;
        };
        let encoded = STANDARD.encode(profile);
        if entry.profile.as_ref() == Some(&encoded) {
            return true;
        }
        entry.profile = Some(encoded);
        entry.attestation = None;
        self.dirty.store(true, Ordering::Relaxed);
        true
    }

    /// Keeps the peer's verified attestation of the profile kept ([`TrustStore::set_profile`]
    /// first); false if there is no profile or it has the wrong length.
    pub fn set_attestation(&mut self, nick: &str, attestation: &[u8]) -> bool {
        if attestation.len() != ATTESTATION_LEN {
            return false;
        }
        let Some(entry) = self.model.nicks.get_mut(nick) else {
            return false;
        };
        if entry.profile.is_none() {
            return false;
        }
        let encoded = STANDARD.encode(attestation);
        if entry.attestation.as_ref() != Some(&encoded) {
            entry.attestation = Some(encoded);
            self.dirty.store(true, Ordering::Relaxed);
        }
        true
    }

    /// The attestation stored with the peer's profile (to be verified again before use).
    pub fn attestation(&self, nick: &str) -> Option<Vec<u8>> {
        let b64 = self.model.nicks.get(nick)?.attestation.as_ref()?;
        STANDARD.decode(b64).ok()
    }

    /// The peer's last stored client profile (to be verified again before use).
    pub fn profile(&self, nick: &str) -> Option<Vec<u8>> {
        let b64 = self.model.nicks.get(nick)?.profile.as_ref()?;
        STANDARD.decode(b64).ok()
    }

    /// Every nick (folded) and what is known about it, in order.
    pub fn nicks(&self) -> impl Iterator<Item = (&str, &NickTrust)> {
        self.model.nicks.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// Whether there are changes not yet saved.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Relaxed)
    }

    /// Writes the store (atomically) to its file; does nothing for a memory-only store.
    pub fn save(&self) -> Result<(), StoreError> {
        let Some(file) = &self.file else {
            self.dirty.store(false, Ordering::Relaxed);
            return Ok(());
        };
        let json = serde_json::to_vec(&self.model)
            .map_err(|e| StoreError::io(file.path(), std::io::Error::other(e.to_string())))?;
        let json = Zeroizing::new(json);
        if json.len() > MAX_PAYLOAD_LEN {
            return Err(StoreError::TooLarge {
                path: file.path().to_path_buf(),
                len: json.len(),
            });
        }
        file.save(&json)?;
        self.dirty.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// [`TrustStore::save`] if anything changed since the last save; says whether it saved.
    pub fn save_if_dirty(&self) -> Result<bool, StoreError> {
        if !self.is_dirty() {
            return Ok(false);
        }
        self.save()?;
        Ok(true)
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// Parses and checks a payload. Reasons never quote the data (it holds nicks).
fn parse(payload: &[u8]) -> Result<Model, String> {
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(format!(
            "its trust data is larger than {MAX_PAYLOAD_LEN} bytes"
        ));
    }
    let model: Model = serde_json::from_slice(payload).map_err(|e| {
        format!(
            "its trust data does not parse ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        )
    })?;
    if model.version != MODEL_VERSION {
        return Err(format!(
            "its trust data has version {}, which this version of otrbnc cannot read",
            model.version
        ));
    }
    if model.nicks.len() > MAX_NICKS {
        return Err(format!("it lists more than {MAX_NICKS} nicks"));
    }
    if model.opted.len() > MAX_OPTED {
        return Err(format!("it lists more than {MAX_OPTED} opted-in nicks"));
    }
    if model.nick_v3.len() > MAX_OPTED || model.nick_v3.keys().any(|n| n.len() > MAX_NICK_LEN) {
        return Err("its per-nick OTR versions are out of bounds".to_string());
    }
    for (nick, display) in &model.opted {
        if nick.len() > MAX_NICK_LEN || !crate::config::validate::is_valid_nick(display) {
            return Err("it has an opted-in nick that is not a valid nick".to_string());
        }
    }
    for (nick, t) in &model.nicks {
        if nick.len() > MAX_NICK_LEN || t.display.len() > MAX_NICK_LEN {
            return Err(format!("it has a nick longer than {MAX_NICK_LEN} bytes"));
        }
        if t.fingerprints.len() > MAX_KEYS_PER_NICK {
            return Err(format!(
                "it has a nick with more than {MAX_KEYS_PER_NICK} keys"
            ));
        }
        for (i, k) in t.fingerprints.iter().enumerate() {
            let well_formed = (k.fingerprint.len() == FINGERPRINT_HEX_LEN
                || k.fingerprint.len() == LEGACY_FINGERPRINT_HEX_LEN)
                && k.fingerprint
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
            if !well_formed {
                return Err("it has a malformed fingerprint".to_string());
            }
            if t.fingerprints
                .iter()
                .skip(i + 1)
                .any(|o| o.fingerprint == k.fingerprint)
            {
                return Err("it lists a fingerprint twice for one nick".to_string());
            }
        }
        if let Some(p) = &t.profile {
            // Up to the format-0x01 size: `migrate_v1` replaces those after parsing.
            let ok = STANDARD
                .decode(p)
                .is_ok_and(|bytes| bytes.len() <= MAX_PROFILE_LEN.max(MAX_V1_PROFILE_LEN));
            if !ok {
                return Err("it has a malformed client profile".to_string());
            }
        }
        if let Some(a) = &t.attestation {
            let ok = STANDARD
                .decode(a)
                .is_ok_and(|bytes| bytes.len() == ATTESTATION_LEN);
            if !ok || t.profile.is_none() {
                return Err("it has a malformed profile attestation".to_string());
            }
        }
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::store::sealed::TEST_PARAMS;

    fn pass(s: &str) -> Passphrase {
        Passphrase::new(Zeroizing::new(s.as_bytes().to_vec())).unwrap()
    }

    fn fp(n: u8) -> [u8; FINGERPRINT_LEN] {
        [n; FINGERPRINT_LEN]
    }

    #[test]
    fn per_nick_otrv3_settings_are_kept_and_bounded() {
        let mut t = TrustStore::memory();
        assert_eq!(t.set_nick_v3("bob", Some(false)), Ok(true));
        assert_eq!(t.set_nick_v3("bob", Some(false)), Ok(false));
        assert_eq!(t.nick_v3().collect::<Vec<_>>(), [("bob", false)]);
        assert_eq!(t.set_nick_v3("bob", None), Ok(true));
        assert_eq!(t.nick_v3().count(), 0);
        assert_eq!(
            t.set_nick_v3(&"x".repeat(MAX_NICK_LEN + 1), Some(true)),
            Err(OptInError::InvalidNick)
        );
        for i in 0..MAX_OPTED {
            t.set_nick_v3(&format!("n{i}"), Some(true)).unwrap();
        }
        assert_eq!(t.set_nick_v3("one-more", Some(true)), Err(OptInError::Full));
        let json = serde_json::to_vec(&t.model).unwrap();
        assert_eq!(parse(&json).unwrap().nick_v3.len(), MAX_OPTED);
    }

    #[test]
    fn otrv3_keys_are_kept_beside_otrv4_keys_without_counting_as_a_change() {
        let mut t = TrustStore::memory();
        assert_eq!(t.observe("bob", "Bob", &fp(1), 10), Observation::New);
        let v3 = [9u8; 20];
        // The first OTRv3 key of a nick with an OTRv4+ key is new, not a change.
        assert_eq!(t.observe("bob", "Bob", &v3, 11), Observation::New);
        assert!(t.set_smp_verified("bob", &v3, true));
        assert!(t.is_trusted("bob", &v3));
        assert!(!t.is_trusted("bob", &fp(1)));
        // Another OTRv3 key is a change from the verified one.
        assert_eq!(
            t.observe("bob", "Bob", &[8u8; 20], 12),
            Observation::Changed {
                previous_trusted_or_verified: true
            }
        );
        assert_eq!(t.keys("bob").len(), 3);
        // Both kinds survive the round trip through the checked model.
        let json = serde_json::to_vec(&t.model).unwrap();
        let back = parse(&json).unwrap();
        assert_eq!(back.nicks.get("bob").map(|n| n.fingerprints.len()), Some(3));
    }

    fn open(dir: &Path) -> TrustStore {
        TrustStore::open_or_create_with_params(dir, "libera", &pass("pw"), TEST_PARAMS).unwrap()
    }

    #[test]
    fn opt_ins_and_policy_toggles_persist_across_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let mut t = open(tmp.path());
        assert_eq!(t.set_opted("bob", "Bob", true), Ok(true));
        assert_eq!(t.set_opted("bob", "Bob", true), Ok(false));
        assert_eq!(t.set_opted("carol", "carol", true), Ok(true));
        assert_eq!(t.set_opted("dave", "dave", false), Ok(false));
        t.set_policy(PolicyToggles {
            allow_plain_notice: Some(true),
            ..PolicyToggles::default()
        });
        t.save().unwrap();
        let mut t = open(tmp.path());
        assert_eq!(t.opted().collect::<Vec<_>>(), ["Bob", "carol"]);
        assert_eq!(
            t.opted_entries().collect::<Vec<_>>(),
            [("bob", "Bob"), ("carol", "carol")]
        );
        assert_eq!(t.policy().allow_plain_notice, Some(true));
        assert_eq!(t.policy().accept_strangers, None);
        assert_eq!(t.set_opted("carol", "carol", false), Ok(true));
        t.save().unwrap();
        assert_eq!(open(tmp.path()).opted().collect::<Vec<_>>(), ["Bob"]);
    }

    #[test]
    fn run_time_channels_and_keys_persist_and_are_sealed() {
        let tmp = tempfile::tempdir().unwrap();
        let mut t = open(tmp.path());
        let keyed = StoredChannel {
            name: "#Team".into(),
            key: Some("sekrit-key".into()),
        };
        assert!(t.set_channel("#team", keyed.clone()));
        assert!(!t.set_channel("#team", keyed.clone()));
        assert!(t.set_channel(
            "#plain",
            StoredChannel {
                name: "#plain".into(),
                key: None
            }
        ));
        t.save().unwrap();
        let mut t = open(tmp.path());
        let names: Vec<_> = t.channels().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["#plain", "#Team"]);
        assert_eq!(t.channels().nth(1), Some(&keyed));
        assert!(t.remove_channel("#plain") && !t.remove_channel("#plain"));
        t.save().unwrap();
        assert_eq!(open(tmp.path()).channels().count(), 1);
        // The key is not readable on disk.
        for f in std::fs::read_dir(tmp.path()).unwrap() {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            assert!(!bytes.windows(10).any(|w| w == b"sekrit-key"));
        }
    }

    #[test]
    fn opt_ins_are_bounded_and_must_be_nicks() {
        let mut t = TrustStore::memory();
        for i in 0..MAX_OPTED {
            assert_eq!(
                t.set_opted(&format!("n{i}"), &format!("n{i}"), true),
                Ok(true)
            );
        }
        assert_eq!(
            t.set_opted("one-more", "one_more", true),
            Err(OptInError::Full)
        );
        // Changing one already there is fine; opting out always is.
        assert_eq!(t.set_opted("n0", "N0", true), Ok(true));
        assert_eq!(t.set_opted("n1", "n1", false), Ok(true));
        assert_eq!(
            t.set_opted("#chan", "#chan", true),
            Err(OptInError::InvalidNick)
        );
        assert_eq!(
            t.set_opted("a b", "a b", true),
            Err(OptInError::InvalidNick)
        );
    }

    #[test]
    fn a_store_from_before_opt_ins_reads_as_none() {
        let old = br#"{"version":1,"nicks":{}}"#;
        let m = parse(old).unwrap();
        assert!(m.opted.is_empty());
        assert_eq!(m.policy, PolicyToggles::default());
        let bad = br##"{"version":1,"nicks":{},"opted":{"x":"#chan"}}"##;
        assert!(parse(bad).is_err());
    }

    #[test]
    fn observe_reports_new_then_known_then_changed() {
        let mut t = TrustStore::memory();
        assert_eq!(t.observe("bob", "Bob", &fp(1), 100), Observation::New);
        assert_eq!(
            t.observe("bob", "Bob", &fp(1), 200),
            Observation::Known {
                trusted: false,
                smp_verified: false
            }
        );
        assert_eq!(
            t.observe("bob", "Bob", &fp(2), 300),
            Observation::Changed {
                previous_trusted_or_verified: false
            }
        );
        assert!(t.set_trusted("bob", &fp(1), true));
        assert_eq!(
            t.observe("bob", "Bob", &fp(3), 400),
            Observation::Changed {
                previous_trusted_or_verified: true
            }
        );
        let keys = t.keys("bob");
        assert_eq!(keys.len(), 3);
        let first = keys.first().unwrap();
        assert_eq!(first.fingerprint, "01".repeat(FINGERPRINT_LEN));
        assert_eq!((first.first_seen, first.last_seen), (100, 200));
        // Another nick with the same key is a new nick.
        assert_eq!(t.observe("carol", "Carol", &fp(1), 500), Observation::New);
        assert!(!t.is_trusted("carol", &fp(1)));
    }

    #[test]
    fn trust_and_verification_are_per_nick_and_key() {
        let mut t = TrustStore::memory();
        t.observe("bob", "Bob", &fp(1), 1);
        assert!(!t.is_trusted("bob", &fp(1)));
        assert!(t.set_smp_verified("bob", &fp(1), true));
        assert!(t.is_trusted("bob", &fp(1)));
        assert_eq!(
            t.key_status("bob", &fp(1)),
            Some(KeyStatus {
                trusted: false,
                smp_verified: true
            })
        );
        assert!(t.set_smp_verified("bob", &fp(1), false));
        assert!(!t.is_trusted("bob", &fp(1)));
        // Unknown keys and nicks are not created by setting trust.
        assert!(!t.set_trusted("bob", &fp(9), true));
        assert!(!t.set_trusted("nobody", &fp(1), true));
        assert_eq!(t.key_status("bob", &fp(9)), None);
        assert!(t.keys("nobody").is_empty());
    }

    #[test]
    fn trust_store_changes_persist_across_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let mut t = open(tmp.path());
        assert!(
            !tmp.path().join("trust-libera.sealed").exists(),
            "written on first save"
        );
        t.observe("bob", "Bob", &fp(1), 10);
        t.observe("bob", "Bob", &fp(2), 20);
        t.observe("carol", "Carol", &fp(3), 30);
        t.set_trusted("bob", &fp(1), true);
        t.set_smp_verified("bob", &fp(2), true);
        // (Not a format-0x01 profile: those are migrated away on opening.)
        t.set_profile("carol", &[2, 2, 3]);
        assert!(t.save_if_dirty().unwrap());
        assert!(!t.save_if_dirty().unwrap(), "nothing new to save");
        let path = tmp.path().join("trust-libera.sealed");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o600
        );

        let mut t = open(tmp.path());
        assert_eq!(
            t.key_status("bob", &fp(1)),
            Some(KeyStatus {
                trusted: true,
                smp_verified: false
            })
        );
        assert_eq!(
            t.key_status("bob", &fp(2)),
            Some(KeyStatus {
                trusted: false,
                smp_verified: true
            })
        );
        assert_eq!(t.profile("carol"), Some(vec![2, 2, 3]));
        assert_eq!(
            t.nicks().map(|(n, _)| n).collect::<Vec<_>>(),
            ["bob", "carol"]
        );
        assert_eq!(
            t.nicks().next().map(|(_, n)| n.display.as_str()),
            Some("Bob")
        );

        assert!(t.forget("bob"));
        assert!(!t.forget("bob"));
        t.save().unwrap();
        let t = open(tmp.path());
        assert!(t.keys("bob").is_empty());
        assert!(!t.is_trusted("bob", &fp(1)));
        assert_eq!(t.keys("carol").len(), 1);
    }

    #[test]
    fn trust_store_keeps_at_most_16_keys_per_nick_evicting_the_oldest_unvouched() {
        let mut t = TrustStore::memory();
        for i in 0..16u8 {
            t.observe("bob", "Bob", &fp(i), u64::from(i) + 100);
        }
        t.set_trusted("bob", &fp(0), true); // oldest, but trusted: kept
        t.observe("bob", "Bob", &fp(16), 1000);
        let keys = t.keys("bob");
        assert_eq!(keys.len(), MAX_KEYS_PER_NICK);
        assert!(t.is_trusted("bob", &fp(0)));
        assert!(
            t.key_status("bob", &fp(1)).is_none(),
            "oldest untrusted evicted"
        );
        assert!(t.key_status("bob", &fp(16)).is_some());
    }

    #[test]
    fn trust_store_never_evicts_trusted_keys_and_does_not_remember_the_17th() {
        let mut t = TrustStore::memory();
        for i in 0..16u8 {
            t.observe("bob", "Bob", &fp(i), 1);
            t.set_trusted("bob", &fp(i), true);
        }
        assert_eq!(
            t.observe("bob", "Bob", &fp(99), 2),
            Observation::NotRemembered { first_key: false }
        );
        assert_eq!(t.keys("bob").len(), 16);
        assert!(t.keys("bob").iter().all(|k| k.trusted));
        assert!(!t.is_trusted("bob", &fp(99)));
    }

    #[test]
    fn trust_store_keeps_at_most_4096_nicks_evicting_the_oldest_unvouched() {
        let mut t = TrustStore::memory();
        for i in 0..MAX_NICKS {
            let nick = format!("n{i}");
            t.observe(&nick, &nick, &fp(1), 1000 + u64::try_from(i).unwrap());
        }
        t.set_trusted("n0", &fp(1), true);
        assert_eq!(t.observe("new", "new", &fp(1), 9999), Observation::New);
        assert_eq!(t.nicks().count(), MAX_NICKS);
        assert!(t.is_trusted("n0", &fp(1)), "trusted nick kept");
        assert!(
            t.keys("n1").is_empty(),
            "least recently seen untrusted nick evicted"
        );
        assert_eq!(t.keys("new").len(), 1);

        // When every nick has a trusted key, a new nick is not remembered.
        let names: Vec<String> = t.nicks().map(|(n, _)| n.to_string()).collect();
        for n in &names {
            t.set_trusted(n, &fp(1), true);
        }
        assert_eq!(
            t.observe("another", "another", &fp(2), 10_000),
            Observation::NotRemembered { first_key: true }
        );
        assert_eq!(t.nicks().count(), MAX_NICKS);
    }

    #[test]
    fn overlong_nicks_are_not_remembered_and_displays_are_truncated() {
        let mut t = TrustStore::memory();
        let long = "x".repeat(MAX_NICK_LEN + 1);
        assert_eq!(
            t.observe(&long, &long, &fp(1), 1),
            Observation::NotRemembered { first_key: true }
        );
        assert_eq!(t.nicks().count(), 0);
        let display = "é".repeat(MAX_NICK_LEN);
        t.observe("bob", &display, &fp(1), 1);
        let shown = &t.nicks().next().unwrap().1.display;
        assert!(shown.len() <= MAX_NICK_LEN && display.starts_with(shown.as_str()));
    }

    #[test]
    fn profiles_are_bounded_and_only_kept_for_known_nicks() {
        let mut t = TrustStore::memory();
        assert!(!t.set_profile("bob", &[1]));
        t.observe("bob", "Bob", &fp(1), 1);
        assert!(!t.set_profile("bob", &vec![0; MAX_PROFILE_LEN + 1]));
        assert!(t.set_profile("bob", &vec![5; MAX_PROFILE_LEN]));
        assert_eq!(t.profile("bob"), Some(vec![5; MAX_PROFILE_LEN]));
    }

    #[test]
    fn attestations_are_kept_with_their_profile_only() {
        let mut t = TrustStore::memory();
        t.observe("bob", "Bob", &fp(1), 1);
        let att = vec![7; ATTESTATION_LEN];
        assert!(!t.set_attestation("bob", &att), "no profile yet");
        assert!(t.set_profile("bob", &[2, 1]));
        assert!(!t.set_attestation("bob", &att[1..]));
        assert!(t.set_attestation("bob", &att));
        assert_eq!(t.attestation("bob"), Some(att.clone()));
        // The same profile again keeps it; another one drops it.
        assert!(t.set_profile("bob", &[2, 1]));
        assert_eq!(t.attestation("bob"), Some(att));
        assert!(t.set_profile("bob", &[2, 2]));
        assert_eq!(t.attestation("bob"), None);
        assert!(!t.set_attestation("nobody", &[7; ATTESTATION_LEN]));
    }

    #[test]
    fn a_full_trust_store_fits_under_the_payload_bound() {
        // The largest entry the bounds allow: control characters escape to six bytes each.
        let nick = "\u{1}".repeat(MAX_NICK_LEN);
        let key = |i: u8| KnownKey {
            fingerprint: hex::encode_upper(fp(i)),
            first_seen: u64::MAX,
            last_seen: u64::MAX,
            trusted: false,
            smp_verified: false,
            verified_us: false,
        };
        let entry = NickTrust {
            display: nick.clone(),
            fingerprints: (0..16u8).map(key).collect(),
            profile: Some(STANDARD.encode(vec![0xff; MAX_PROFILE_LEN])),
            attestation: Some(STANDARD.encode(vec![0xff; ATTESTATION_LEN])),
        };
        let one = serde_json::to_vec(&BTreeMap::from([(nick, entry)])).unwrap();
        let worst = one.len() * MAX_NICKS + 64;
        assert!(worst < MAX_PAYLOAD_LEN, "{worst} >= {MAX_PAYLOAD_LEN}");
    }

    #[test]
    fn memory_store_save_is_a_no_op() {
        let mut t = TrustStore::memory();
        t.observe("bob", "Bob", &fp(1), 1);
        assert!(t.is_dirty());
        assert!(t.save_if_dirty().unwrap());
        assert!(t.path().is_none());
        assert!(!t.is_dirty());
    }

    #[test]
    fn trust_file_that_decrypts_but_does_not_parse_is_corrupt_and_left_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("trust-libera.sealed");
        let bad_payloads: [&[u8]; 6] = [
            b"not json",
            b"{\"version\":2,\"nicks\":{}}",
            b"{\"version\":1,\"nicks\":{\"bob\":{\"display\":\"Bob\",\"fingerprints\":[{\"fingerprint\":\"ab\",\"first_seen\":1,\"last_seen\":1,\"trusted\":true,\"smp_verified\":false}]}}}",
            b"{\"version\":1,\"nicks\":{\"bob\":{\"display\":\"Bob\",\"fingerprints\":[],\"profile\":\"!!\"}}}",
            b"[]",
            b"",
        ];
        for payload in bad_payloads {
            let _ = fs::remove_file(&path);
            let sealed = SealedFile::create_with_params(&path, &pass("pw"), TEST_PARAMS).unwrap();
            sealed.save(payload).unwrap();
            let before = fs::read(&path).unwrap();
            let err = TrustStore::open_or_create_with_params(
                tmp.path(),
                "libera",
                &pass("pw"),
                TEST_PARAMS,
            )
            .unwrap_err();
            assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
            assert!(!err.to_string().contains("bob"), "no nick in errors: {err}");
            assert_eq!(fs::read(&path).unwrap(), before);
        }
    }

    #[test]
    fn corrupt_trust_store_is_an_error_and_is_left_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let mut t = open(tmp.path());
        t.observe("bob", "Bob", &fp(1), 1);
        t.save().unwrap();
        let path = tmp.path().join("trust-libera.sealed");
        let mut bytes = fs::read(&path).unwrap();
        if let Some(b) = bytes.get_mut(60) {
            *b ^= 0x10;
        }
        fs::write(&path, &bytes).unwrap();
        let err =
            TrustStore::open_or_create_with_params(tmp.path(), "libera", &pass("pw"), TEST_PARAMS)
                .unwrap_err();
        assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), bytes);
        let err = TrustStore::open_or_create_with_params(
            tmp.path(),
            "libera",
            &pass("other"),
            TEST_PARAMS,
        )
        .unwrap_err();
        assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn network_names_that_could_escape_the_directory_are_refused() {
        assert_eq!(
            TrustStore::file_name("libera").unwrap(),
            "trust-libera.sealed"
        );
        assert_eq!(
            TrustStore::file_name("oftc.net-2").unwrap(),
            "trust-oftc.net-2.sealed"
        );
        for bad in ["", "../x", "a/b", "..", "a..b", "a b", "x\0", "é"] {
            let err = TrustStore::file_name(bad).unwrap_err();
            assert!(matches!(err, StoreError::InvalidName { .. }), "{bad:?}");
            let tmp = tempfile::tempdir().unwrap();
            assert!(
                TrustStore::open_or_create_with_params(tmp.path(), bad, &pass("pw"), TEST_PARAMS)
                    .is_err()
            );
        }
    }

    #[test]
    fn networks_have_separate_trust_files() {
        let tmp = tempfile::tempdir().unwrap();
        let mut a = open(tmp.path());
        a.observe("bob", "Bob", &fp(1), 1);
        a.set_trusted("bob", &fp(1), true);
        a.save().unwrap();
        let b =
            TrustStore::open_or_create_with_params(tmp.path(), "oftc", &pass("pw"), TEST_PARAMS)
                .unwrap();
        assert!(!b.is_trusted("bob", &fp(1)));
        assert!(open(tmp.path()).is_trusted("bob", &fp(1)));
    }
}
