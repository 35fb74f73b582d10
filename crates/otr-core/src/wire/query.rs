//! OTR query messages (`?OTRvP?`) and whitespace tags: the two plaintext ways a client
//! advertises which OTR versions it speaks.

use std::fmt;

/// Distinct version characters one advertisement may carry; real clients send one to three.
pub const MAX_VERSIONS: usize = 8;

/// The version character of OTRv4+ (this project's post-quantum variant).
pub const OTRV4PLUS_CHAR: u8 = b'P';

/// The version character of stock OTRv3.
pub const OTRV3_CHAR: u8 = b'3';

/// The version character of stock OTRv4.
pub const OTRV4_CHAR: u8 = b'4';

/// Starts a query message; version characters and a closing `?` follow.
pub const QUERY_PREFIX: &str = "?OTRv";

/// The OTRv1-era query, which may be followed by `v<versions>?`.
pub const LEGACY_QUERY_PREFIX: &str = "?OTR?";

/// The version implied by [`LEGACY_QUERY_PREFIX`].
pub const LEGACY_VERSION_CHAR: u8 = b'1';

/// The 16-byte whitespace sequence that announces a whitespace tag.
pub const WHITESPACE_TAG_BASE: &str = " \t  \t\t\t\t \t \t \t  ";

/// Bytes per version group in a whitespace tag (one bit per byte).
pub const WHITESPACE_GROUP_LEN: usize = 8;

/// Why a set of version characters could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum QueryError {
    /// Version characters are ASCII letters and digits only.
    #[error("invalid version character 0x{0:02x}")]
    InvalidChar(u8),
    /// The same version was listed twice.
    #[error("duplicate version character {:?}", char::from(*.0))]
    Duplicate(u8),
    /// More than [`MAX_VERSIONS`] distinct versions.
    #[error("more than {MAX_VERSIONS} versions")]
    TooMany,
}

/// An ordered set of at most [`MAX_VERSIONS`] distinct ASCII-alphanumeric version characters.
///
/// Fixed-size so that parsing a peer's advertisement never allocates.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Versions {
    chars: [u8; MAX_VERSIONS],
    len: u8,
}

impl Versions {
    /// The empty set.
    pub const fn new() -> Self {
        Self {
            chars: [0; MAX_VERSIONS],
            len: 0,
        }
    }

    /// The set we advertise: OTRv4+ only.
    pub const fn ours() -> Self {
        let mut chars = [0; MAX_VERSIONS];
        chars[0] = OTRV4PLUS_CHAR;
        Self { chars, len: 1 }
    }

    /// Builds a set from characters in order, rejecting invalid, duplicate or too many.
    pub fn from_chars(chars: &[u8]) -> Result<Self, QueryError> {
        let mut v = Self::new();
        for &c in chars {
            v.push(c)?;
        }
        Ok(v)
    }

    /// Appends a version character.
    pub fn push(&mut self, c: u8) -> Result<(), QueryError> {
        if !c.is_ascii_alphanumeric() {
            return Err(QueryError::InvalidChar(c));
        }
        if self.contains(c) {
            return Err(QueryError::Duplicate(c));
        }
        let slot = self
            .chars
            .get_mut(usize::from(self.len))
            .ok_or(QueryError::TooMany)?;
        *slot = c;
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    /// Whether version `c` is in the set.
    pub fn contains(&self, c: u8) -> bool {
        self.as_bytes().contains(&c)
    }

    /// The version characters in the order they were received.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        self.as_bytes().iter().copied()
    }

    /// The version characters as a string, in the order received.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored, so this cannot fail; "" keeps it total regardless.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// Number of versions in the set.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn as_bytes(&self) -> &[u8] {
        self.chars.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl fmt::Debug for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Versions").field(&self.as_str()).finish()
    }
}

/// Finds the first query message in `text` and returns the versions it offers.
///
/// The query may sit anywhere in the line. Only the first `?OTRv` or `?OTR?` counts; if that
/// one is malformed (a non-alphanumeric or repeated character before the closing `?`, no
/// closing `?`, or more than [`MAX_VERSIONS`] versions) the whole line is treated as having
/// no query, rather than searching on, so that one line is never read two ways. The legacy
/// `?OTR?` form records version `'1'` and may continue with `v<versions>?` (`?OTR?v2?`).
/// Unknown versions are recorded; it is the caller's business which ones it speaks.
pub fn parse_query(text: &str) -> Option<Versions> {
    let bytes = text.as_bytes();
    let (start, legacy) =
        text.match_indices("?OTR")
            .find_map(|(i, _)| match bytes.get(i.checked_add(4)?) {
                Some(b'v') => Some((i, false)),
                Some(b'?') => Some((i, true)),
                _ => None,
            })?;
    let mut versions = Versions::new();
    // Position of the 'v' that starts the version list, if there is one.
    let mut v_at = start.checked_add(4)?;
    if legacy {
        versions.push(LEGACY_VERSION_CHAR).ok()?;
        v_at = v_at.checked_add(1)?;
        if bytes.get(v_at) != Some(&b'v') {
            return Some(versions);
        }
    }
    let list = bytes.get(v_at.checked_add(1)?..)?;
    for &c in list.iter().take(MAX_VERSIONS.saturating_add(1)) {
        if c == b'?' {
            return Some(versions);
        }
        versions.push(c).ok()?;
    }
    None
}

/// Builds our query message: `?OTRv<versions>?` followed by a space and `human_text` if any.
///
/// CR, LF and NUL in `human_text` become spaces so the query stays a single IRC line.
pub fn format_query(versions: &Versions, human_text: &str) -> String {
    let mut out = String::with_capacity(
        QUERY_PREFIX
            .len()
            .saturating_add(versions.len())
            .saturating_add(2)
            .saturating_add(human_text.len()),
    );
    out.push_str(QUERY_PREFIX);
    out.push_str(versions.as_str());
    out.push('?');
    if !human_text.is_empty() {
        out.push(' ');
        out.extend(human_text.chars().map(|c| match c {
            '\r' | '\n' | '\0' => ' ',
            other => other,
        }));
    }
    out
}

/// Finds the first whitespace tag in `text`; returns its versions and `text` without it.
///
/// After the 16-byte base, consecutive 8-byte all-space/tab groups are decoded (SPACE = 0,
/// TAB = 1, MSB first). A group stops the tag if it does not decode to an ASCII letter or
/// digit, so ordinary spaces that follow a tag are not swallowed. Duplicate versions and
/// versions beyond [`MAX_VERSIONS`] are consumed but not recorded. If only spaces and tabs
/// remain after the groups, they are removed too: that covers the extra TAB weechat-otr
/// appends, and a final group shorter than 8 bytes is decoded as if padded with spaces,
/// because that is exactly what a server stripping trailing spaces leaves behind.
pub fn find_whitespace_tag(text: &str) -> Option<(Versions, String)> {
    let start = text.find(WHITESPACE_TAG_BASE)?;
    let bytes = text.as_bytes();
    let mut versions = Versions::new();
    let mut end = start.checked_add(WHITESPACE_TAG_BASE.len())?;
    while let Some(group) = end
        .checked_add(WHITESPACE_GROUP_LEN)
        .and_then(|group_end| bytes.get(end..group_end))
    {
        match decode_group(group) {
            Some(c) if c.is_ascii_alphanumeric() => {
                // Duplicates and overflow are tolerated here: the tag is still removed.
                let _ = versions.push(c);
                end = end.saturating_add(WHITESPACE_GROUP_LEN);
            }
            _ => break,
        }
    }
    let rest = bytes.get(end..).unwrap_or(&[]);
    if !rest.is_empty() && rest.iter().all(|&b| is_tag_byte(b)) {
        if rest.len() < WHITESPACE_GROUP_LEN
            && let Some(c) = decode_group(rest).filter(u8::is_ascii_alphanumeric)
        {
            let _ = versions.push(c);
        }
        end = bytes.len();
    }
    let mut out = String::with_capacity(text.len().saturating_sub(end.saturating_sub(start)));
    out.push_str(text.get(..start)?);
    out.push_str(text.get(end..)?);
    Some((versions, out))
}

/// Builds the whitespace tag (base plus one group per version) for `versions`.
pub fn whitespace_tag(versions: &Versions) -> String {
    let mut out = String::with_capacity(
        WHITESPACE_TAG_BASE
            .len()
            .saturating_add(versions.len().saturating_mul(WHITESPACE_GROUP_LEN)),
    );
    out.push_str(WHITESPACE_TAG_BASE);
    for c in versions.iter() {
        for bit in (0..8).rev() {
            out.push(if (c >> bit) & 1 == 1 { '\t' } else { ' ' });
        }
    }
    out
}

/// Appends a whitespace tag to the user's `text`; `None` for CTCP messages.
///
/// CTCP (text starting with `\x01`) is never tagged because the tag would corrupt the CTCP
/// framing. If the tagged text ends in a space, one TAB is appended as weechat-otr does,
/// because IRC clients and servers may strip trailing spaces and so truncate the tag.
pub fn tag_message(text: &str, versions: &Versions) -> Option<String> {
    if text.starts_with('\x01') {
        return None;
    }
    let tag = whitespace_tag(versions);
    let mut out = String::with_capacity(text.len().saturating_add(tag.len()).saturating_add(1));
    out.push_str(text);
    out.push_str(&tag);
    if out.ends_with(' ') {
        out.push('\t');
    }
    Some(out)
}

fn is_tag_byte(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Decodes up to 8 space/tab bytes MSB-first; missing low bits count as spaces (zero).
fn decode_group(group: &[u8]) -> Option<u8> {
    if group.len() > WHITESPACE_GROUP_LEN {
        return None;
    }
    let mut value: u8 = 0;
    for (i, &b) in group.iter().enumerate() {
        let bit = match b {
            b' ' => 0,
            b'\t' => 1,
            _ => return None,
        };
        // i < 8 was checked above, so the shift is in range.
        value |= bit << (7usize.saturating_sub(i));
    }
    Some(value)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TAG_3: &str = "  \t\t  \t\t";
    const TAG_4: &str = "  \t\t \t  ";
    const TAG_P: &str = " \t \t    ";

    fn v(s: &str) -> Versions {
        Versions::from_chars(s.as_bytes()).unwrap()
    }

    #[test]
    fn base_bytes_match_spec() {
        assert_eq!(
            WHITESPACE_TAG_BASE.as_bytes(),
            &[
                0x20, 0x09, 0x20, 0x20, 0x09, 0x09, 0x09, 0x09, 0x20, 0x09, 0x20, 0x09, 0x20, 0x09,
                0x20, 0x20
            ]
        );
    }

    #[test]
    fn version_groups_match_spec() {
        assert_eq!(
            whitespace_tag(&v("3")),
            format!("{WHITESPACE_TAG_BASE}{TAG_3}")
        );
        assert_eq!(
            whitespace_tag(&v("4")),
            format!("{WHITESPACE_TAG_BASE}{TAG_4}")
        );
        assert_eq!(
            whitespace_tag(&v("P")),
            format!("{WHITESPACE_TAG_BASE}{TAG_P}")
        );
        assert_eq!(
            whitespace_tag(&v("P3")),
            format!("{WHITESPACE_TAG_BASE}{TAG_P}{TAG_3}")
        );
        assert_eq!(whitespace_tag(&Versions::new()), WHITESPACE_TAG_BASE);
    }

    #[test]
    fn versions_set_semantics() {
        let mut s = Versions::new();
        assert!(s.is_empty());
        s.push(b'4').unwrap();
        s.push(b'P').unwrap();
        assert_eq!(s.push(b'4'), Err(QueryError::Duplicate(b'4')));
        assert_eq!(s.push(b'?'), Err(QueryError::InvalidChar(b'?')));
        assert_eq!(s.push(0xc3), Err(QueryError::InvalidChar(0xc3)));
        assert!(s.contains(b'P'));
        assert!(!s.contains(b'3'));
        assert_eq!(s.as_str(), "4P");
        assert_eq!(s.iter().collect::<Vec<_>>(), b"4P");
        assert_eq!(s.len(), 2);
        assert_eq!(format!("{s:?}"), "Versions(\"4P\")");
        assert_eq!(Versions::ours().as_str(), "P");
        let full = v("12345678");
        let mut f2 = full;
        assert_eq!(f2.push(b'9'), Err(QueryError::TooMany));
        assert_eq!(f2, full);
        assert_eq!(Versions::from_chars(b"123456789"), Err(QueryError::TooMany));
    }

    #[test]
    fn parse_query_basic() {
        assert_eq!(parse_query("?OTRvP?"), Some(v("P")));
        assert_eq!(parse_query("?OTRv34P?"), Some(v("34P")));
        assert_eq!(parse_query("?OTRvP3?"), Some(v("P3")));
        assert_eq!(parse_query("?OTRv?"), Some(Versions::new()));
        assert_eq!(
            parse_query("?OTRvP? Bob wants to talk privately; see https://example"),
            Some(v("P"))
        );
    }

    #[test]
    fn parse_query_anywhere_in_line() {
        assert_eq!(parse_query("hello ?OTRv4? there"), Some(v("4")));
        assert_eq!(parse_query("é?OTRvP?é"), Some(v("P")));
        assert_eq!(parse_query("?OTR:AAAA. then ?OTRv3?"), Some(v("3")));
    }

    #[test]
    fn parse_query_records_unknown_versions() {
        let q = parse_query("?OTRv24xP?").unwrap();
        assert_eq!(q.as_str(), "24xP");
        assert!(q.contains(OTRV4PLUS_CHAR));
    }

    #[test]
    fn parse_query_legacy_forms() {
        assert_eq!(parse_query("?OTR?"), Some(v("1")));
        assert_eq!(parse_query("?OTR? text"), Some(v("1")));
        assert_eq!(parse_query("?OTR?v2?"), Some(v("12")));
        assert_eq!(parse_query("?OTR?v?"), Some(v("1")));
        assert_eq!(parse_query("?OTR?v1?"), None);
        assert_eq!(parse_query("?OTR?v2"), None);
    }

    #[test]
    fn parse_query_first_occurrence_wins() {
        assert_eq!(parse_query("?OTR? then ?OTRvP?"), Some(v("1")));
        assert_eq!(parse_query("?OTRvP? then ?OTR?"), Some(v("P")));
        // A malformed first query hides later ones.
        assert_eq!(parse_query("?OTRv3 x? ?OTRvP?"), None);
    }

    #[test]
    fn parse_query_malformed() {
        assert_eq!(parse_query("?OTRv33?"), None);
        assert_eq!(parse_query("?OTRv3-?"), None);
        assert_eq!(parse_query("?OTRv3 ?"), None);
        assert_eq!(parse_query("?OTRv3é?"), None);
        assert_eq!(parse_query("?OTRv3"), None);
        assert_eq!(parse_query("?OTRv"), None);
        assert_eq!(parse_query("?OTRv123456789?"), None);
        assert_eq!(parse_query("?OTRv12345678?"), Some(v("12345678")));
    }

    #[test]
    fn parse_query_ignores_other_otr_prefixes() {
        assert_eq!(parse_query("?OTR:AAAA."), None);
        assert_eq!(parse_query("?OTR|1|2|3,1,2,x,"), None);
        assert_eq!(parse_query("?OTR Error: ?OTRv"), None);
        assert_eq!(parse_query("?otrvP?"), None);
        assert_eq!(parse_query("?OTR"), None);
        assert_eq!(parse_query(""), None);
    }

    #[test]
    fn format_query_layout() {
        assert_eq!(format_query(&Versions::ours(), ""), "?OTRvP?");
        assert_eq!(
            format_query(&Versions::ours(), "Let's talk privately."),
            "?OTRvP? Let's talk privately."
        );
        assert_eq!(format_query(&v("34P"), "x"), "?OTRv34P? x");
        assert_eq!(
            format_query(&Versions::ours(), "a\r\nQUIT\0"),
            "?OTRvP? a  QUIT "
        );
        let q = format_query(&v("4P"), "hi");
        assert_eq!(parse_query(&q), Some(v("4P")));
    }

    #[test]
    fn find_tag_at_end() {
        let text = format!("hello{WHITESPACE_TAG_BASE}{TAG_3}{TAG_P}");
        let (vs, rest) = find_whitespace_tag(&text).unwrap();
        assert_eq!(vs, v("3P"));
        assert_eq!(rest, "hello");
    }

    #[test]
    fn find_tag_in_middle_keeps_surrounding_text() {
        let text = format!("a{WHITESPACE_TAG_BASE}{TAG_4}b c");
        let (vs, rest) = find_whitespace_tag(&text).unwrap();
        assert_eq!(vs, v("4"));
        assert_eq!(rest, "ab c");
    }

    #[test]
    fn find_tag_base_only() {
        let (vs, rest) = find_whitespace_tag(&format!("x{WHITESPACE_TAG_BASE}y")).unwrap();
        assert!(vs.is_empty());
        assert_eq!(rest, "xy");
        assert_eq!(find_whitespace_tag("no tag here"), None);
        assert_eq!(find_whitespace_tag(""), None);
    }

    #[test]
    fn find_tag_records_unknown_and_ignores_duplicates() {
        let text = format!("{WHITESPACE_TAG_BASE}{TAG_4}{TAG_4}{}", group(b'z'));
        let (vs, rest) = find_whitespace_tag(&text).unwrap();
        assert_eq!(vs, v("4z"));
        assert_eq!(rest, "");
    }

    #[test]
    fn find_tag_more_than_max_versions_is_still_removed() {
        let mut text = String::from("m");
        text.push_str(WHITESPACE_TAG_BASE);
        for c in b"ABCDEFGHIJ" {
            text.push_str(&group(*c));
        }
        text.push('!');
        let (vs, rest) = find_whitespace_tag(&text).unwrap();
        assert_eq!(vs.as_str(), "ABCDEFGH");
        assert_eq!(rest, "m!");
    }

    #[test]
    fn find_tag_does_not_swallow_following_spaces() {
        // Eight spaces decode to NUL, which is no version: they stay user text.
        let text = format!("{WHITESPACE_TAG_BASE}{TAG_3}        word");
        let (vs, rest) = find_whitespace_tag(&text).unwrap();
        assert_eq!(vs, v("3"));
        assert_eq!(rest, "        word");
    }

    #[test]
    fn find_tag_tolerates_weechat_trailing_tab() {
        let text = format!("hi{WHITESPACE_TAG_BASE}{TAG_P}\t");
        let (vs, rest) = find_whitespace_tag(&text).unwrap();
        assert_eq!(vs, v("P"));
        assert_eq!(rest, "hi");
    }

    #[test]
    fn find_tag_recovers_group_truncated_by_space_stripping() {
        // 'P' ends in four spaces, '4' in two; a server stripping trailing spaces cuts them.
        let text = format!(
            "hi{WHITESPACE_TAG_BASE}{TAG_3}{}",
            TAG_P.trim_end_matches(' ')
        );
        let (vs, rest) = find_whitespace_tag(&text).unwrap();
        assert_eq!(vs, v("3P"));
        assert_eq!(rest, "hi");
        let text = format!("hi{WHITESPACE_TAG_BASE}{}", TAG_4.trim_end_matches(' '));
        assert_eq!(
            find_whitespace_tag(&text).unwrap(),
            (v("4"), "hi".to_owned())
        );
    }

    #[test]
    fn only_first_tag_counts() {
        let text = format!("a{WHITESPACE_TAG_BASE}{TAG_3}b{WHITESPACE_TAG_BASE}{TAG_P}");
        let (vs, rest) = find_whitespace_tag(&text).unwrap();
        assert_eq!(vs, v("3"));
        assert_eq!(rest, format!("ab{WHITESPACE_TAG_BASE}{TAG_P}"));
    }

    #[test]
    fn tag_message_round_trips() {
        for text in ["", "hello", "hello ", "trailing tab\t", "ünïcödé"] {
            for vs in [Versions::ours(), v("3"), v("34P"), v("4"), Versions::new()] {
                let tagged = tag_message(text, &vs).unwrap();
                assert!(!tagged.ends_with(' '), "{tagged:?}");
                let (got, rest) = find_whitespace_tag(&tagged).unwrap();
                assert_eq!(got, vs);
                assert_eq!(rest, text);
            }
        }
    }

    #[test]
    fn tag_message_appends_tab_only_when_needed() {
        let p = tag_message("x", &v("P")).unwrap();
        assert_eq!(p, format!("x{WHITESPACE_TAG_BASE}{TAG_P}\t"));
        let three = tag_message("x", &v("3")).unwrap();
        assert_eq!(three, format!("x{WHITESPACE_TAG_BASE}{TAG_3}"));
    }

    #[test]
    fn tag_message_skips_ctcp() {
        assert_eq!(tag_message("\x01ACTION waves\x01", &Versions::ours()), None);
        assert!(tag_message(" \x01ACTION", &Versions::ours()).is_some());
    }

    fn group(c: u8) -> String {
        (0..8)
            .rev()
            .map(|bit| if (c >> bit) & 1 == 1 { '\t' } else { ' ' })
            .collect()
    }

    proptest! {
        #[test]
        fn parsing_never_panics_on_unicode(s in any::<String>()) {
            let _ = parse_query(&s);
            if let Some((_, rest)) = find_whitespace_tag(&s) {
                prop_assert!(rest.len() + WHITESPACE_TAG_BASE.len() <= s.len());
            }
            let _ = tag_message(&s, &Versions::ours());
        }

        #[test]
        fn parsing_never_panics_near_markers(
            a in "\\PC{0,20}",
            mid in prop::sample::select(vec![
                "?OTRv", "?OTR?", "?OTR?v", "?OTR", WHITESPACE_TAG_BASE, "?OTRvP?",
            ]),
            b in "[ \t?a-zA-Z0-9é€\u{1F600}]{0,40}",
        ) {
            let s = format!("{a}{mid}{b}");
            if let Some(vs) = parse_query(&s) {
                prop_assert!(vs.len() <= MAX_VERSIONS);
                prop_assert!(vs.iter().all(|c| c.is_ascii_alphanumeric()));
            }
            if let Some((vs, rest)) = find_whitespace_tag(&s) {
                prop_assert!(vs.iter().all(|c| c.is_ascii_alphanumeric()));
                prop_assert!(rest.len() < s.len());
            }
        }

        #[test]
        fn tag_round_trip(text in "\\PC{0,40}", chars in prop::collection::btree_set("[0-9A-Za-z]", 0..=MAX_VERSIONS)) {
            prop_assume!(!text.starts_with('\x01'));
            prop_assume!(!text.contains(WHITESPACE_TAG_BASE));
            let joined: String = chars.into_iter().collect();
            let vs = Versions::from_chars(joined.as_bytes()).unwrap();
            let tagged = tag_message(&text, &vs).unwrap();
            let (got, rest) = find_whitespace_tag(&tagged).unwrap();
            prop_assert_eq!(got, vs);
            // Trailing spaces/tabs of the user text may be absorbed into the tag.
            prop_assert_eq!(rest.as_str(), &text[..rest.len()]);
            prop_assert!(text[rest.len()..].bytes().all(|b| b == b' ' || b == b'\t'));
        }
    }
}
