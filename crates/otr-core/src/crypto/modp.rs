//! The RFC 3526 group 15 (3072-bit MODP) used by SMP: prime p, generator 2, subgroup order
//! q = (p-1)/2. Exponentiation with secret exponents uses crypto-bigint's constant-time
//! Montgomery ladder.

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U3072};

/// p = 2^3072 - 2^3008 - 1 + 2^64 * (floor(2^2942 * pi) + 1690314), as printed in RFC 3526 §4.
pub const MODP3072_P_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1",
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245",
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D",
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D",
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9",
    "DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64",
    "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B",
    "F12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31",
    "43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

/// The group parameters.
pub struct Modp3072 {
    p: Odd<U3072>,
    params: FixedMontyParams<{ U3072::LIMBS }>,
}

impl Modp3072 {
    /// Builds the parameters from the RFC constant.
    pub fn new() -> Self {
        // Odd::from_be_hex checks oddness at compile time in const context; p is odd.
        const P: Odd<U3072> = Odd::<U3072>::from_be_hex(MODP3072_P_HEX);
        let p = P;
        let params = FixedMontyParams::new(p);
        Modp3072 { p, params }
    }

    /// The prime p.
    pub fn p(&self) -> &U3072 {
        self.p.as_ref()
    }

    /// q = (p - 1) / 2.
    pub fn q(&self) -> U3072 {
        self.p.as_ref().wrapping_sub(&U3072::ONE).shr_vartime(1)
    }

    /// base^exp mod p, constant-time in `exp` (its full 3072-bit width is always processed).
    pub fn pow(&self, base: &U3072, exp: &U3072) -> U3072 {
        FixedMontyForm::new(base, &self.params).pow(exp).retrieve()
    }
}

impl Default for Modp3072 {
    fn default() -> Self {
        Self::new()
    }
}
