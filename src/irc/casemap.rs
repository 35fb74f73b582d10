//! Nick case folding as the server declares it (ISUPPORT `CASEMAPPING`, and `UTF8MAPPING` as
//! Ergo adds it).
//!
//! The opt-in check compares folded nicks: a fold that tells apart two spellings the server
//! delivers to one user lets text typed under one of them leave in clear. So folding errs on
//! the side of merging:
//! * ASCII is folded exactly as declared (`ascii`, `rfc1459`, `strict-rfc1459`).
//! * PRECIS (`rfc8265`, formerly `rfc7613`; Ergo sends `CASEMAPPING=ascii UTF8MAPPING=rfc8265`)
//!   is folded as Ergo does: the UsernameCaseMapped profile, repeated until stable (RFC 8264
//!   §7). A nick the profile rejects is a nick the server rejects; it is folded as below.
//! * The rest of Unicode is folded conservatively (Unicode compatibility caseless matching,
//!   default-ignorable code points dropped): no declaration says how the server folds it, and
//!   some fold more than they declare (Ergo's "permissive" mode says `ascii`). This fold merges
//!   every pair of spellings that any of the mappings above, or Unicode case folding, merges.
//! * A mapping we do not know (`utf8`, which no specification defines, among others) folds
//!   as `rfc1459` with that Unicode fold: the coarsest of all.

use caseless::Caseless;
use precis_core::profile::PrecisFastInvocation;
use precis_profiles::UsernameCaseMapped;
use unicode_normalization::UnicodeNormalization;

/// The server's case mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaseMapping {
    /// `ascii`: A-Z fold.
    Ascii,
    /// `rfc1459` (the default when the server says nothing, and for unknown mappings): also
    /// `[]\~` → `{}|^`.
    #[default]
    Rfc1459,
    /// `strict-rfc1459`: `[]\` → `{}|`.
    StrictRfc1459,
    /// `rfc8265` (PRECIS UsernameCaseMapped), also named `rfc7613` and `precis`.
    Rfc8265,
}

/// Rounds of PRECIS or caseless folding before a result counts as stable (RFC 8264 §7 and
/// Ergo's `iterateFolding`).
const FOLD_ROUNDS: usize = 4;

impl CaseMapping {
    /// From the ISUPPORT values of `CASEMAPPING` and `UTF8MAPPING` (`None`: not declared).
    pub fn from_isupport(casemapping: Option<&str>, utf8mapping: Option<&str>) -> CaseMapping {
        let precis = |v: &str| matches!(v, "rfc8265" | "rfc7613" | "precis");
        let declared = casemapping.map(str::to_ascii_lowercase);
        let base = match declared.as_deref() {
            None | Some("rfc1459") => CaseMapping::Rfc1459,
            Some("ascii") => CaseMapping::Ascii,
            Some("strict-rfc1459" | "rfc1459-strict") => CaseMapping::StrictRfc1459,
            Some(v) if precis(v) => CaseMapping::Rfc8265,
            Some(_) => CaseMapping::Rfc1459,
        };
        // UTF8MAPPING says how non-ASCII folds; with `ascii` for ASCII, PRECIS is exact. With
        // the RFC 1459 specials (no known server) the conservative Unicode fold covers it.
        let utf8 = utf8mapping.map(str::to_ascii_lowercase);
        match (base, utf8.as_deref()) {
            (CaseMapping::Ascii, Some(u)) if precis(u) => CaseMapping::Rfc8265,
            _ => base,
        }
    }

    /// Folds `s` for comparison.
    pub fn fold(self, s: &str) -> String {
        if s.is_ascii() {
            return s.chars().map(|c| self.fold_ascii(c)).collect();
        }
        match self {
            CaseMapping::Rfc8265 => {
                precis_fold(s).unwrap_or_else(|| caseless_fold(s, CaseMapping::Ascii))
            }
            _ => caseless_fold(s, self),
        }
    }

    /// The mapping's rule for one ASCII character (PRECIS lower-cases ASCII letters only).
    fn fold_ascii(self, c: char) -> char {
        match (self, c) {
            (_, 'A'..='Z') => c.to_ascii_lowercase(),
            (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, '[') => '{',
            (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, ']') => '}',
            (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, '\\') => '|',
            (CaseMapping::Rfc1459, '~') => '^',
            _ => c,
        }
    }
}

/// PRECIS UsernameCaseMapped, repeated until stable as Ergo does; `None` when the profile
/// rejects `s` or it does not settle.
fn precis_fold(s: &str) -> Option<String> {
    let mut cur = s.to_string();
    for _ in 0..FOLD_ROUNDS {
        let next = <UsernameCaseMapped as PrecisFastInvocation>::enforce(cur.as_str())
            .ok()?
            .into_owned();
        if next == cur {
            return Some(next);
        }
        cur = next;
    }
    None
}

/// Unicode compatibility caseless matching (Unicode §3.13, D146), in NFC, without
/// default-ignorable code points, then the mapping's ASCII rule; repeated until stable.
fn caseless_fold(s: &str, ascii_rule: CaseMapping) -> String {
    let mut cur = s.to_string();
    for _ in 0..FOLD_ROUNDS {
        let next: String = cur
            .chars()
            .filter(|&c| !is_default_ignorable(c))
            .nfd()
            .default_case_fold()
            .nfkd()
            .default_case_fold()
            .nfkc()
            .filter(|&c| !is_default_ignorable(c))
            .map(|c| {
                if c.is_ascii() {
                    ascii_rule.fold_ascii(c)
                } else {
                    c
                }
            })
            .collect();
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

/// Default_Ignorable_Code_Point (Unicode DerivedCoreProperties): invisible, and dropped by
/// servers that normalize them away or refused by those that do not.
fn is_default_ignorable(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

#[cfg(test)]
mod tests;
