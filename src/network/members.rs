//! Who is in each joined channel and which modes it has, tracked from the server's lines, so
//! that a client attaching later gets its member lists (NAMES) and a `MODE #chan` query its
//! answer from otrbnc, with no upstream traffic per attach.

use std::collections::BTreeMap;

use crate::irc::CaseMapping;

/// Most members tracked across all channels (a hostile server could list millions); past
/// it a channel's list is marked incomplete and NAMES for it go to the server again.
pub const MAX_MEMBERS: usize = 400_000;

/// Longest nick tracked (NICKLEN is 9 to 50 on the servers people use); a longer one from a
/// hostile server leaves the list incomplete instead of making otrbnc build oversized lines.
pub const MAX_NICK_BYTES: usize = 100;

/// Nicks per `353` line otrbnc builds (keeps each line well inside 512 bytes).
const NAMES_LINE_BUDGET: usize = 400;

/// One member of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The nick as the server spelt it.
    pub nick: String,
    /// Prefix symbols held (`@`, `+`, …), highest first.
    pub prefix: String,
}

/// One joined channel.
#[derive(Debug, Clone)]
pub struct Channel {
    /// The name as the server spelt it.
    pub name: String,
    /// Current topic.
    pub topic: Option<Vec<u8>>,
    /// The channel's NAMES symbol (`=` public, `*` private, `@` secret).
    pub symbol: char,
    /// Members by folded nick.
    pub members: BTreeMap<String, Member>,
    /// The member list is complete: a `366` ended the last `353`s and nothing was dropped.
    pub names_complete: bool,
    /// A `353` arrived after the last `366`: the list is being replaced.
    names_loading: bool,
    /// The listing in progress passed the bound: it ends incomplete.
    names_overflow: bool,
    /// Channel modes (mode letter → parameter), once a `324` told them.
    pub modes: Option<BTreeMap<char, Option<String>>>,
    /// Creation time from `329`.
    pub created: Option<String>,
}

impl Channel {
    /// A channel just joined: nothing known yet.
    pub fn new(name: String) -> Channel {
        Channel {
            name,
            topic: None,
            symbol: '=',
            members: BTreeMap::new(),
            names_complete: false,
            names_loading: false,
            names_overflow: false,
            modes: None,
            created: None,
        }
    }

    /// The modes as a `324` states them: `+nt`, then the parameters.
    pub fn mode_string(&self) -> Option<String> {
        let modes = self.modes.as_ref()?;
        let mut letters = String::from("+");
        let mut params = Vec::new();
        for (m, p) in modes {
            letters.push(*m);
            if let Some(p) = p {
                params.push(p.as_str());
            }
        }
        let mut out = letters;
        for p in params {
            out.push(' ');
            out.push_str(p);
        }
        Some(out)
    }

    /// The member list as `353` trailing parameters, each at most about 400 bytes.
    pub fn names_chunks(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        for m in self.members.values() {
            let item_len = m.prefix.len() + m.nick.len();
            if !cur.is_empty() && cur.len() + 1 + item_len > NAMES_LINE_BUDGET {
                out.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(&m.prefix);
            cur.push_str(&m.nick);
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }
}

/// The server's channel-mode grammar (ISUPPORT `PREFIX` and `CHANMODES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeGrammar {
    /// Membership modes and their symbols, highest first: `(ov)@+`.
    prefix_modes: Vec<(char, char)>,
    /// Type A (lists: always a parameter, not kept), B (always a parameter), C (a parameter
    /// when set).
    list: String,
    always: String,
    on_set: String,
}

impl Default for ModeGrammar {
    fn default() -> Self {
        ModeGrammar {
            prefix_modes: vec![('o', '@'), ('v', '+')],
            list: "beI".to_string(),
            always: "k".to_string(),
            on_set: "l".to_string(),
        }
    }
}

impl ModeGrammar {
    /// Takes `PREFIX=(modes)symbols`; a malformed value keeps the current one.
    pub fn set_prefix(&mut self, value: &str) {
        let Some(rest) = value.strip_prefix('(') else {
            return;
        };
        let Some((modes, symbols)) = rest.split_once(')') else {
            return;
        };
        if modes.chars().count() != symbols.chars().count() || modes.len() > 16 {
            return;
        }
        self.prefix_modes = modes.chars().zip(symbols.chars()).collect();
    }

    /// Takes `CHANMODES=A,B,C,D`.
    pub fn set_chanmodes(&mut self, value: &str) {
        let mut parts = value.split(',');
        let (Some(a), Some(b), Some(c)) = (parts.next(), parts.next(), parts.next()) else {
            return;
        };
        if value.len() > 128 {
            return;
        }
        self.list = a.to_string();
        self.always = b.to_string();
        self.on_set = c.to_string();
    }

    /// The prefix symbols, highest first.
    pub fn symbols(&self) -> impl Iterator<Item = char> + '_ {
        self.prefix_modes.iter().map(|(_, s)| *s)
    }

    fn symbol_of(&self, mode: char) -> Option<char> {
        self.prefix_modes
            .iter()
            .find(|(m, _)| *m == mode)
            .map(|(_, s)| *s)
    }

    /// Whether the mode letter takes a parameter in this direction.
    fn takes_param(&self, mode: char, adding: bool) -> bool {
        self.symbol_of(mode).is_some()
            || self.list.contains(mode)
            || self.always.contains(mode)
            || (adding && self.on_set.contains(mode))
    }

    /// Splits a `NAMES` item into its prefix symbols and the nick (`@+bob` → `@+`, `bob`;
    /// `bob!u@h` → `bob`).
    pub fn split_item<'a>(&self, item: &'a str) -> (&'a str, &'a str) {
        let n = item
            .char_indices()
            .find(|(_, c)| !self.prefix_modes.iter().any(|(_, s)| s == c))
            .map_or(item.len(), |(i, _)| i);
        let (prefix, nick) = item.split_at(n);
        (prefix, nick.split('!').next().unwrap_or(nick))
    }

    /// Orders prefix symbols by rank (highest first), without repeats.
    fn ranked(&self, symbols: impl Iterator<Item = char>) -> String {
        let have: Vec<char> = symbols.collect();
        self.symbols().filter(|s| have.contains(s)).collect()
    }
}

/// The changes of a `MODE` line, one mode letter at a time: (adding, letter, parameter).
fn mode_changes<'a>(
    grammar: &'a ModeGrammar,
    changes: &'a str,
    params: &'a [String],
) -> impl Iterator<Item = (bool, char, Option<&'a String>)> + 'a {
    let mut adding = true;
    let mut params = params.iter();
    changes.chars().filter_map(move |c| match c {
        '+' => {
            adding = true;
            None
        }
        '-' => {
            adding = false;
            None
        }
        m => {
            let param = if grammar.takes_param(m, adding) {
                params.next()
            } else {
                None
            };
            Some((adding, m, param))
        }
    })
}

/// What a `MODE` line changed for one channel, for the member list and the modes.
pub fn apply_mode(
    chan: &mut Channel,
    grammar: &ModeGrammar,
    casemap: CaseMapping,
    changes: &str,
    params: &[String],
) {
    for (adding, m, param) in mode_changes(grammar, changes, params) {
        if let Some(symbol) = grammar.symbol_of(m) {
            let Some(nick) = param else { continue };
            if let Some(member) = chan.members.get_mut(&casemap.fold(nick)) {
                let held = member.prefix.chars().filter(|&s| s != symbol);
                member.prefix = if adding {
                    grammar.ranked(held.chain(std::iter::once(symbol)))
                } else {
                    grammar.ranked(held)
                };
            }
        } else if grammar.list.contains(m) {
            // Ban and exception lists are not kept.
        } else if let Some(modes) = chan.modes.as_mut() {
            if adding {
                modes.insert(m, param.cloned());
            } else {
                modes.remove(&m);
            }
        }
    }
}

/// The key a `MODE` line sets (`Some(Some(key))`) or clears (`Some(None)`), if it touches it.
pub fn key_change(
    grammar: &ModeGrammar,
    changes: &str,
    params: &[String],
) -> Option<Option<String>> {
    mode_changes(grammar, changes, params)
        .filter(|(_, m, _)| *m == 'k')
        .last()
        .map(|(adding, _, param)| if adding { param.cloned() } else { None })
}

/// Parses a `324` mode string and its parameters into the kept form.
pub fn parse_modes(
    grammar: &ModeGrammar,
    changes: &str,
    params: &[String],
) -> BTreeMap<char, Option<String>> {
    let mut chan = Channel::new(String::new());
    chan.modes = Some(BTreeMap::new());
    apply_mode(&mut chan, grammar, CaseMapping::Ascii, changes, params);
    chan.modes.unwrap_or_default()
}

/// Adds the items of one `353` line to `chan`; returns how many members were added.
/// `room` is how many more members may be tracked overall.
pub fn add_names(
    chan: &mut Channel,
    grammar: &ModeGrammar,
    casemap: CaseMapping,
    symbol: char,
    items: &str,
    room: usize,
) -> usize {
    if !chan.names_loading {
        // A new listing replaces the old one.
        chan.members.clear();
        chan.names_loading = true;
        chan.names_overflow = false;
        chan.names_complete = false;
    }
    // Only the three symbols RFC 2812 defines are repeated to clients.
    chan.symbol = if matches!(symbol, '=' | '*' | '@') {
        symbol
    } else {
        '='
    };
    if chan.names_overflow {
        return 0;
    }
    let before = chan.members.len();
    for item in items.split(' ').filter(|s| !s.is_empty()) {
        let (prefix, nick) = grammar.split_item(item);
        if nick.is_empty() {
            continue;
        }
        if nick.len() > MAX_NICK_BYTES || prefix.len() > MAX_NICK_BYTES {
            chan.names_overflow = true;
            continue;
        }
        let key = casemap.fold(nick);
        if !chan.members.contains_key(&key) && chan.members.len() - before >= room {
            // Over the bound: the list can no longer be trusted as complete.
            chan.names_overflow = true;
            return chan.members.len() - before;
        }
        chan.members.insert(
            key,
            Member {
                nick: nick.to_string(),
                prefix: grammar.ranked(prefix.chars()),
            },
        );
    }
    chan.members.len() - before
}

/// A `366` ended the listing.
pub fn end_names(chan: &mut Channel) {
    chan.names_complete = chan.names_loading && !chan.names_overflow;
    chan.names_loading = false;
    chan.names_overflow = false;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chan_with(items: &str) -> Channel {
        let mut c = Channel::new("#c".into());
        let g = ModeGrammar::default();
        add_names(&mut c, &g, CaseMapping::Rfc1459, '=', items, usize::MAX);
        end_names(&mut c);
        c
    }

    #[test]
    fn names_then_modes_update_prefixes() {
        let g = ModeGrammar::default();
        let mut c = chan_with("@alice +Bob carol");
        assert!(c.names_complete);
        assert_eq!(c.names_chunks(), vec!["@alice +Bob carol".to_string()]);
        apply_mode(
            &mut c,
            &g,
            CaseMapping::Rfc1459,
            "+o-v+v",
            &["bob".into(), "bob".into(), "carol".into()],
        );
        assert_eq!(c.names_chunks(), vec!["@alice @Bob +carol".to_string()]);
        apply_mode(&mut c, &g, CaseMapping::Rfc1459, "-o", &["BOB".into()]);
        assert_eq!(c.names_chunks(), vec!["@alice Bob +carol".to_string()]);
    }

    #[test]
    fn modes_follow_the_grammar() {
        let mut g = ModeGrammar::default();
        g.set_chanmodes("beI,k,l,imnst");
        let modes = parse_modes(&g, "+ntkl", &["secret".into(), "50".into()]);
        let mut c = Channel::new("#c".into());
        c.modes = Some(modes);
        assert_eq!(c.mode_string().as_deref(), Some("+klnt secret 50"));
        // A ban takes a parameter but is not kept; -l takes none, -k does.
        apply_mode(
            &mut c,
            &g,
            CaseMapping::Ascii,
            "+b-l-k+m",
            &["*!*@x".into(), "secret".into()],
        );
        assert_eq!(c.mode_string().as_deref(), Some("+mnt"));
    }

    #[test]
    fn key_changes_are_found_among_other_modes() {
        let g = ModeGrammar::default();
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            key_change(&g, "+ok", &p(&["bob", "sekrit"])),
            Some(Some("sekrit".into()))
        );
        assert_eq!(key_change(&g, "-k", &p(&["*"])), Some(None));
        assert_eq!(key_change(&g, "+nt", &p(&[])), None);
    }

    #[test]
    fn prefix_grammar_from_isupport() {
        let mut g = ModeGrammar::default();
        g.set_prefix("(qaohv)~&@%+");
        assert_eq!(g.split_item("~@bob"), ("~@", "bob"));
        assert_eq!(g.split_item("bob!u@h"), ("", "bob"));
        let mut c = Channel::new("#c".into());
        add_names(&mut c, &g, CaseMapping::Ascii, '@', "@~bob %h", usize::MAX);
        end_names(&mut c);
        // Ranked highest first whatever order the server gave.
        assert_eq!(c.names_chunks(), vec!["~@bob %h".to_string()]);
        assert_eq!(c.symbol, '@');
        // Nonsense is ignored.
        g.set_prefix("(ab)@");
        assert_eq!(g.symbols().count(), 5);
    }

    #[test]
    fn a_new_listing_replaces_the_old_and_the_bound_marks_it_incomplete() {
        let g = ModeGrammar::default();
        let mut c = chan_with("a b c");
        add_names(&mut c, &g, CaseMapping::Ascii, '=', "d", usize::MAX);
        end_names(&mut c);
        assert_eq!(c.names_chunks(), vec!["d".to_string()]);
        let mut c = Channel::new("#c".into());
        let added = add_names(&mut c, &g, CaseMapping::Ascii, '=', "a b c d", 2);
        assert_eq!(added, 2);
        add_names(&mut c, &g, CaseMapping::Ascii, '=', "e", 0);
        end_names(&mut c);
        assert!(!c.names_complete);
    }

    #[test]
    fn long_lists_are_cut_into_lines() {
        let items: Vec<String> = (0..200).map(|i| format!("nick{i:05}")).collect();
        let c = chan_with(&items.join(" "));
        let chunks = c.names_chunks();
        assert!(chunks.len() > 1);
        assert!(chunks.iter().all(|l| l.len() <= NAMES_LINE_BUDGET));
        let total: usize = chunks.iter().map(|l| l.split(' ').count()).sum();
        assert_eq!(total, 200);
    }
}
