//! Which nick to try next when the server refuses ours during registration (433 in use,
//! 432 erroneous, 437 unavailable): the configured alternatives, then variants of the nick
//! that fit the server's NICKLEN, and after a fixed number of tries none (give up, reconnect
//! later) instead of hanging unregistered on an open socket.

/// The NICKLEN assumed before the server declared one (RFC 1459's nine characters).
pub const DEFAULT_NICKLEN: usize = 9;

/// Generated variants tried after the alternatives.
pub const MAX_VARIANTS: usize = 8;

/// Suffixes of the generated variants, in order: `_`, `__`, then `1`, `2`, …
fn suffix(k: usize) -> String {
    match k {
        0 => "_".to_string(),
        1 => "__".to_string(),
        k => (k - 1).to_string(),
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// The nick to try after `refused` refusals (`refused` ≥ 1): `alts[refused - 1]` while
/// alternatives last, then `base` cut to fit `nicklen` bytes with a suffix. `None` when the
/// tries are used up or nothing fits (a NICKLEN below 2 leaves no room for a variant).
pub fn candidate(base: &str, alts: &[String], nicklen: usize, refused: usize) -> Option<String> {
    let n = refused.checked_sub(1)?;
    if let Some(alt) = alts.get(n) {
        return Some(alt.clone());
    }
    let k = n - alts.len();
    if k >= MAX_VARIANTS {
        return None;
    }
    let suffix = suffix(k);
    let room = nicklen.checked_sub(suffix.len())?;
    let stem = truncate(base, room);
    // A variant keeps at least the nick's first character: a nick may not start with a digit.
    if stem.is_empty() {
        return None;
    }
    Some(format!("{stem}{suffix}"))
}

/// The NICKLEN to assume after the server answered `refused` with 432 (erroneous): a
/// generated variant or the configured nick were valid in form, so the server wants it
/// shorter. Never below 1; an alternative's refusal says nothing about length.
pub fn shorter_after_432(nicklen: usize, refused: &str) -> usize {
    nicklen.min(refused.len().saturating_sub(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(base: &str, alts: &[&str], nicklen: usize) -> Vec<String> {
        let alts: Vec<String> = alts.iter().map(|a| a.to_string()).collect();
        (1..)
            .map_while(|n| candidate(base, &alts, nicklen, n))
            .collect()
    }

    #[test]
    fn alternatives_come_first_then_variants_within_nicklen() {
        let got = all("alice", &["alicia", "al"], 9);
        assert_eq!(
            got,
            [
                "alicia", "al", "alice_", "alice__", "alice1", "alice2", "alice3", "alice4",
                "alice5", "alice6"
            ]
        );
    }

    #[test]
    fn variants_of_a_long_nick_are_cut_to_fit() {
        let got = all("verylongnickname", &[], 9);
        assert_eq!(got.first().map(String::as_str), Some("verylong_"));
        assert_eq!(got.get(1).map(String::as_str), Some("verylon__"));
        assert_eq!(got.get(2).map(String::as_str), Some("verylong1"));
        assert!(got.iter().all(|n| n.len() <= 9), "{got:?}");
        // Each distinct: a refused variant is never tried again.
        let mut uniq = got.clone();
        uniq.dedup();
        assert_eq!(uniq.len(), got.len());
    }

    #[test]
    fn the_tries_are_bounded() {
        let alts: Vec<String> = (0..3).map(|i| format!("alt{i}")).collect();
        let n = (1..1000)
            .take_while(|&n| candidate("bob", &alts, 30, n).is_some())
            .count();
        assert_eq!(n, alts.len() + MAX_VARIANTS);
        assert_eq!(candidate("bob", &alts, 30, 0), None);
    }

    #[test]
    fn multibyte_nicks_are_cut_on_character_boundaries() {
        let got = candidate("ñañañaña", &[], 6, 1);
        assert_eq!(got.as_deref(), Some("ñañ_"));
        assert!(got.is_some_and(|n| n.len() <= 6));
    }

    #[test]
    fn a_tiny_nicklen_leaves_no_variant() {
        assert_eq!(candidate("alice", &[], 1, 1), None);
        assert_eq!(candidate("alice", &[], 2, 1).as_deref(), Some("a_"));
        // "__" needs three bytes: skipped as None, the bounded loop then gives up.
        assert_eq!(candidate("alice", &[], 2, 2), None);
    }

    #[test]
    fn a_432_shortens_the_assumed_nicklen() {
        assert_eq!(shorter_after_432(9, "alice_"), 5);
        assert_eq!(shorter_after_432(4, "alice_"), 4);
        assert_eq!(shorter_after_432(9, ""), 1);
        // After the shortening the next variant fits what the server accepts.
        let next = candidate("alice", &[], shorter_after_432(9, "alice_"), 2);
        assert_eq!(next.as_deref(), Some("ali__"));
    }
}
