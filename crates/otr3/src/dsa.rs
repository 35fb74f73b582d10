//! OTRv3 long-term keys: DSA, as libotr makes them (1024-bit p, 160-bit q).
//!
//! Parameter and key generation, signing and verification are the RustCrypto `dsa` crate's;
//! this module adds the OTRv3 encodings (PUBKEY, the `r ‖ s` signature), the fingerprint, the
//! checks on a peer's key, and the one place where OTRv3 is not FIPS 186:
//!
//! **The signed value is the 32-byte MAC taken whole as an integer, reduced mod q.** libotr
//! hands it to libgcrypt as a plain (non-opaque) MPI, which libgcrypt uses as it is; the DSA
//! arithmetic then reduces it mod q. FIPS 186 would instead keep the leftmost bits of the hash.
//! The `dsa` crate's prehash path does the FIPS truncation to `q.bits() / 8` bytes, so we give
//! it `M mod q` written big-endian in exactly that many bytes: the truncation is then the
//! identity and the signature is libotr's. That is why q must be a whole number of bytes long
//! (every DSA size, 160/224/256, is).
//!
//! A peer's PUBKEY is kept as the bytes it sent: libotr computes the fingerprint and the AKE
//! MACs over the received bytes, so re-encoding (say, a non-minimal MPI) would disagree.
//!
//! Constant time: signing (`dsa` 0.7 on crypto-bigint 0.7) raises g to k with crypto-bigint's
//! fixed 4-bit-window exponentiation (constant-time table lookups, almost-Montgomery
//! multiplication, always over the full precision of p), and computes `k⁻¹ (z + x r) mod q`
//! with constant-time multiplication, division and safegcd inversion; comparisons of
//! `BoxedUint` are constant time. Key generation draws x by rejection sampling (only the retry count shows)
//! and computes y with the same constant-time exponentiation. The crate does not zeroize its
//! temporaries while signing (the resized copy of x, k, k⁻¹); x itself is wiped on drop.

use crate::codec::{DecodeError, Reader, Writer};
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, NonZero, Odd, Resize};
use dsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
use sha1::{Digest, Sha1};
use std::fmt;
use zeroize::Zeroizing;

/// Length of a fingerprint (SHA-1).
pub const FINGERPRINT_LEN: usize = 20;

/// The PUBKEY type of a DSA key, the only type OTRv3 defines.
pub const PUBKEY_TYPE_DSA: u16 = 0x0000;

/// Smallest p accepted. libotr only ever makes 1024-bit keys; smaller DSA is broken.
pub const MIN_P_BITS: usize = 1024;
/// Largest p accepted (the largest FIPS 186 size); bounds the work a peer's key can cause.
/// Measured (release build): decoding and verifying take about 0.3 ms and 1.8 ms for a
/// 1024-bit key, 2.7 ms and 45 ms for a 3072-bit one.
pub const MAX_P_BITS: usize = 3072;
/// Smallest q accepted (FIPS 186's smallest N, and libotr's).
pub const MIN_Q_BITS: usize = 160;
/// Largest q accepted.
pub const MAX_Q_BITS: usize = 256;
/// Longest MPI read for a PUBKEY field: a 3072-bit value, with room for a few leading zero
/// bytes some encoders might write (the value is checked separately).
const MAX_FIELD_BYTES: usize = MAX_P_BITS / 8 + 8;

/// Signing fails only if the RNG's k gives r = 0 or s = 0 (probability about 2⁻¹⁶⁰), so a
/// few retries make it certain in practice.
const SIGN_ATTEMPTS: usize = 8;

/// Why a key or signature was refused. Names the field, never carries key data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DsaError {
    /// The PUBKEY encoding was truncated or overlong.
    #[error("malformed public key: {0}")]
    Decode(DecodeError),
    /// The PUBKEY type is not DSA (0x0000).
    #[error("unsupported public key type")]
    UnsupportedKeyType,
    /// A DSA parameter is out of bounds or inconsistent.
    #[error("invalid DSA parameter: {0}")]
    InvalidParameter(&'static str),
    /// The private value x does not belong to the public key (or is out of range).
    #[error("invalid DSA private key")]
    InvalidPrivateKey,
    /// The signature has the wrong length or does not verify.
    #[error("bad signature")]
    BadSignature,
    /// Key generation produced a key that failed our own checks (should never happen).
    #[error("key generation failed")]
    Generation,
}

impl From<DecodeError> for DsaError {
    fn from(e: DecodeError) -> Self {
        DsaError::Decode(e)
    }
}

/// A DSA public key (OTRv3 PUBKEY).
#[derive(Clone)]
pub struct PublicKey {
    /// The PUBKEY encoding, type SHORT included, exactly as received or written.
    encoded: Vec<u8>,
    key: dsa::VerifyingKey,
    /// Bytes in q (20 for libotr keys): the width of r and s.
    q_bytes: usize,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.encoded == other.encoded
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", fingerprint_human(&self.fingerprint()))
    }
}

impl PublicKey {
    /// Reads an OTRv3 PUBKEY: SHORT type 0x0000, then MPI p, q, g, y. Checks the sizes and
    /// that g and y lie in the order-q subgroup of Z/p; p and q are not tested for primality
    /// (a peer with bad parameters only weakens its own signatures).
    pub fn decode(r: &mut Reader<'_>) -> Result<PublicKey, DsaError> {
        if r.u16("pubkey type")? != PUBKEY_TYPE_DSA {
            return Err(DsaError::UnsupportedKeyType);
        }
        let p = r.data(MAX_FIELD_BYTES, "dsa p")?;
        let q = r.data(MAX_FIELD_BYTES, "dsa q")?;
        let g = r.data(MAX_FIELD_BYTES, "dsa g")?;
        let y = r.data(MAX_FIELD_BYTES, "dsa y")?;
        // The received bytes, rebuilt exactly (MPI lengths as sent).
        let mut w = Writer::new();
        w.u16(PUBKEY_TYPE_DSA).data(p).data(q).data(g).data(y);
        PublicKey::build(p, q, g, y, w.finish())
    }

    /// A public key from big-endian p, q, g, y, encoded minimally.
    fn from_values(p: &[u8], q: &[u8], g: &[u8], y: &[u8]) -> Result<PublicKey, DsaError> {
        let mut w = Writer::new();
        w.u16(PUBKEY_TYPE_DSA).mpi(p).mpi(q).mpi(g).mpi(y);
        PublicKey::build(p, q, g, y, w.finish())
    }

    fn build(
        p: &[u8],
        q: &[u8],
        g: &[u8],
        y: &[u8],
        encoded: Vec<u8>,
    ) -> Result<PublicKey, DsaError> {
        let (p, q, g, y) = (strip(p), strip(q), strip(g), strip(y));
        let p_bits = bit_len(p);
        if !(MIN_P_BITS..=MAX_P_BITS).contains(&p_bits) {
            return Err(DsaError::InvalidParameter("p size"));
        }
        let q_bits = bit_len(q);
        // Whole bytes: see the module doc (the `dsa` crate truncates the prehash bytewise).
        if !(MIN_Q_BITS..=MAX_Q_BITS).contains(&q_bits) || !q_bits.is_multiple_of(8) {
            return Err(DsaError::InvalidParameter("q size"));
        }
        let p_prec = precision(p_bits);
        let q_prec = precision(q_bits);
        let p_u = uint(p, p_prec, "p")?;
        let q_u = uint(q, q_prec, "q")?;
        let g_u = uint(g, p_prec, "g")?;
        let y_u = uint(y, p_prec, "y")?;
        let two = BoxedUint::from(2u8);
        if g_u < two || g_u >= p_u {
            return Err(DsaError::InvalidParameter("g"));
        }
        if y_u < two || y_u >= p_u {
            return Err(DsaError::InvalidParameter("y"));
        }
        let p_odd = Odd::new(p_u.clone())
            .into_option()
            .ok_or(DsaError::InvalidParameter("p even"))?;
        // q divides p - 1 (q < p by the sizes, so the resize keeps its value).
        let q_wide = NonZero::new((&q_u).resize_unchecked(p_prec))
            .into_option()
            .ok_or(DsaError::InvalidParameter("q"))?;
        let p_minus_1 = p_u.wrapping_sub(BoxedUint::one());
        if !bool::from(p_minus_1.rem(&q_wide).is_zero()) {
            return Err(DsaError::InvalidParameter("q does not divide p-1"));
        }
        // g has order q (g ≠ 1 was checked above). The `dsa` crate checks y^q = 1 itself.
        let params = BoxedMontyParams::new_vartime(p_odd);
        if !bool::from(
            BoxedMontyForm::new(g_u.clone(), &params)
                .pow(&q_u)
                .retrieve()
                .is_one(),
        ) {
            return Err(DsaError::InvalidParameter("g order"));
        }
        let components = dsa::Components::from_components_unchecked(p_u, q_u, g_u)
            .map_err(|_| DsaError::InvalidParameter("components"))?;
        let key = dsa::VerifyingKey::from_components(components, y_u)
            .map_err(|_| DsaError::InvalidParameter("y order"))?;
        Ok(PublicKey {
            encoded,
            key,
            q_bytes: q_bits / 8,
        })
    }

    /// Writes the PUBKEY encoding (type SHORT included).
    pub fn encode(&self, w: &mut Writer) {
        w.raw(&self.encoded);
    }

    /// The PUBKEY encoding, type SHORT included.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encoded.clone()
    }

    /// libotr's fingerprint: SHA-1 of the encoding without the 2-byte type.
    pub fn fingerprint(&self) -> [u8; FINGERPRINT_LEN] {
        Sha1::digest(self.encoded.get(2..).unwrap_or_default()).into()
    }

    /// Checks an OTRv3 signature `r ‖ s` over the 32-byte MAC `m` (taken mod q, as libotr).
    pub fn verify(&self, m: &[u8; 32], sig: &[u8]) -> Result<(), DsaError> {
        if sig.len() != self.sig_len() {
            return Err(DsaError::BadSignature);
        }
        let (r, s) = sig.split_at(self.q_bytes);
        let prec = self.key.components().q().bits_precision();
        let r = BoxedUint::from_be_slice(r, prec).map_err(|_| DsaError::BadSignature)?;
        let s = BoxedUint::from_be_slice(s, prec).map_err(|_| DsaError::BadSignature)?;
        // None when r or s is zero; the crate refuses r, s ≥ q.
        let sig = dsa::Signature::from_components(r, s).ok_or(DsaError::BadSignature)?;
        self.key
            .verify_prehash(&self.reduce(m), &sig)
            .map_err(|_| DsaError::BadSignature)
    }

    /// Signature length: r and s, each as wide as q (40 bytes for libotr keys).
    pub fn sig_len(&self) -> usize {
        2 * self.q_bytes
    }

    /// `m mod q`, big-endian in exactly `q_bytes` bytes (the prehash the `dsa` crate gets).
    fn reduce(&self, m: &[u8; 32]) -> Vec<u8> {
        let q = self.key.components().q();
        let wide = precision(256).max(q.bits_precision());
        let m = BoxedUint::from_be_slice_truncated(m, wide);
        fixed_width(&m.rem(q), self.q_bytes)
    }
}

/// A DSA private key. x is wiped on drop (by the `dsa` crate's `SigningKey`). No Debug, no
/// Clone.
pub struct PrivateKey {
    public: PublicKey,
    key: dsa::SigningKey,
}

impl PrivateKey {
    /// Generates DSA-1024/160 parameters and a key pair, as libotr does. About a second in an optimised build.
    pub fn generate(rng: &mut impl rand_core::CryptoRng) -> Result<PrivateKey, DsaError> {
        // Deprecated in `dsa` because 1024-bit DSA is weak (under 112-bit security). OTRv3
        // peers need it: libotr 4.x generates only DSA-1024/160 and its signatures are fixed
        // at 2 × 20 bytes. otrbnc prefers OTRv4+ whenever the peer has it.
        #[allow(deprecated)]
        let size = dsa::KeySize::DSA_1024_160;
        let Ok(components) = dsa::Components::try_generate_from_rng_with_key_size(rng, size);
        let Ok(key) = dsa::SigningKey::try_generate_from_rng_with_components(rng, components);
        // Rebuilt through from_parts so that every key has the same representation and has
        // passed the same checks.
        let (p, q, g, y, x) = parts_of(&key);
        PrivateKey::from_parts(&p, &q, &g, &y, &x).map_err(|_| DsaError::Generation)
    }

    /// A key from big-endian p, q, g, y, x (leading zero bytes allowed). Checks the public
    /// part as [`PublicKey::decode`] does, that 0 < x < q, and that y = g^x mod p.
    pub fn from_parts(
        p: &[u8],
        q: &[u8],
        g: &[u8],
        y: &[u8],
        x: &[u8],
    ) -> Result<PrivateKey, DsaError> {
        let public = PublicKey::from_values(p, q, g, y)?;
        let components = public.key.components();
        let q_prec = components.q().bits_precision();
        let x = Zeroizing::new(
            BoxedUint::from_be_slice(strip(x), q_prec).map_err(|_| DsaError::InvalidPrivateKey)?,
        );
        if bool::from(x.is_zero()) || *x >= **components.q() {
            return Err(DsaError::InvalidPrivateKey);
        }
        // y = g^x mod p (constant time in x).
        let params = BoxedMontyParams::new(components.p().clone());
        let gx = BoxedMontyForm::new((**components.g()).clone(), &params)
            .pow(&x)
            .retrieve();
        if gx != **public.key.y() {
            return Err(DsaError::InvalidPrivateKey);
        }
        let key = dsa::SigningKey::from_components(public.key.clone(), (*x).clone())
            .map_err(|_| DsaError::InvalidPrivateKey)?;
        Ok(PrivateKey { public, key })
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Signs the 32-byte MAC `m` (taken mod q, as libotr) with a fresh random k: `r ‖ s`,
    /// each padded to the width of q. A valid key never fails in practice (see
    /// `SIGN_ATTEMPTS`); if it did, the all-zero string returned never verifies.
    pub fn sign(&self, rng: &mut impl rand_core::CryptoRng, m: &[u8; 32]) -> Vec<u8> {
        let z = self.public.reduce(m);
        let width = self.public.q_bytes;
        for _ in 0..SIGN_ATTEMPTS {
            if let Ok(sig) = self.key.sign_prehash_with_rng(rng, &z) {
                let mut out = fixed_width(sig.r(), width);
                out.extend_from_slice(&fixed_width(sig.s(), width));
                return out;
            }
        }
        vec![0; self.public.sig_len()]
    }

    /// x, big-endian, as wide as q (for sealing in a store).
    pub fn x_bytes(&self) -> Zeroizing<Vec<u8>> {
        let all = Zeroizing::new(self.key.x().to_be_bytes());
        let width = self.public.q_bytes;
        let start = all.len().saturating_sub(width);
        Zeroizing::new(all.get(start..).unwrap_or_default().to_vec())
    }

    /// The key as five MPIs p, q, g, y, x: the form otrbnc seals in its identity file.
    pub fn to_secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        let (p, q, g, y, x) = self.to_parts();
        let mut w = Writer::new();
        w.mpi(&p).mpi(&q).mpi(&g).mpi(&y).mpi(&x);
        Zeroizing::new(w.finish())
    }

    /// Reads [`PrivateKey::to_secret_bytes`] back, with every check of
    /// [`PrivateKey::from_parts`].
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<PrivateKey, DsaError> {
        let mut r = Reader::new(bytes);
        let mut next = |field| {
            r.data(MAX_P_BITS / 8 + 1, field)
                .map_err(|_| DsaError::InvalidPrivateKey)
        };
        let (p, q, g, y, x) = (next("p")?, next("q")?, next("g")?, next("y")?, next("x")?);
        if !r.rest().is_empty() {
            return Err(DsaError::InvalidPrivateKey);
        }
        PrivateKey::from_parts(p, q, g, y, x)
    }

    /// p, q, g, y (minimal big-endian) and x (big-endian, as wide as q).
    #[allow(clippy::type_complexity)]
    pub fn to_parts(&self) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>, Zeroizing<Vec<u8>>) {
        let c = self.public.key.components();
        (
            minimal(c.p()),
            minimal(c.q()),
            minimal(c.g()),
            minimal(self.public.key.y()),
            self.x_bytes(),
        )
    }
}

/// The parts of a `dsa` key, for [`PrivateKey::generate`].
#[allow(clippy::type_complexity)]
fn parts_of(key: &dsa::SigningKey) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>, Zeroizing<Vec<u8>>) {
    let vk = key.verifying_key();
    let c = vk.components();
    let x = Zeroizing::new(key.x().to_be_bytes());
    (
        minimal(c.p()),
        minimal(c.q()),
        minimal(c.g()),
        minimal(vk.y()),
        Zeroizing::new(x.to_vec()),
    )
}

/// libotr's `otrl_privkey_hash_to_human`: five groups of eight uppercase hex digits.
pub fn fingerprint_human(fp: &[u8; FINGERPRINT_LEN]) -> String {
    let mut out = String::with_capacity(44);
    for (i, chunk) in fp.chunks(4).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        for b in chunk {
            out.push_str(&format!("{b:02X}"));
        }
    }
    out
}

/// Parses a fingerprint as people paste it: libotr's human form, or 40 hex digits in either
/// case, spaces anywhere ignored.
pub fn parse_fingerprint(s: &str) -> Option<[u8; FINGERPRINT_LEN]> {
    let s = s.trim();
    if s.len() > 2 * FINGERPRINT_LEN * 2 {
        return None;
    }
    let digits: Vec<u8> = s.bytes().filter(|&b| b != b' ').collect();
    if digits.len() != 2 * FINGERPRINT_LEN {
        return None;
    }
    let mut fp = [0u8; FINGERPRINT_LEN];
    for (out, pair) in fp.iter_mut().zip(digits.chunks(2)) {
        let (hi, lo) = match pair {
            [hi, lo] => (hex_val(*hi)?, hex_val(*lo)?),
            _ => return None,
        };
        *out = hi << 4 | lo;
    }
    Some(fp)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `b` without leading zero bytes.
fn strip(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

/// Bit length of a big-endian value without leading zero bytes.
fn bit_len(b: &[u8]) -> usize {
    match b.first() {
        Some(&top) => b.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    }
}

/// `bits` rounded up to whole 64-bit limbs (the precision the `dsa` crate expects).
fn precision(bits: usize) -> u32 {
    let limbs = bits.div_ceil(64).max(1);
    u32::try_from(limbs * 64).unwrap_or(u32::MAX)
}

fn uint(b: &[u8], prec: u32, what: &'static str) -> Result<BoxedUint, DsaError> {
    BoxedUint::from_be_slice(b, prec).map_err(|_| DsaError::InvalidParameter(what))
}

/// The minimal big-endian bytes of `v` (not for secrets: the copy is not wiped).
fn minimal(v: &BoxedUint) -> Vec<u8> {
    strip(&v.to_be_bytes()).to_vec()
}

/// `v` big-endian in exactly `width` bytes (`v` must fit; the caller's values are < q).
fn fixed_width(v: &BoxedUint, width: usize) -> Vec<u8> {
    let all = v.to_be_bytes();
    let mut out = vec![0u8; width];
    let take = all.len().min(width);
    if let (Some(dst), Some(src)) = (out.get_mut(width - take..), all.get(all.len() - take..)) {
        dst.copy_from_slice(src);
    }
    out
}

#[cfg(test)]
mod tests;
