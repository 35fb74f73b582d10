//! The interactive DAKE of OTRv4+: Identity → Auth-R → Auth-I.
//!
//! It is otrv4's DAKEZ with a post-quantum hybrid key exchange:
//!
//! * Classical: X448 ephemeral-ephemeral Diffie-Hellman, authenticated by otrv4's Ed448 ring
//!   signatures (σ_R over {F_I, H_R, Y_I}, σ_I over {H_I, F_R, Y_R}), which keep it deniable.
//! * Post-quantum confidentiality: an ephemeral ML-KEM-1024 key from the initiator, encapsulated
//!   to by the responder. An initiator that offers a resumption PSK defers it: the PSK (itself
//!   post-quantum secret) protects the session until its first ratchet KEM exchange, which the
//!   responder's first sending chain starts at once, and the handshake stays within a few IRC
//!   lines each way.
//! * Post-quantum authentication, either
//!   - *full mode*: each side encapsulates to the other's long-term ML-KEM key from its client
//!     profile (implicit authentication: only the holder of that key derives K), or
//!   - *PSK mode* (repeat contact): both mix in a resumption PSK derived from the previous
//!     session's K, which was itself post-quantum authenticated. This saves two ML-KEM
//!     ciphertexts (3136 bytes) on the wire.
//! * Key confirmation in Auth-I, so the responder knows the initiator derived K before it sends.
//!
//! Two values may travel ahead of the message that binds them, to shorten the handshake's
//! critical path on IRC: the responder's profile (Auth-R then refers to it) and the
//! initiator's CT_R (Auth-I then refers to it). The transcript binds both whatever way they
//! travelled, so a substituted one only makes the DAKE fail.
//!
//! K binds the whole transcript: instance tags, the advertised versions, both profiles (by
//! hash), every X448 key, every ML-KEM key and ciphertext, the mode, the PSK identifier and
//! the two "I hold your attestation" flags.
//!
//! The states are transactional: a handler takes `&self` and returns the next state, so a
//! forged or garbled message leaves the handshake as it was.

#[cfg(test)]
mod tests;
mod transcript;

use subtle::ConstantTimeEq;

use crate::crypto::CryptoError;
use crate::crypto::ed448::{PublicPoint, SecretScalar};
use crate::crypto::kdf::{Usage, derive, hash};
use crate::crypto::mlkem::{CT_LEN, KemCiphertext, KemKeypair, KemPublic};
use crate::crypto::ring_sig;
use crate::crypto::x448::{X448Public, X448Secret};
use crate::profile::{ClientProfile, LongTermKeys, ProfileError};
use crate::secret::Secret;
use crate::wire::codec::DecodeError;
use crate::wire::dake::{
    AuthI, AuthR, CONFIRM_LEN, CiphertextAhead, Identity, PSK_ID_LEN, ProfileRef,
};
use crate::wire::{Header, MessageType, VERSION_CHAR};
use transcript::Transcript;

/// Why a DAKE step failed. The handshake state is unchanged when one is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DakeError {
    /// The message did not parse.
    #[error("malformed DAKE message: {0}")]
    Decode(#[from] DecodeError),
    /// The peer's profile failed validation.
    #[error("peer profile rejected: {0}")]
    Profile(#[from] ProfileError),
    /// A key, ciphertext or signature failed.
    #[error("DAKE cryptographic check failed: {0}")]
    Crypto(#[from] CryptoError),
    /// Instance tags do not match the handshake.
    #[error("instance tag mismatch")]
    InstanceTag,
    /// The initiator saw a different version advertisement from us than we sent.
    #[error("version advertisement was altered (downgrade attempt)")]
    Downgrade,
    /// Auth-R used a PSK we did not offer, or Auth-I's mode differs from Auth-R's.
    #[error("DAKE mode mismatch")]
    ModeMismatch,
    /// The key confirmation in Auth-I did not match.
    #[error("key confirmation failed")]
    Confirmation,
    /// Auth-I refers to a CT_R sent ahead that we did not receive (the account asks for the
    /// Auth-I in full instead of reporting this).
    #[error("Auth-I refers to a CT_R sent ahead that was not received")]
    MissingCiphertext,
}

/// Which side of the DAKE we were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We sent Identity and Auth-I.
    Initiator,
    /// We sent Auth-R.
    Responder,
}

/// How the peer was authenticated post-quantumly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Encapsulations to both long-term ML-KEM keys.
    Full,
    /// A resumption PSK from the previous session.
    Psk,
}

/// A resumption PSK shared with one peer.
pub struct ResumptionPsk {
    /// Public identifier, sent in Identity.
    pub id: [u8; PSK_ID_LEN],
    /// The secret.
    pub secret: Secret<32>,
}

impl ResumptionPsk {
    #[allow(dead_code)] // used by the session layer to keep a PSK while offering it
    pub(crate) fn duplicate(&self) -> Self {
        ResumptionPsk {
            id: self.id,
            secret: self.secret.duplicate(),
        }
    }
}

/// Our side of a DAKE: long-term keys, signed profile and instance tag.
pub struct Local<'a> {
    /// Long-term secret keys.
    pub keys: &'a LongTermKeys,
    /// Our signed profile (must match `keys`).
    pub profile: &'a ClientProfile,
    /// Our instance tag.
    pub tag: u32,
}

/// What a completed DAKE hands to the double ratchet. Secrets are wiped on drop.
pub struct DakeOutput {
    /// Our role.
    pub role: Role,
    /// How the peer was post-quantum authenticated.
    pub mode: Mode,
    /// Session identifier (shown to users; bound by SMP).
    pub ssid: [u8; 8],
    /// The peer's verified profile.
    pub their_profile: ClientProfile,
    /// The peer's instance tag.
    pub their_tag: u32,
    /// The first root key.
    pub root: Secret<32>,
    /// Our DAKE X448 key, which becomes our first ratchet key.
    pub our_ratchet: X448Secret,
    /// The peer's DAKE X448 key, its first ratchet key.
    pub their_ratchet: X448Public,
    /// The PSK for the next DAKE with this peer.
    pub next_psk: ResumptionPsk,
    /// The peer said it holds our attestation of the profile we used in this DAKE, so we
    /// need not send it (the flag is bound into the transcript).
    pub peer_holds_our_attestation: bool,
    /// The ephemeral ML-KEM exchange was deferred to the ratchet (the initiator offered a
    /// PSK): the ratchet starts a KEM exchange on the responder's first sending chain.
    pub kem_deferred: bool,
}

/// Initiator state after sending Identity.
pub struct WaitingAuthR {
    our_tag: u32,
    query_versions: Vec<u8>,
    y_pub: PublicPoint,
    x: X448Secret,
    /// The ephemeral ML-KEM key pair; `None` when deferred (a PSK was offered).
    ek: Option<KemKeypair>,
    /// The PSKs offered, in the Identity's order (at most two).
    psks: Vec<ResumptionPsk>,
    known_peer_profile: [u8; 32],
    holds_peer_attestation: bool,
    profile_by_hash: bool,
    /// CT_R made before Auth-R arrived and sent ahead (at most once per handshake).
    ct_ahead: Option<CtAhead>,
}

/// The initiator's CT_R sent ahead of Auth-I, with its shared secret (wiped on drop) and the
/// responder profile it was made for: Auth-I uses it only if Auth-R's profile is that one.
struct CtAhead {
    profile_r: [u8; 32],
    ct: Box<[u8; CT_LEN]>,
    ss: Secret<32>,
}

/// Responder state after sending Auth-R.
pub struct WaitingAuthI {
    transcript: Transcript,
    sigma_r: Box<[u8; ring_sig::RING_SIG_LEN]>,
    their_profile: ClientProfile,
    their_tag: u32,
    our_tag: u32,
    y_pub: PublicPoint,
    x: X448Secret,
    k_ecdh: Secret<56>,
    /// `None` when the initiator deferred the ephemeral ML-KEM exchange.
    ss_e: Option<Secret<32>>,
    auth1: Secret<32>,
    mode: Mode,
    peer_holds_our_attestation: bool,
    /// Auth-R as last sent (public values only), to send again with the full profile.
    auth_r: AuthR,
    /// Auth-R was sent again in full (at most once per handshake).
    resent_full: bool,
    /// CT_R from the initiator's Ciphertext message (the last one held), unauthenticated: used
    /// only by an Auth-I that refers to it, whose σ_I fails if it is not the initiator's.
    ct_ahead: Option<Box<[u8; CT_LEN]>>,
}

/// Derives everything the session needs from the transcript and the shared secrets.
fn finish(
    th: &[u8; 64],
    k_ecdh: &Secret<56>,
    ss_e: Option<&Secret<32>>,
    auth1: &Secret<32>,
    auth2: Option<&Secret<32>>,
) -> (Secret<64>, [u8; CONFIRM_LEN]) {
    let empty: &[u8] = &[];
    let k: Secret<64> = derive(
        Usage::SharedSecret,
        &[
            th,
            k_ecdh.expose(),
            ss_e.map_or(empty, |s| s.expose()),
            auth1.expose(),
            auth2.map_or(empty, |s| s.expose()),
        ],
    );
    let confirm = hash(Usage::AuthIConfirm, &[k.expose()]);
    (k, confirm)
}

#[allow(clippy::too_many_arguments)]
fn output(
    k: &Secret<64>,
    role: Role,
    mode: Mode,
    their_profile: ClientProfile,
    their_tag: u32,
    our_ratchet: X448Secret,
    their_ratchet: X448Public,
    peer_holds_our_attestation: bool,
    kem_deferred: bool,
) -> DakeOutput {
    DakeOutput {
        peer_holds_our_attestation,
        kem_deferred,
        role,
        mode,
        ssid: hash(Usage::Ssid, &[k.expose()]),
        their_profile,
        their_tag,
        root: derive(Usage::RootInit, &[k.expose()]),
        our_ratchet,
        their_ratchet,
        next_psk: ResumptionPsk {
            id: hash(Usage::ResumptionPskId, &[k.expose()]),
            secret: derive(Usage::ResumptionPsk, &[k.expose()]),
        },
    }
}

/// Starts a DAKE as initiator.
///
/// `query_versions` is what the peer advertised (empty when starting from a cached profile).
/// `peer_profile` is the peer's profile if cached (lets the peer send its own by hash);
/// `holds_peer_attestation` says we hold the peer's attestation of that profile (so the peer
/// need not send it); `we_are_cached` says the peer should have our current profile (we send
/// ours by hash); `psks` are the resumption PSKs shared with this peer, in order of
/// preference (at most two are offered). Offering a PSK defers the ephemeral ML-KEM
/// exchange to the ratchet (the Identity carries no encapsulation key).
pub fn start(
    rng: &mut impl rand_core::CryptoRng,
    local: &Local<'_>,
    query_versions: &[u8],
    peer_profile: Option<&ClientProfile>,
    holds_peer_attestation: bool,
    we_are_cached: bool,
    mut psks: Vec<ResumptionPsk>,
) -> Result<(WaitingAuthR, Identity), DakeError> {
    psks.truncate(2);
    // Y_I only serves as a ring member the responder's σ_R could have been made with by us:
    // its secret is not needed afterwards.
    let y_pub = SecretScalar::random(rng).public();
    let x = X448Secret::generate(rng);
    let ek = if psks.is_empty() {
        Some(KemKeypair::generate()?)
    } else {
        None
    };
    let known_peer_profile = peer_profile.map(|p| *p.hash()).unwrap_or([0; 32]);
    let state = WaitingAuthR {
        our_tag: local.tag,
        query_versions: query_versions.to_vec(),
        y_pub,
        x,
        ek,
        psks,
        known_peer_profile,
        holds_peer_attestation: holds_peer_attestation && peer_profile.is_some(),
        profile_by_hash: we_are_cached,
        ct_ahead: None,
    };
    let msg = state.identity_message(local, 0, we_are_cached);
    Ok((state, msg))
}

impl WaitingAuthR {
    /// The Identity message for this handshake; `full_profile` forces the full profile
    /// (after the peer sent a Profile-Request).
    pub fn identity_message(&self, local: &Local<'_>, receiver: u32, by_hash: bool) -> Identity {
        Identity {
            header: Header {
                msg_type: MessageType::Identity,
                sender: self.our_tag,
                receiver,
            },
            query_versions: self.query_versions.clone(),
            profile: if by_hash {
                ProfileRef::Hash(*local.profile.hash())
            } else {
                ProfileRef::Full(local.profile.as_bytes().to_vec())
            },
            known_peer_profile: self.known_peer_profile,
            holds_peer_attestation: self.holds_peer_attestation,
            psk_ids: self.psks.iter().map(|p| p.id).collect(),
            y: *self.y_pub.as_bytes(),
            x: *self.x.public(),
            ek: self.ek.as_ref().map(|k| Box::new(*k.public().as_bytes())),
        }
    }

    /// The ids of the PSKs offered, concatenated, for the transcript.
    fn psk_offered(&self) -> Vec<u8> {
        self.psks.iter().flat_map(|p| p.id).collect()
    }

    /// Whether `y` or `x` is one of our own ephemeral keys (a reflected message).
    pub fn is_own_ephemeral(&self, y: &[u8], x: &[u8]) -> bool {
        y == self.y_pub.as_bytes().as_slice() || x == self.x.public().as_slice()
    }

    /// Whether our Identity offered a resumption PSK.
    pub fn offered_psk(&self) -> bool {
        !self.psks.is_empty()
    }

    /// Whether our Identity carried our profile by hash.
    pub fn sent_profile_by_hash(&self) -> bool {
        self.profile_by_hash
    }

    /// Encapsulates CT_R to `their_profile` (the responder's, from its Profile message or our
    /// cache) before Auth-R arrives, and returns the Ciphertext message that sends it ahead,
    /// addressed to the profile's owner tag. At most once per handshake (`None` after the
    /// first), and only if we offered no PSK (PSK mode has no CT_R). Auth-I then refers to it
    /// if Auth-R's profile is this one, and carries a fresh CT_R otherwise.
    pub fn encapsulate_ahead(
        &mut self,
        their_profile: &ClientProfile,
    ) -> Result<Option<CiphertextAhead>, DakeError> {
        if self.ct_ahead.is_some() || !self.psks.is_empty() {
            return Ok(None);
        }
        let (ct, ss) = their_profile.kem_key().encapsulate()?;
        let ct = Box::new(*ct.as_bytes());
        let msg = CiphertextAhead {
            header: Header {
                msg_type: MessageType::Ciphertext,
                sender: self.our_tag,
                receiver: their_profile.owner_tag(),
            },
            ct: ct.clone(),
        };
        self.ct_ahead = Some(CtAhead {
            profile_r: *their_profile.hash(),
            ct,
            ss,
        });
        Ok(Some(msg))
    }

    /// Whether CT_R went ahead in this handshake.
    pub fn ciphertext_sent_ahead(&self) -> bool {
        self.ct_ahead.is_some()
    }

    /// `sent` (our Auth-I, which referred to our CT_R sent ahead) with that CT_R in it, for a
    /// responder that did not receive the Ciphertext message: the same σ_I and confirm, so
    /// the same transcript. `None` if `sent` did not refer to it.
    pub fn auth_i_in_full(&self, sent: &AuthI) -> Option<AuthI> {
        let ahead = self.ct_ahead.as_ref().filter(|_| sent.ct_sent_ahead)?;
        Some(AuthI {
            ct_responder: Some(ahead.ct.clone()),
            ct_sent_ahead: false,
            ..sent.clone()
        })
    }

    /// Switches to sending the full profile (after a Profile-Request).
    pub fn resend_full(&mut self, local: &Local<'_>) -> Identity {
        self.profile_by_hash = false;
        self.identity_message(local, 0, false)
    }

    /// The value compared to resolve glare (both sides sent Identity): the hash of our
    /// ephemeral keys. The side with the larger value stays initiator.
    pub fn glare_key(&self) -> [u8; 32] {
        glare_key_of(self.y_pub.as_bytes(), self.x.public())
    }

    /// Handles Auth-R. `their_profile` is the responder's profile, resolved by the caller from
    /// the message (full) or from its cache (by hash), already verified.
    pub fn on_auth_r(
        &self,
        rng: &mut impl rand_core::CryptoRng,
        local: &Local<'_>,
        msg: &AuthR,
        their_profile: ClientProfile,
    ) -> Result<(DakeOutput, AuthI), DakeError> {
        if msg.header.receiver != self.our_tag {
            return Err(DakeError::InstanceTag);
        }
        if their_profile.owner_tag() != msg.header.sender {
            return Err(ProfileError::InstanceTag.into());
        }
        let chosen = match (msg.psk_mode(), msg.second_psk) {
            (true, second) => Some(
                self.psks
                    .get(usize::from(second))
                    .ok_or(DakeError::ModeMismatch)?,
            ),
            (false, _) => None,
        };
        let mode = if chosen.is_some() {
            Mode::Psk
        } else {
            Mode::Full
        };
        let y_r = PublicPoint::from_bytes(&msg.y)?;
        let k_ecdh = self.x.diffie_hellman(&msg.x)?;
        // The responder answers our ephemeral key exactly when we sent one.
        let ss_e = match (&self.ek, &msg.ct_ephemeral) {
            (Some(ek), Some(ct)) => {
                Some(ek.decapsulate(&KemCiphertext::from_bytes(ct.as_slice())?)?)
            }
            (None, None) => None,
            _ => return Err(DakeError::ModeMismatch),
        };
        let (auth1, mode_part) = match (mode, chosen, &msg.ct_initiator) {
            (Mode::Full, _, Some(ct)) => (
                local
                    .keys
                    .kem()
                    .decapsulate(&KemCiphertext::from_bytes(ct.as_slice())?)?,
                ct.to_vec(),
            ),
            (Mode::Psk, Some(psk), None) => (psk.secret.duplicate(), psk.id.to_vec()),
            _ => return Err(DakeError::ModeMismatch),
        };
        let transcript = Transcript {
            tag_i: self.our_tag,
            tag_r: msg.header.sender,
            query_versions: self.query_versions.clone(),
            profile_i: *local.profile.hash(),
            profile_r: *their_profile.hash(),
            y_i: *self.y_pub.as_bytes(),
            x_i: *self.x.public(),
            ek: self
                .ek
                .as_ref()
                .map(|k| k.public().as_bytes().to_vec())
                .unwrap_or_default(),
            y_r: msg.y,
            x_r: msg.x,
            ct_e: msg
                .ct_ephemeral
                .as_ref()
                .map(|c| c.to_vec())
                .unwrap_or_default(),
            mode,
            mode_part,
            psk_offered: self.psk_offered(),
            attestation_flags: attestation_flags(
                self.holds_peer_attestation,
                msg.holds_peer_attestation,
            ),
        };
        let t_r = transcript.auth_r_message();
        ring_sig::verify(
            [
                local.profile.forging_key(),
                their_profile.identity_key(),
                &self.y_pub,
            ],
            &t_r,
            &msg.sigma,
        )?;

        // CT_R sent ahead serves only the profile it was made for; otherwise a fresh one.
        let ahead = self
            .ct_ahead
            .as_ref()
            .filter(|a| mode == Mode::Full && a.profile_r == *their_profile.hash());
        let fresh = match mode {
            Mode::Full if ahead.is_none() => Some(their_profile.kem_key().encapsulate()?),
            _ => None,
        };
        let (ct_r, ss_r): (Option<Box<[u8; CT_LEN]>>, Option<&Secret<32>>) = match (&fresh, ahead) {
            (Some((ct, ss)), _) => (Some(Box::new(*ct.as_bytes())), Some(ss)),
            (None, Some(a)) => (Some(a.ct.clone()), Some(&a.ss)),
            (None, None) => (None, None),
        };
        let sent_ahead = fresh.is_none() && ahead.is_some();
        let ct_r_bytes: &[u8] = ct_r.as_ref().map_or(&[], |c| c.as_slice());
        let t_i = transcript.auth_i_message(&msg.sigma, ct_r_bytes);
        let sigma_i = ring_sig::sign(
            rng,
            &local.keys.identity().scalar(),
            local.keys.identity().public(),
            [
                local.keys.identity().public(),
                their_profile.forging_key(),
                &y_r,
            ],
            &t_i,
        )?;
        let th = transcript.transcript_hash(&msg.sigma, ct_r_bytes, &sigma_i);
        let (k, confirm) = finish(&th, &k_ecdh, ss_e.as_ref(), &auth1, ss_r);
        let auth_i = AuthI {
            header: Header {
                msg_type: MessageType::AuthI,
                sender: self.our_tag,
                receiver: msg.header.sender,
            },
            ct_responder: ct_r.filter(|_| !sent_ahead),
            ct_sent_ahead: sent_ahead,
            sigma: Box::new(sigma_i),
            confirm,
        };
        let their_tag = msg.header.sender;
        let out = output(
            &k,
            Role::Initiator,
            mode,
            their_profile,
            their_tag,
            self.x.duplicate(),
            msg.x,
            msg.holds_peer_attestation,
            self.ek.is_none(),
        );
        Ok((out, auth_i))
    }
}

/// The transcript byte for the attestation flags: bit 0 for the initiator's, bit 1 for the
/// responder's.
fn attestation_flags(initiator_holds: bool, responder_holds: bool) -> u8 {
    u8::from(initiator_holds) | (u8::from(responder_holds) << 1)
}

fn glare_key_of(y: &[u8], x: &[u8]) -> [u8; 32] {
    hash(Usage::IdentityHash, &[y, x])
}

/// The glare key of a received Identity message.
pub fn identity_glare_key(msg: &Identity) -> [u8; 32] {
    glare_key_of(&msg.y, &msg.x)
}

/// Responds to an Identity message (we become the responder).
///
/// `their_profile` is the initiator's profile (resolved and verified by the caller);
/// `our_advertised` is the version string we advertise in query messages and whitespace tags;
/// `held` are the PSKs we share with this peer (PSK mode uses the first id the Identity
/// offered that one of them has; full mode if none has);
/// `holds_peer_attestation` says we hold the initiator's attestation of `their_profile`.
#[allow(clippy::too_many_arguments)]
pub fn respond(
    rng: &mut impl rand_core::CryptoRng,
    local: &Local<'_>,
    msg: &Identity,
    their_profile: ClientProfile,
    our_advertised: &[u8],
    held: &[ResumptionPsk],
    holds_peer_attestation: bool,
) -> Result<(WaitingAuthI, AuthR), DakeError> {
    if msg.header.receiver != 0 && msg.header.receiver != local.tag {
        return Err(DakeError::InstanceTag);
    }
    if their_profile.owner_tag() != msg.header.sender {
        return Err(ProfileError::InstanceTag.into());
    }
    // The initiator tells us what it saw us advertise; if that differs from what we sent,
    // someone altered it in transit.
    if !msg.query_versions.is_empty() && msg.query_versions != our_advertised {
        return Err(DakeError::Downgrade);
    }
    if !their_profile.versions().contains(&VERSION_CHAR) {
        return Err(ProfileError::NoCommonVersion.into());
    }
    let y_i = PublicPoint::from_bytes(&msg.y)?;
    let ek = match &msg.ek {
        Some(ek) => Some(KemPublic::from_bytes(ek.as_slice())?),
        None => None,
    };

    // Y_R only serves as a ring member σ_I could have been made with by us.
    let y_pub = SecretScalar::random(rng).public();
    let x = X448Secret::generate(rng);
    let k_ecdh = x.diffie_hellman(&msg.x)?;
    let (ct_e, ss_e) = match &ek {
        Some(ek) => {
            let (ct, ss) = ek.encapsulate()?;
            (Some(Box::new(*ct.as_bytes())), Some(ss))
        }
        None => (None, None),
    };
    // The first offered id we hold (ids are public: no constant-time need).
    let chosen = msg
        .psk_ids
        .iter()
        .take(2)
        .enumerate()
        .find_map(|(i, id)| held.iter().find(|p| p.id == *id).map(|p| (i, p)));
    let second_psk = chosen.is_some_and(|(i, _)| i == 1);
    let (mode, auth1, ct_i, mode_part) = match chosen.map(|(_, p)| p) {
        Some(p) => (Mode::Psk, p.secret.duplicate(), None, p.id.to_vec()),
        None => {
            let (ct, ss) = their_profile.kem_key().encapsulate()?;
            let bytes = ct.as_bytes().to_vec();
            (Mode::Full, ss, Some(Box::new(*ct.as_bytes())), bytes)
        }
    };
    let transcript = Transcript {
        tag_i: msg.header.sender,
        tag_r: local.tag,
        query_versions: msg.query_versions.clone(),
        profile_i: *their_profile.hash(),
        profile_r: *local.profile.hash(),
        y_i: msg.y,
        x_i: msg.x,
        ek: msg.ek.as_ref().map(|k| k.to_vec()).unwrap_or_default(),
        y_r: *y_pub.as_bytes(),
        x_r: *x.public(),
        ct_e: ct_e.as_ref().map(|c| c.to_vec()).unwrap_or_default(),
        mode,
        mode_part,
        psk_offered: msg.psk_ids.iter().take(2).flatten().copied().collect(),
        attestation_flags: attestation_flags(msg.holds_peer_attestation, holds_peer_attestation),
    };
    let t_r = transcript.auth_r_message();
    let sigma_r = ring_sig::sign(
        rng,
        &local.keys.identity().scalar(),
        local.keys.identity().public(),
        [
            their_profile.forging_key(),
            local.keys.identity().public(),
            &y_i,
        ],
        &t_r,
    )?;
    let knows_ours: bool = msg.known_peer_profile.ct_eq(local.profile.hash()).into();
    let profile = if knows_ours {
        ProfileRef::Hash(*local.profile.hash())
    } else {
        ProfileRef::Full(local.profile.as_bytes().to_vec())
    };
    let auth_r = AuthR {
        header: Header {
            msg_type: MessageType::AuthR,
            sender: local.tag,
            receiver: msg.header.sender,
        },
        profile,
        holds_peer_attestation,
        y: *y_pub.as_bytes(),
        x: *x.public(),
        ct_ephemeral: ct_e,
        ct_initiator: ct_i,
        second_psk,
        sigma: Box::new(sigma_r),
    };
    let state = WaitingAuthI {
        auth_r: auth_r.clone(),
        resent_full: false,
        ct_ahead: None,
        transcript,
        sigma_r: Box::new(sigma_r),
        their_tag: msg.header.sender,
        their_profile,
        our_tag: local.tag,
        y_pub,
        x,
        k_ecdh,
        ss_e,
        auth1,
        mode,
        // The initiator's flag speaks of the profile it named: ours only if it is current.
        peer_holds_our_attestation: msg.holds_peer_attestation && knows_ours,
    };
    Ok((state, auth_r))
}

impl WaitingAuthI {
    /// The initiator's instance tag.
    pub fn their_tag(&self) -> u32 {
        self.their_tag
    }

    /// Our profile went ahead in a Profile message: Auth-R refers to it instead of carrying
    /// it, unless it names it by hash (the initiator has it cached, which needs no Profile
    /// message to arrive). Returns the Auth-R to send. σ_R stays valid: the transcript binds
    /// ProfileHash(profile_R) whatever form the profile takes on the wire.
    pub fn refer_to_profile_sent_ahead(&mut self) -> AuthR {
        if let ProfileRef::Full(_) = self.auth_r.profile {
            self.auth_r.profile = ProfileRef::SentAhead;
        }
        self.auth_r.clone()
    }

    /// Whether our Auth-R referred to a profile sent ahead (and was not sent again in full).
    pub fn profile_sent_ahead(&self) -> bool {
        self.auth_r.profile == ProfileRef::SentAhead
    }

    /// The same Auth-R (same ephemeral keys, ciphertexts and σ_R) with our full profile, for
    /// an initiator that did not receive the profile sent ahead. Only once per handshake,
    /// only if Auth-R referred to a profile sent ahead, and only while `our_profile` is the
    /// one the transcript binds (a re-signed profile would fail σ_R).
    pub fn resend_full(&mut self, our_profile: &ClientProfile) -> Option<AuthR> {
        if self.resent_full
            || !self.profile_sent_ahead()
            || *our_profile.hash() != self.transcript.profile_r
        {
            return None;
        }
        self.resent_full = true;
        self.auth_r.profile = ProfileRef::Full(our_profile.as_bytes().to_vec());
        Some(self.auth_r.clone())
    }

    /// The mode our Auth-R chose.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Holds CT_R from the initiator's Ciphertext message, replacing one held, for an Auth-I
    /// that refers to it. Unauthenticated until then: a wrong one fails σ_I. Nothing is held
    /// in PSK mode (it has no CT_R); returns whether it was held.
    pub fn hold_ciphertext(&mut self, ct: &[u8; CT_LEN]) -> bool {
        if self.mode != Mode::Full {
            return false;
        }
        self.ct_ahead = Some(Box::new(*ct));
        true
    }

    /// Whether we hold a CT_R sent ahead.
    pub fn holds_ciphertext(&self) -> bool {
        self.ct_ahead.is_some()
    }

    /// Handles Auth-I and completes the DAKE. An Auth-I that refers to CT_R sent ahead uses
    /// the one held ([`DakeError::MissingCiphertext`] if none is).
    pub fn on_auth_i(&self, local: &Local<'_>, msg: &AuthI) -> Result<DakeOutput, DakeError> {
        if msg.header.sender != self.their_tag || msg.header.receiver != self.our_tag {
            return Err(DakeError::InstanceTag);
        }
        let ct_r: Option<&[u8; CT_LEN]> =
            match (self.mode, msg.ct_responder.as_deref(), msg.ct_sent_ahead) {
                (Mode::Full, Some(ct), false) => Some(ct),
                (Mode::Full, None, true) => Some(
                    self.ct_ahead
                        .as_deref()
                        .ok_or(DakeError::MissingCiphertext)?,
                ),
                (Mode::Psk, None, false) => None,
                _ => return Err(DakeError::ModeMismatch),
            };
        let ss_r = match ct_r {
            Some(ct) => Some(
                local
                    .keys
                    .kem()
                    .decapsulate(&KemCiphertext::from_bytes(ct.as_slice())?)?,
            ),
            None => None,
        };
        let ct_r_bytes: &[u8] = ct_r.map_or(&[], |c| c.as_slice());
        let t_i = self.transcript.auth_i_message(&self.sigma_r, ct_r_bytes);
        ring_sig::verify(
            [
                self.their_profile.identity_key(),
                local.profile.forging_key(),
                &self.y_pub,
            ],
            &t_i,
            &msg.sigma,
        )?;
        let th = self
            .transcript
            .transcript_hash(&self.sigma_r, ct_r_bytes, &msg.sigma);
        let (k, confirm) = finish(
            &th,
            &self.k_ecdh,
            self.ss_e.as_ref(),
            &self.auth1,
            ss_r.as_ref(),
        );
        if !bool::from(confirm.ct_eq(&msg.confirm)) {
            return Err(DakeError::Confirmation);
        }
        Ok(output(
            &k,
            Role::Responder,
            self.mode,
            self.their_profile.clone(),
            self.their_tag,
            self.x.duplicate(),
            self.transcript.x_i,
            self.peer_holds_our_attestation,
            self.ss_e.is_none(),
        ))
    }
}
