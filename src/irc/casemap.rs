//! Nick case folding as the server declares it (ISUPPORT `CASEMAPPING`).

/// The server's case mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaseMapping {
    /// `ascii`: only A-Z fold.
    Ascii,
    /// `rfc1459` (the default when the server says nothing): also `[]\~` → `{}|^`.
    #[default]
    Rfc1459,
    /// `strict-rfc1459`: `[]\` → `{}|`.
    StrictRfc1459,
}

impl CaseMapping {
    /// From the ISUPPORT value; unknown values (e.g. `rfc7613`) fall back to ASCII folding of
    /// the ASCII range, which is what those mappings do for ASCII nicks.
    pub fn from_isupport(v: &str) -> CaseMapping {
        match v.to_ascii_lowercase().as_str() {
            "rfc1459" => CaseMapping::Rfc1459,
            "strict-rfc1459" => CaseMapping::StrictRfc1459,
            _ => CaseMapping::Ascii,
        }
    }

    /// Folds `s` for comparison.
    pub fn fold(self, s: &str) -> String {
        s.chars()
            .map(|c| match (self, c) {
                (_, 'A'..='Z') => c.to_ascii_lowercase(),
                (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, '[') => '{',
                (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, ']') => '}',
                (CaseMapping::Rfc1459 | CaseMapping::StrictRfc1459, '\\') => '|',
                (CaseMapping::Rfc1459, '~') => '^',
                _ => c,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_by_mapping() {
        assert_eq!(CaseMapping::Ascii.fold("Bob[x]"), "bob[x]");
        assert_eq!(CaseMapping::Rfc1459.fold("Bob[x]\\~"), "bob{x}|^");
        assert_eq!(CaseMapping::StrictRfc1459.fold("Bob[x]\\~"), "bob{x}|~");
        assert_eq!(CaseMapping::from_isupport("ASCII"), CaseMapping::Ascii);
        assert_eq!(CaseMapping::from_isupport("rfc7613"), CaseMapping::Ascii);
    }
}
