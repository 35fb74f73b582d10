//! A private ircd-hybrid per test, configured from Debian's packaged default configuration.
//!
//! Facts about Debian 12's ircd-hybrid (1:8.2.43+dfsg.1-1) this relies on:
//! * The package `Conflicts:` with ngircd, so both cannot be installed with apt:
//!   `scripts/test.sh` installs ngircd and InspIRCd with apt and unpacks ircd-hybrid's own .deb
//!   (`apt-get download`, `dpkg-deb -x`) into the paths the package would use
//!   (`/usr/sbin/ircd-hybrid`, `/usr/lib/ircd-hybrid/modules`, `/usr/share/ircd-hybrid`,
//!   `/etc/ircd-hybrid/ircd.conf`): the module paths are compiled in, so it must be there.
//! * `ircd-hybrid -foreground -configfile F -logfile L -pidfile P` stays in the foreground;
//!   `L` gets `Server ready. Running version: ircd-hybrid-…` once it listens. It refuses to run
//!   as root (see [`super::daemon`]).
//! * Flood control in the packaged config, kept as it is: class `users` with
//!   `recvq = 2560 bytes` (more unparsed bytes: "Excess Flood" and a disconnect) and
//!   `sendq = 100 kbytes`; `general { default_floodcount = 10; default_floodtime = 1 second; }`
//!   (messages to one user beyond that are dropped with a NOTICE "*** Message to … throttled
//!   due to flooding"); `max_targets = 4`; `pace_wait = 10 seconds`. The code parses 5 lines
//!   at once from a registered client, then 2 every 2 s (measured with 30 PINGs; 40 at once
//!   before its first PRIVMSG), queueing the rest in the recvq.
//!
//! What the private instance changes in that config, and why (nothing else):
//! * `listen`: only `127.0.0.1` on a free port, no TLS (the packaged one listens on
//!   6665–6669 and 6697 with TLS); `serverinfo`'s TLS key and certificate files dropped
//!   (they are made by the package's postinst, absent here).
//! * The `auth` block for `*@127.0.0.1` is dropped: it is the local admin's (class `opers`,
//!   `need_password`, `can_flood`), and every test client comes from 127.0.0.1; they get the
//!   `*@*` block and class `users` as any remote user does. Its `need_ident` flag is dropped
//!   because ident lookups are off (`general::disable_auth = yes`; nothing answers on port 113).
//! * Class `users`: `number_per_ip_local`, `number_per_ip_global` and `number_per_cidr` raised
//!   to 64 (2, 8 and 16 packaged): they cap simultaneous connections per address, and every
//!   test connection comes from 127.0.0.1.
//! * `general::throttle_count` raised from 1 to 64: the connection throttle (connections per
//!   address per `throttle_time`), not message flood control.
//! * `log` and `serverhide::flatten_links_file`: files in the test's temp dir.

use std::path::{Path, PathBuf};

use super::daemon::Daemon;

/// The packaged default configuration.
pub const DEFAULT_CONF: &str = "/etc/ircd-hybrid/ircd.conf";

/// Where ircd-hybrid is installed, if it is.
pub fn binary() -> Option<PathBuf> {
    ["/usr/sbin/ircd-hybrid", "/usr/local/sbin/ircd-hybrid"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// What is missing to start one, if anything.
pub fn missing() -> Option<String> {
    if binary().is_none() {
        return Some("ircd-hybrid is not installed (/usr/sbin/ircd-hybrid)".to_string());
    }
    if let Err(e) = std::fs::read_to_string(DEFAULT_CONF) {
        return Some(format!(
            "cannot read {DEFAULT_CONF} ({e}; it is root:irc 0640)"
        ));
    }
    if !Path::new("/usr/lib/ircd-hybrid/modules").is_dir() {
        return Some("ircd-hybrid's modules are not in /usr/lib/ircd-hybrid/modules".to_string());
    }
    None
}

/// The version the binary announces in its 002 (`ircd-hybrid-1:8.2.43+dfsg.1-1`), read from
/// the binary: it refuses to run as root, even for `-version`.
pub fn version() -> String {
    let marker = b"ircd-hybrid-";
    binary()
        .and_then(|b| std::fs::read(b).ok())
        .and_then(|bytes| {
            let at = super::find(&bytes, marker)?;
            let end = bytes[at..]
                .iter()
                .position(|c| !c.is_ascii_graphic())
                .map_or(bytes.len(), |n| at + n);
            Some(String::from_utf8_lossy(&bytes[at..end]).into_owned())
        })
        .unwrap_or_else(|| "ircd-hybrid".to_string())
}

/// One top-level block of a hybrid configuration: `name { statement; … };`. Statements keep
/// their text (a nested block such as `file { … }` is one statement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// `serverinfo`, `class`, `auth`, …
    pub name: String,
    /// The statements, trimmed, without their `;`.
    pub stmts: Vec<String>,
}

impl Block {
    fn key_of(stmt: &str) -> &str {
        stmt.split(['=', '{']).next().unwrap_or_default().trim()
    }

    /// The value of `key = value` (as written, quotes included).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.stmts
            .iter()
            .find(|s| Self::key_of(s) == key && s.contains('='))
            .and_then(|s| s.split_once('=').map(|(_, v)| v.trim()))
    }

    /// Sets `key = value`, replacing the first statement with that key or appending one.
    pub fn set(&mut self, key: &str, value: &str) {
        let stmt = format!("{key} = {value}");
        match self.stmts.iter_mut().find(|s| Self::key_of(s) == key) {
            Some(s) => *s = stmt,
            None => self.stmts.push(stmt),
        }
    }

    /// Removes every statement with `key`.
    pub fn remove(&mut self, key: &str) {
        self.stmts.retain(|s| Self::key_of(s) != key);
    }

    fn render(&self) -> String {
        let mut out = format!("{} {{\n", self.name);
        for s in &self.stmts {
            out.push('\t');
            out.push_str(s);
            out.push_str(";\n");
        }
        out.push_str("};\n");
        out
    }
}

/// The text without comments (`/* … */`, `#` and `//` to the end of the line), quoted
/// strings kept intact.
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '#' => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for n in chars.by_ref() {
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Splits `text` at `sep` where it is outside quotes and braces.
fn split_top(text: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut depth, mut in_str, mut cur) = (0usize, false, String::new());
    for c in text.chars() {
        if in_str {
            in_str = c != '"';
        } else if c == '"' {
            in_str = true;
        } else if c == '{' {
            depth += 1;
        } else if c == '}' {
            depth = depth.saturating_sub(1);
        } else if c == sep && depth == 0 {
            parts.push(std::mem::take(&mut cur));
            continue;
        }
        cur.push(c);
    }
    parts.push(cur);
    parts
}

/// The top-level blocks of a configuration (comments removed first).
pub fn parse(text: &str) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    for top in split_top(&strip_comments(text), ';') {
        let top = top.trim();
        if top.is_empty() {
            continue;
        }
        let (name, rest) = top
            .split_once('{')
            .ok_or_else(|| format!("not a block: {top:?}"))?;
        let body = rest
            .trim_end()
            .strip_suffix('}')
            .ok_or_else(|| format!("unterminated block {name:?}"))?;
        let stmts = split_top(body, ';')
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        blocks.push(Block {
            name: name.trim().to_string(),
            stmts,
        });
    }
    Ok(blocks)
}

/// The packaged configuration `packaged`, changed only as the module comment lists, for a
/// server on `127.0.0.1:port` whose files are in `dir`.
pub fn private_config(packaged: &str, port: u16, dir: &Path) -> Result<String, String> {
    let mut blocks = parse(packaged)?;
    let quoted = |p: PathBuf| format!("\"{}\"", p.display());
    // The local admin's block for 127.0.0.1 (opers, can_flood): every test client would get it.
    blocks
        .retain(|b| !(b.name == "auth" && b.get("user").is_some_and(|u| u.contains("@127.0.0.1"))));
    blocks.retain(|b| b.name != "listen" && b.name != "log");
    let mut users_class = false;
    for b in &mut blocks {
        match b.name.as_str() {
            "serverinfo" => {
                for k in [
                    "rsa_private_key_file",
                    "tls_certificate_file",
                    "tls_dh_param_file",
                ] {
                    b.remove(k);
                }
            }
            "class" if b.get("name") == Some("\"users\"") => {
                users_class = true;
                for k in [
                    "number_per_ip_local",
                    "number_per_ip_global",
                    "number_per_cidr",
                ] {
                    b.set(k, "64");
                }
            }
            "auth" => {
                if let Some(flags) = b.get("flags").map(str::to_string) {
                    let kept: Vec<&str> = flags
                        .split(',')
                        .map(str::trim)
                        .filter(|f| *f != "need_ident")
                        .collect();
                    if kept.is_empty() {
                        b.remove("flags");
                    } else {
                        b.set("flags", &kept.join(", "));
                    }
                }
            }
            "general" => {
                b.set("disable_auth", "yes");
                b.set("throttle_count", "64");
            }
            "serverhide" => b.set("flatten_links_file", &quoted(dir.join("links.txt"))),
            _ => {}
        }
    }
    if !users_class {
        return Err("the packaged configuration has no class \"users\"".to_string());
    }
    let mut out = String::from(
        "/* Generated by tests/e2e/support/hybrid.rs from Debian's /etc/ircd-hybrid/ircd.conf */\n",
    );
    for b in &blocks {
        out.push_str(&b.render());
    }
    out.push_str(&format!(
        "listen {{\n\thost = \"127.0.0.1\";\n\tport = {port};\n}};\n"
    ));
    out.push_str(&format!(
        "log {{\n\tuse_logging = yes;\n\tfile {{ type = user; name = {}; size = 10 megabytes; }};\n\
         \tfile {{ type = kill; name = {}; size = 10 megabytes; }};\n}};\n",
        quoted(dir.join("user.log")),
        quoted(dir.join("kill.log")),
    ));
    Ok(out)
}

/// A running ircd-hybrid, killed on drop.
pub struct Hybrid {
    daemon: Daemon,
}

impl Hybrid {
    /// Starts one on a free port with the packaged defaults (see the module comment).
    pub async fn start() -> Hybrid {
        let bin = binary().expect("ircd-hybrid not installed (check hybrid::missing() first)");
        let packaged = std::fs::read_to_string(DEFAULT_CONF)
            .unwrap_or_else(|e| panic!("reading {DEFAULT_CONF}: {e}"));
        let dir = super::daemon::workdir("otrbnc-e2e-hybrid-");
        let conf_path = dir.path().join("ircd.conf");
        let conf = conf_path.clone();
        let daemon = Daemon::start("ircd-hybrid", &bin, dir, conf_path, |dir, port, attempt| {
            let text = private_config(&packaged, port, dir)
                .unwrap_or_else(|e| panic!("{DEFAULT_CONF}: {e}"));
            std::fs::write(&conf, text).expect("write ircd.conf");
            let log = dir.join(format!("ircd.{attempt}.log"));
            let args = vec![
                "-foreground".to_string(),
                "-configfile".to_string(),
                conf.display().to_string(),
                "-logfile".to_string(),
                log.display().to_string(),
                "-pidfile".to_string(),
                dir.join("ircd.pid").display().to_string(),
            ];
            (args, vec![log], "Server ready.".to_string())
        })
        .await;
        Hybrid { daemon }
    }

    /// The running daemon (address, logs, pid).
    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    /// The same, mutably (liveness checks).
    pub fn daemon_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}
