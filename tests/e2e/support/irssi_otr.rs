//! irssi with its OTR module (Debian's `irssi-plugin-otr`, libotr 4.1) as an OTRv3 peer: an
//! [`Irssi`] connected straight to ngircd, typed at with `/otr ...` and read through the log
//! of its query window with the other nick.
//!
//! Facts about irssi 1.4.3's OTR module this relies on (checked by running it; its source is
//! irssi's `src/otr/`):
//! * Debian installs it as `<libdir>/irssi/modules/libotr_core.so` (`/load otr`); irssi's
//!   default `autoload_modules` is `perl otr`, so a stock irssi loads it at start. The harness
//!   sets `autoload_modules = "otr"`.
//! * libotr's account name is the irssi server's *tag*: the chatnet's name with
//!   `/connect -network NAME`, else one made from the address (`127` for 127.0.0.1). The
//!   protocol is `IRC`. Hence `(name e2e) (protocol IRC)` in `otr.key` here (gcrypt quotes
//!   a name only when it must: `(name "127")`), and
//!   `bob<TAB>e2e<TAB>IRC<TAB><40 hex><TAB><trust>` lines in `otr.fp`.
//! * Files: `<home>/otr/otr.key` (libotr's private keys), `otr.fp` (fingerprints and trust:
//!   `smp` after an SMP this side verified, `manual` after `/otr trust`), `otr.instag`.
//! * Keys: a missing key is generated in a forked child when libotr first asks for one, and the
//!   handshake that asked is lost (`/otr init` has to be typed again, once per side that had no
//!   key). `/otr genkey <account>` works before connecting; a 1024-bit DSA key takes 50-130 ms
//!   here, so the harness generates one at start instead of installing a pre-made key (it can
//!   install one: [`Key::File`]).
//! * Policy: fixed in the source, libotr's `MANUAL | WHITESPACE_START_AKE` (OTRv2 and v3
//!   allowed): no `/set` changes it. irssi answers an OTR query (`?OTRv3?`, `?OTRvP3?`, ...)
//!   and a whitespace tag with the AKE, never sends a tag itself and does not start on an OTR
//!   error. `/otr init` sends the bare query `?OTRv23?`. A v4-and-v3 query `?OTRvP3?` is
//!   answered with a v3 D-H Commit (`?OTR:AAMC...`).
//! * ngircd 26.1 strips trailing whitespace, tabs included, from a message: a whitespace tag
//!   at the end of a text (where libotr puts it) never arrives; one inside the text does.
//! * Sending: irssi cuts a long typed message into PRIVMSGs of about 400 bytes (on spaces)
//!   before OTR sees them; libotr then fragments each data message over 400 bytes
//!   (`?OTR|...` pieces, all but the last sent at once). Received fragments are reassembled by
//!   libotr: a long message from the peer shows as one line.
//! * `/me` in a query in a private session is sent encrypted as the text `/me ...`, and a
//!   decrypted `/me ...` shows as an action (` * nick ...`). `/action` bypasses OTR.
//! * `/otr init|finish|auth|authq|authabort|trust|distrust` act on the active window's query
//!   (`/query NICK` brings it to the front); `/otr info` and `/otr contexts` print to the
//!   active window. Quoted arguments (`/otr authq "a question" "the answer"`) lose their
//!   quotes.
//! * Status lines go to the query's log (`logs/<nick>.log`): text at irssi's CLIENTCRAP level
//!   bare (`15:36 Session secured`), errors with `-!- Irssi: ` and plain CRAP with `-!- `
//!   (see [`says`] and [`otr_text`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::irssi::{Irssi, IrssiOpts, untimed, whole_lines};
use super::ngircd::read_lossy;

/// The chatnet every irssi-otr peer connects with, and so irssi-otr's libotr account name.
pub const ACCOUNT: &str = "e2e";
/// irssi-otr's libotr protocol name.
pub const PROTOCOL: &str = "IRC";
/// The module file `irssi-plugin-otr` installs.
pub const MODULE_FILE: &str = "libotr_core.so";

/// How long irssi may take to start, load OTR and make a key, or to register.
const START: Duration = Duration::from_secs(30);
/// How long a command that only prints (`/otr info`, `/otr contexts`) may take.
const PRINT: Duration = Duration::from_secs(10);

/// What irssi-otr prints, exactly as it appears in the logs once [`otr_text`] removed the
/// timestamp and irssi's `-!- ` / `-!- Irssi: ` prefix (irssi 1.4.3, `src/otr/otr-formats.c`).
pub mod says {
    /// `/otr init` (in the query where it was typed).
    pub const INITIATING: &str = "Initiating OTR session ...";
    /// The AKE completed (gone_secure), on both sides.
    pub const SECURED: &str = "Session secured";
    /// Follows [`SECURED`] when the peer's fingerprint is not trusted yet, then come the two
    /// [`fingerprint_of`] lines: ours, then the peer's.
    pub const UNAUTHENTICATED: &str = "Your peer is not authenticated";
    /// gone_insecure: libotr 4.1 does not call it, kept for completeness.
    pub const INSECURED: &str = "Session insecured";
    /// `/otr auth` or `/otr authq` started an SMP.
    pub const AUTH_INITIATED: &str = "Initiated authentication";
    /// `/otr auth` answered the peer's SMP.
    pub const AUTH_RESPONDING: &str = "Responding to authentication";
    /// Last of the three lines shown for a question (after [`auth_asked`], [`auth_question`]).
    pub const AUTH_ANSWER_FOOTER: &str = "Use /otr auth <answer> to complete";
    /// `/otr authabort` with no SMP under way.
    pub const AUTH_ABORTED: &str = "Authentication aborted";
    /// `/otr authabort` during an SMP.
    pub const AUTH_ONGOING_ABORTED: &str = "Ongoing authentication aborted";
    /// `/otr info` without a key.
    pub const NO_KEYS: &str = "No OTR keys available";
    /// `/otr contexts` with none.
    pub const NO_CONTEXTS: &str = "No active OTR contexts found";
    /// `/otr auth` outside a private session.
    pub const NO_SESSION: &str = "No OTR session available";
    /// `/otr finish` with no context for the nick.
    pub const NOTHING_TO_DO: &str = "Nothing to do";
    /// First line of `/otr contexts`.
    pub const CONTEXTS_HEADER: &str = "Contexts";

    /// Shown after [`super::says::SECURED`]: `fp` in libotr's human format.
    pub fn fingerprint_of(nick: &str, fp: &str) -> String {
        format!("OTR key fingerprint: {fp} for {nick}")
    }
    /// `/otr info`, one line per key: `account` and its fingerprint follow.
    pub fn own_fingerprint_prefix(account: &str) -> String {
        format!("Fingerprint for {account}: ")
    }
    /// `/otr init` in a private session (irssi prints the account name, not the nick).
    pub fn already_secure(account: &str) -> String {
        format!("Secure session with {account} already established")
    }
    /// The peer started an SMP without a question.
    pub fn auth_secret_asked(nick: &str) -> String {
        format!("{nick} wants to authenticate. Use /otr auth <secret> to complete")
    }
    /// The peer started an SMP with a question (then [`auth_question`], then
    /// [`AUTH_ANSWER_FOOTER`]).
    pub fn auth_asked(nick: &str) -> String {
        format!("{nick} wants to authenticate and asked:")
    }
    /// The peer's question.
    pub fn auth_question(question: &str) -> String {
        format!("Question: {question}")
    }
    /// The peer answered our SMP (its step 2 arrived).
    pub fn auth_replied(nick: &str) -> String {
        format!("{nick} replied to your auth request")
    }
    /// The SMP succeeded (both sides print it).
    pub fn auth_success(nick: &str) -> String {
        format!("Authentication with {nick} successful")
    }
    /// The SMP failed, was cheated or broke (both sides; an error line: `-!- Irssi: `).
    pub fn auth_failed(nick: &str) -> String {
        format!("Authentication with {nick} failed")
    }
    /// The peer ended the session (its DISCONNECTED TLV arrived).
    pub fn peer_finished(nick: &str) -> String {
        format!(
            "{nick} has finished the OTR session. Use /otr init to restart or /otr finish to finish."
        )
    }
    /// `/otr finish` here (a CRAP line: `-!- `).
    pub fn finished(nick: &str) -> String {
        format!("Finished conversation with {nick}")
    }
    /// Typing to a peer that finished the session: libotr refuses to send (an error line).
    pub fn closed_to_you(nick: &str) -> String {
        format!("{nick} has closed the connection to you")
    }
    /// A plaintext message arrived during a private session (an error line; the text follows
    /// as a normal message).
    pub fn not_encrypted(nick: &str) -> String {
        format!("The following message from {nick} was not encrypted")
    }
    /// An OTR message that could not be decrypted.
    pub fn unreadable(nick: &str) -> String {
        format!("Unreadable encrypted message from {nick}")
    }
    /// Key generation began (`/otr genkey` or libotr's request).
    pub fn keygen_started(account: &str) -> String {
        format!("OTR key generation for {account} started")
    }
    /// Key generation finished and the key was loaded.
    pub fn keygen_completed(account: &str) -> String {
        format!("OTR key generation for {account} completed")
    }
    /// Key generation failed (the reason follows).
    pub fn keygen_failed_prefix(account: &str) -> String {
        format!("OTR key generation for {account} failed: ")
    }
    /// `/otr trust`.
    pub fn trusting(fp: &str) -> String {
        format!("Trusting {fp}")
    }
    /// `/otr trust` of a trusted fingerprint (an error line).
    pub fn already_trusting(fp: &str) -> String {
        format!("Already trusting: {fp}")
    }
    /// `/otr distrust`.
    pub fn distrusting(fp: &str) -> String {
        format!("Distrusting {fp}")
    }
}

/// A log line as irssi-otr wrote it: no timestamp, no `-!- Irssi: ` (errors, notices) or
/// `-!- ` (plain CRAP) prefix.
pub fn otr_text(line: &str) -> &str {
    let l = untimed(line);
    l.strip_prefix("-!- Irssi: ")
        .or_else(|| l.strip_prefix("-!- "))
        .unwrap_or(l)
}

/// A fingerprint as 40 lowercase hex digits, from any spacing and case (`otr.fp` writes it
/// so; irssi and `*otr` print libotr's `XXXXXXXX XXXXXXXX ...`).
pub fn fp_hex(fp: &str) -> String {
    fp.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// libotr's human format: five groups of eight uppercase hex digits.
pub fn fp_human(fp: &str) -> String {
    let hex = fp_hex(fp).to_ascii_uppercase();
    hex.as_bytes()
        .chunks(8)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first libotr human-format fingerprint (`XXXXXXXX` ×5, space-separated) in `text`, as
/// 40 lowercase hex digits.
pub fn find_fp(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words.windows(5).find_map(|w| {
        let ok = w
            .iter()
            .all(|g| g.len() == 8 && g.chars().all(|c| c.is_ascii_hexdigit()));
        ok.then(|| fp_hex(&w.concat()))
    })
}

/// Where `irssi-plugin-otr`'s module is, if installed.
pub fn module_path() -> Option<PathBuf> {
    let mut dirs = vec![
        PathBuf::from("/usr/lib/irssi/modules"),
        PathBuf::from("/usr/local/lib/irssi/modules"),
    ];
    // Debian's multiarch directories (`/usr/lib/x86_64-linux-gnu/irssi/modules`).
    for base in ["/usr/lib", "/usr/local/lib"] {
        if let Ok(rd) = std::fs::read_dir(base) {
            dirs.extend(
                rd.filter_map(Result::ok)
                    .map(|e| e.path().join("irssi/modules")),
            );
        }
    }
    dirs.into_iter()
        .map(|d| d.join(MODULE_FILE))
        .find(|p| p.is_file())
}

/// Whether ngircd, tmux, irssi and irssi's OTR module are all present. Returns `false` (after
/// printing a "skipped" line) when one is missing and `OTRBNC_REQUIRE_E2E` is unset; panics
/// when it is set.
pub fn available(test: &str) -> bool {
    let missing: Vec<&str> = [
        ("tmux", super::irssi::tmux_binary().is_none()),
        ("irssi", super::irssi::irssi_binary().is_none()),
        ("irssi-plugin-otr", module_path().is_none()),
    ]
    .into_iter()
    .filter_map(|(n, m)| m.then_some(n))
    .collect();
    super::tools_available(test, &missing)
}

/// Returns early from a test (with a "skipped" line) when ngircd, tmux, irssi or
/// irssi-plugin-otr is missing, or fails it when `OTRBNC_REQUIRE_E2E=1`.
#[macro_export]
macro_rules! require_irssi_otr {
    () => {
        if !$crate::support::irssi_otr::available(module_path!()) {
            return;
        }
    };
}

/// Where the peer's OTR key comes from.
#[derive(Debug, Clone)]
pub enum Key {
    /// `/otr genkey` at start (irssi's own way, ~0.1 s).
    Generate,
    /// A libotr private key file (`otr.private_key` of the libotr test peer, account
    /// [`ACCOUNT`], protocol [`PROTOCOL`]) installed as `otr/otr.key` before irssi starts.
    File(Vec<u8>),
}

/// One context line pair of `/otr contexts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtrContext {
    /// libotr's account (the server tag, [`ACCOUNT`]).
    pub account: String,
    /// The peer's nick.
    pub nick: String,
    /// `Encrypted`, `Finished`, `Plaintext`, `Unknown` or `Unused` (no session with this
    /// fingerprint).
    pub state: String,
    /// The peer's fingerprint, 40 lowercase hex digits.
    pub fingerprint: String,
    /// `Unverified`, `SMP` or `Manual`.
    pub trust: String,
}

/// One line of `otr.fp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FpEntry {
    /// The peer's nick.
    pub nick: String,
    /// Our account.
    pub account: String,
    /// The protocol (`IRC`).
    pub protocol: String,
    /// 40 lowercase hex digits.
    pub fingerprint: String,
    /// libotr's trust string: empty, `smp` or `manual`.
    pub trust: String,
}

/// irssi with OTR, as one nick on one server.
pub struct IrssiOtr {
    irssi: Irssi,
    nick: String,
    keygen: Option<Duration>,
}

impl IrssiOtr {
    /// irssi as `nick` with OTR loaded and a freshly generated key; not connected yet.
    pub async fn start(nick: &str) -> IrssiOtr {
        Self::start_with(nick, Key::Generate).await
    }

    /// irssi as `nick` with OTR loaded and the key from `key`; not connected yet.
    pub async fn start_with(nick: &str, key: Key) -> IrssiOtr {
        let mut opts = IrssiOpts::new(nick);
        opts.chatnet = Some(ACCOUNT.to_string());
        opts.autoload_modules = Some("otr".to_string());
        if let Key::File(bytes) = &key {
            opts.files
                .push((PathBuf::from("otr/otr.key"), bytes.clone()));
        }
        let irssi = Irssi::start(opts).await;
        let mut me = IrssiOtr {
            irssi,
            nick: nick.to_string(),
            keygen: None,
        };
        match key {
            Key::Generate => {
                let t0 = Instant::now();
                me.irssi.type_line(&format!("/otr genkey {ACCOUNT}"));
                let done = says::keygen_completed(ACCOUNT);
                let failed = says::keygen_failed_prefix(ACCOUNT);
                me.irssi
                    .wait_log(START, "the OTR key generated (/otr genkey)", |l| {
                        whole_lines(l).iter().any(|x| {
                            let t = otr_text(x);
                            t == done || t.starts_with(&failed) || t.contains("Unknown command")
                        })
                    })
                    .await;
                me.keygen = Some(t0.elapsed());
                let log = me.irssi.log();
                assert!(
                    whole_lines(&log).iter().any(|x| otr_text(x) == done),
                    "{}: no OTR key (is the OTR module loaded?):\n{}",
                    me.irssi.label(),
                    super::tail(&log, 20)
                );
            }
            Key::File(_) => {
                let info = me.otr_info().await;
                assert!(
                    info.iter().any(|(a, _)| a == ACCOUNT),
                    "{}: the installed key for {ACCOUNT} was not loaded: /otr info showed {info:?}",
                    me.irssi.label()
                );
            }
        }
        me
    }

    /// How long `/otr genkey` took at start (`None` with an installed key).
    pub fn keygen_time(&self) -> Option<Duration> {
        self.keygen
    }

    /// Connects to `addr` (an ngircd or an auditor in front of one) as the chatnet
    /// [`ACCOUNT`] and waits for the end of the MOTD.
    pub async fn connect(&self, addr: SocketAddr) {
        self.irssi.type_line(&format!(
            "/connect -network {ACCOUNT} {} {}",
            addr.ip(),
            addr.port()
        ));
        let welcome = format!("Welcome to the Internet Relay Network {}!", self.nick);
        self.irssi
            .wait_log(START, "registration and the MOTD", |l| {
                l.contains(&welcome) && l.contains("End of MOTD")
            })
            .await;
    }

    /// Quits irssi (the server sees a QUIT); `otr/` and the logs stay readable until drop.
    pub async fn quit(&mut self) {
        self.irssi.quit("moving").await;
    }

    /// The irssi underneath (logs, window, raw typing).
    pub fn irssi(&self) -> &Irssi {
        &self.irssi
    }

    /// Our nick.
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// irssi-otr's directory (`<home>/otr`).
    pub fn otr_dir(&self) -> PathBuf {
        self.irssi.home().join("otr")
    }

    /// Types a line as is.
    pub fn type_line(&self, line: &str) {
        self.irssi.type_line(line);
    }

    /// Brings the query with `peer` to the front (opening it if needed): `/otr` commands act
    /// on it.
    pub fn query(&self, peer: &str) {
        self.irssi.type_line(&format!("/query {peer}"));
    }

    fn in_query(&self, peer: &str, command: &str) {
        self.query(peer);
        self.irssi.type_line(command);
    }

    /// A private message to `peer` (`/msg`): encrypted by irssi-otr in a private session.
    pub fn say(&self, peer: &str, text: &str) {
        assert!(!text.contains(['\r', '\n']), "one line at a time: {text:?}");
        self.irssi.type_line(&format!("/msg {peer} {text}"));
    }

    /// `/me` in the query with `peer` (irssi-otr encrypts it as `/me ...`).
    pub fn me(&self, peer: &str, text: &str) {
        self.in_query(peer, &format!("/me {text}"));
    }

    /// `/otr init` with `peer` (sends `?OTRv23?`).
    pub fn otr_init(&self, peer: &str) {
        self.in_query(peer, "/otr init");
    }

    /// `/otr finish` with `peer`.
    pub fn otr_finish(&self, peer: &str) {
        self.in_query(peer, "/otr finish");
    }

    /// `/otr auth <secret>` with `peer`: starts an SMP, or answers the peer's (with or
    /// without a question).
    pub fn otr_auth(&self, peer: &str, secret: &str) {
        self.in_query(peer, &format!("/otr auth {}", quoted(secret)));
    }

    /// `/otr authq "<question>" <secret>` with `peer`.
    pub fn otr_authq(&self, peer: &str, question: &str, secret: &str) {
        self.in_query(
            peer,
            &format!("/otr authq {} {}", quoted(question), quoted(secret)),
        );
    }

    /// Answers the question of `peer`'s SMP (`/otr auth <answer>`).
    pub fn otr_auth_answer(&self, peer: &str, answer: &str) {
        self.otr_auth(peer, answer);
    }

    /// `/otr authabort` with `peer`.
    pub fn otr_authabort(&self, peer: &str) {
        self.in_query(peer, "/otr authabort");
    }

    /// `/otr trust [fp]` in the query with `peer` (without `fp`: the peer's active one).
    pub fn otr_trust(&self, peer: &str, fp: Option<&str>) {
        let fp = fp.map(fp_human).unwrap_or_default();
        self.in_query(peer, format!("/otr trust {fp}").trim_end());
    }

    /// `/otr distrust [fp]` in the query with `peer`.
    pub fn otr_distrust(&self, peer: &str, fp: Option<&str>) {
        let fp = fp.map(fp_human).unwrap_or_default();
        self.in_query(peer, format!("/otr distrust {fp}").trim_end());
    }

    /// Runs a command that prints, and returns what it printed (whole log lines through
    /// [`otr_text`]): it is typed between two `/echo` markers and read once the second shows.
    pub async fn printed_by(&self, command: &str) -> Vec<String> {
        let tag = super::token(12);
        let (begin, end) = (format!("otr-e2e-begin-{tag}"), format!("otr-e2e-end-{tag}"));
        self.irssi.type_line(&format!("/echo {begin}"));
        self.irssi.type_line(command);
        self.irssi.type_line(&format!("/echo {end}"));
        let what = format!("the output of {command}");
        self.irssi
            .wait_log(PRINT, &what, |l| {
                whole_lines(l).iter().any(|x| otr_text(x) == end)
            })
            .await;
        whole_lines(&self.irssi.log())
            .iter()
            .map(|l| otr_text(l).to_string())
            .skip_while(|l| *l != begin)
            .skip(1)
            .take_while(|l| *l != end)
            .collect()
    }

    /// `/otr info`: (account, fingerprint as 40 lowercase hex digits) for each key.
    pub async fn otr_info(&self) -> Vec<(String, String)> {
        self.printed_by("/otr info")
            .await
            .iter()
            .filter_map(|l| {
                let rest = l.strip_prefix("Fingerprint for ")?;
                let (account, fp) = rest.split_once(": ")?;
                Some((account.to_string(), fp_hex(fp)))
            })
            .collect()
    }

    /// Our fingerprint for [`ACCOUNT`] as `/otr info` prints it (libotr's human format).
    pub async fn own_fingerprint(&self) -> String {
        let info = self.otr_info().await;
        let fp = info
            .iter()
            .find(|(a, _)| a == ACCOUNT)
            .map(|(_, fp)| fp_human(fp));
        fp.unwrap_or_else(|| {
            panic!(
                "{}: /otr info shows no key for {ACCOUNT}: {info:?}",
                self.irssi.label()
            )
        })
    }

    /// `/otr contexts`, parsed.
    pub async fn otr_contexts(&self) -> Vec<OtrContext> {
        let lines = self.printed_by("/otr contexts").await;
        let mut out = Vec::new();
        let mut head: Option<(String, String, String)> = None;
        for l in lines.iter().skip_while(|l| *l != says::CONTEXTS_HEADER) {
            if let Some(fp_line) = l.strip_prefix("  ") {
                let Some((fp, trust)) = fp_line.rsplit_once(" (") else {
                    continue;
                };
                if let Some((account, nick, state)) = head.take() {
                    out.push(OtrContext {
                        account,
                        nick,
                        state,
                        fingerprint: fp_hex(fp),
                        trust: trust.trim_end_matches(')').to_string(),
                    });
                }
            } else if let Some((who, state)) = l.rsplit_once(" (")
                && let Some((account, nick)) = who.split_once(" - ")
            {
                head = Some((
                    account.to_string(),
                    nick.to_string(),
                    state.trim_end_matches(')').to_string(),
                ));
            }
        }
        out
    }

    /// The context with `peer` from `/otr contexts` (the first, if several fingerprints).
    pub async fn context_with(&self, peer: &str) -> Option<OtrContext> {
        self.otr_contexts()
            .await
            .into_iter()
            .find(|c| c.nick.eq_ignore_ascii_case(peer))
    }

    /// `otr.fp`, parsed.
    pub fn fingerprints_file(&self) -> Vec<FpEntry> {
        read_lossy(&self.otr_dir().join("otr.fp"))
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.len() >= 4).then(|| FpEntry {
                    nick: f[0].to_string(),
                    account: f[1].to_string(),
                    protocol: f[2].to_string(),
                    fingerprint: f[3].to_ascii_lowercase(),
                    trust: f.get(4).copied().unwrap_or_default().to_string(),
                })
            })
            .collect()
    }

    /// `otr.key` as text (libotr's S-expression).
    pub fn key_file(&self) -> String {
        read_lossy(&self.otr_dir().join("otr.key"))
    }

    /// `otr.instag`: (account, protocol, tag in hex) lines.
    pub fn instags(&self) -> Vec<(String, String, String)> {
        read_lossy(&self.otr_dir().join("otr.instag"))
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.len() == 3).then(|| (f[0].to_string(), f[1].to_string(), f[2].to_string()))
            })
            .collect()
    }

    /// How many lines the query with `peer` has logged: the `*_since` waits look after them.
    pub fn mark(&self, peer: &str) -> usize {
        self.irssi.target_mark(peer)
    }

    /// The lines of the query with `peer` after `mark`, through [`otr_text`].
    pub fn lines_since(&self, peer: &str, mark: usize) -> Vec<String> {
        self.irssi
            .target_lines_since(peer, mark)
            .iter()
            .map(|l| otr_text(l).to_string())
            .collect()
    }

    /// Waits until the query with `peer` shows exactly `text` (see [`says`]) after `mark`.
    pub async fn wait_says(&self, peer: &str, mark: usize, limit: Duration, text: &str) {
        self.irssi
            .wait_target_since(peer, mark, limit, &format!("{text:?}"), |l| {
                otr_text(l) == text
            })
            .await;
    }

    /// Waits for [`says::SECURED`] with `peer` after `mark`.
    pub async fn wait_secure(&self, peer: &str, mark: usize, limit: Duration) {
        self.wait_says(peer, mark, limit, says::SECURED).await;
    }

    /// Waits until the query with `peer` shows the message `text` from `from` (`<from> text`;
    /// `from` is `peer` for a received message, our nick for one we sent).
    pub async fn wait_message(&self, peer: &str, from: &str, text: &str, limit: Duration) {
        let want = format!("<{from}> {text}");
        let what = format!(
            "the message from {from} {:?}",
            super::show(text.as_bytes(), 60)
        );
        self.irssi
            .wait_target_since(peer, 0, limit, &what, |l| untimed(l) == want)
            .await;
    }

    /// Waits until the query with `peer` shows `from`'s action ` * from text`.
    pub async fn wait_action(&self, peer: &str, from: &str, text: &str, limit: Duration) {
        let want = format!(" * {from} {text}");
        self.irssi
            .wait_target_since(peer, 0, limit, &format!("the action {want:?}"), |l| {
                untimed(l) == want
            })
            .await;
    }

    /// Texts of the messages from `from` in the query with `peer` after `mark`, in order.
    pub fn messages_since(&self, peer: &str, from: &str, mark: usize) -> Vec<String> {
        let head = format!("<{from}> ");
        self.irssi
            .target_lines_since(peer, mark)
            .iter()
            .filter_map(|l| untimed(l).strip_prefix(&head).map(str::to_string))
            .collect()
    }

    /// Waits until the messages from `from` after `mark`, concatenated, contain `text`: irssi
    /// sends a long message as several PRIVMSGs, each shown as one line.
    pub async fn wait_long_message(
        &self,
        peer: &str,
        from: &str,
        mark: usize,
        text: &str,
        limit: Duration,
    ) {
        let what = format!(
            "{} bytes from {from} (possibly in several lines) starting {:?}",
            text.len(),
            super::show(text.as_bytes(), 40)
        );
        let deadline = Instant::now() + limit;
        while !self
            .messages_since(peer, from, mark)
            .concat()
            .contains(text)
        {
            if Instant::now() > deadline {
                panic!(
                    "{}: timed out after {limit:?} waiting for {what}; the query shows:\n{}",
                    self.irssi.label(),
                    super::tail(&self.irssi.target_log(peer), 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The line of the query with `peer` that gave `nick`'s fingerprint when the session was
    /// secured (`OTR key fingerprint: ... for nick`), as 40 lowercase hex digits; the latest.
    pub fn fingerprint_shown_for(&self, peer: &str, nick: &str) -> Option<String> {
        let tail = format!(" for {nick}");
        self.lines_since(peer, 0).iter().rev().find_map(|l| {
            l.strip_prefix("OTR key fingerprint: ")?
                .strip_suffix(&tail)
                .map(fp_hex)
        })
    }
}

/// An argument for irssi's command parser: in double quotes (which it removes).
fn quoted(arg: &str) -> String {
    assert!(
        !arg.contains(['"', '\\']),
        "irssi's parser would change {arg:?}: no quotes or backslashes"
    );
    format!("\"{arg}\"")
}
