//! A private InspIRCd per test, configured from Debian's packaged default configuration.
//!
//! Facts about Debian 12's inspircd (3.15.0-1) this relies on:
//! * `inspircd --nofork --nopid --config=F` stays in the foreground and prints
//!   `InspIRCd is now running as '<name>'[<sid>] with <n> max open sockets` once it listens.
//!   It refuses to run as root without `--runasroot` (see [`super::daemon`]: as root the
//!   harness runs it as `irc`, as the package's unit file does). `/etc/inspircd` is
//!   `irc:irc 0770`: only root and the `irc` group can read the packaged configuration.
//! * The packaged `/etc/inspircd/inspircd.conf` loads no modules (no CAP, no ident, no
//!   echo-message) and has one `<connect allow="*" timeout="60" threshold="10"
//!   pingfreq="120" hardsendq="262144" softsendq="8192" recvq="8192" localmax="3"
//!   globalmax="3">`; `commandrate` and `fakelag` are not set, so the code's defaults hold:
//!   1000 (one command per second) and fakelag on. A client may run 10 commands at once
//!   (threshold 10), then one a second; the rest waits in its recvq, and more than 8,192
//!   unprocessed bytes quit it with "RecvQ exceeded".
//!
//! What the private instance changes in that config, and why (nothing else):
//! * `<bind>`: a free port instead of 6667 (still 127.0.0.1 only).
//! * `<connect>`: `localmax` and `globalmax` 64 instead of 3 (simultaneous connections per
//!   address; every test connection comes from 127.0.0.1), and `resolvehostnames="no"`
//!   (the packaged `<dns server="127.0.0.1">` has no resolver here: each client would wait
//!   for the lookup to time out).
//! * `<pid>` in the temp dir, and a `<log>` file there (the packaged config logs nowhere).

use std::path::{Path, PathBuf};

use super::daemon::Daemon;

/// The packaged default configuration.
pub const DEFAULT_CONF: &str = "/etc/inspircd/inspircd.conf";

/// Where InspIRCd is installed, if it is.
pub fn binary() -> Option<PathBuf> {
    ["/usr/sbin/inspircd", "/usr/local/sbin/inspircd"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// What is missing to start one, if anything.
pub fn missing() -> Option<String> {
    if binary().is_none() {
        return Some("inspircd is not installed (/usr/sbin/inspircd)".to_string());
    }
    if let Err(e) = std::fs::read_to_string(DEFAULT_CONF) {
        return Some(format!(
            "cannot read {DEFAULT_CONF} ({e}; /etc/inspircd is irc:irc 0770: run as root or in group irc)"
        ));
    }
    None
}

/// InspIRCd's version as it prints it (`InspIRCd-3.15.0-debian`).
pub fn version() -> String {
    binary()
        .and_then(|b| std::process::Command::new(b).arg("--version").output().ok())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("InspIRCd"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "InspIRCd".to_string())
}

/// The byte range of the first `<tag …>` in `conf` (a tag whose name is exactly `tag`).
fn tag_range(conf: &str, tag: &str) -> Option<(usize, usize)> {
    let open = format!("<{tag}");
    let mut from = 0;
    while let Some(i) = conf[from..].find(&open).map(|i| i + from) {
        let after = conf[i + open.len()..].chars().next();
        if after.is_some_and(char::is_whitespace) || after == Some('>') {
            let end = conf[i..].find('>').map(|e| i + e + 1)?;
            return Some((i, end));
        }
        from = i + open.len();
    }
    None
}

/// Sets `attr="value"` in the first `<tag …>` (replacing the attribute or adding it).
pub fn set_attr(conf: &str, tag: &str, attr: &str, value: &str) -> Result<String, String> {
    let (start, end) = tag_range(conf, tag).ok_or_else(|| format!("no <{tag}> tag"))?;
    let t = &conf[start..end];
    let needle = format!("{attr}=\"");
    let new_tag = match t.find(&needle).filter(|i| {
        // The attribute itself, not the tail of a longer name.
        t[..*i].ends_with(char::is_whitespace)
    }) {
        Some(i) => {
            let vstart = i + needle.len();
            let vend = t[vstart..]
                .find('"')
                .map(|e| vstart + e)
                .ok_or_else(|| format!("unterminated {attr} in <{tag}>"))?;
            format!("{}{value}{}", &t[..vstart], &t[vend..])
        }
        None => format!("{} {attr}=\"{value}\">", t.trim_end_matches('>')),
    };
    Ok(format!("{}{new_tag}{}", &conf[..start], &conf[end..]))
}

/// The value of `attr` in the first `<tag …>`.
pub fn get_attr(conf: &str, tag: &str, attr: &str) -> Option<String> {
    let (start, end) = tag_range(conf, tag)?;
    let t = &conf[start..end];
    let needle = format!("{attr}=\"");
    let i = t
        .match_indices(&needle)
        .find(|(i, _)| t[..*i].ends_with(char::is_whitespace))?
        .0;
    let v = &t[i + needle.len()..];
    v.find('"').map(|e| v[..e].to_string())
}

/// The packaged configuration `packaged`, changed only as the module comment lists, for a
/// server on `127.0.0.1:port` whose files are in `dir`.
pub fn private_config(packaged: &str, port: u16, dir: &Path) -> Result<String, String> {
    let mut c = set_attr(packaged, "bind", "port", &port.to_string())?;
    c = set_attr(&c, "bind", "address", "127.0.0.1")?;
    c = set_attr(&c, "connect", "localmax", "64")?;
    c = set_attr(&c, "connect", "globalmax", "64")?;
    c = set_attr(&c, "connect", "resolvehostnames", "no")?;
    let pid = dir.join("inspircd.pid").display().to_string();
    c = match tag_range(&c, "pid") {
        Some(_) => set_attr(&c, "pid", "file", &pid)?,
        None => format!("{c}\n<pid file=\"{pid}\">\n"),
    };
    Ok(format!(
        "# Generated by tests/e2e/support/inspircd.rs from Debian's {DEFAULT_CONF}\n{c}\n\
         <log method=\"file\" type=\"* -USERINPUT -USEROUTPUT\" level=\"default\" target=\"{}\">\n",
        dir.join("inspircd.log").display()
    ))
}

/// The IRCv3 modules Debian's InspIRCd 3 ships, loaded by [`Inspircd::start_ircv3`], and an
/// operator (`OPER tester testpass`, from any host) for SETHOST, UNLOADMODULE and LOADMODULE.
/// `services_account` provides the account API `account-notify` and `account-tag` build on
/// (no services run, so nobody is logged in).
pub const IRCV3_CONF: &str = r#"
<module name="cap">
<module name="ircv3">
<module name="ircv3_accounttag">
<module name="ircv3_batch">
<module name="ircv3_capnotify">
<module name="ircv3_chghost">
<module name="ircv3_ctctags">
<module name="ircv3_invitenotify">
<module name="ircv3_msgid">
<module name="ircv3_servertime">
<module name="namesx">
<module name="uhnames">
<module name="setname">
<module name="sethost">
<module name="services_account">
<oper name="tester" password="testpass" host="*@*" type="NetAdmin">
"#;

/// A running InspIRCd, killed on drop.
pub struct Inspircd {
    daemon: Daemon,
}

impl Inspircd {
    /// Starts one on a free port with the packaged defaults (see the module comment).
    pub async fn start() -> Inspircd {
        Self::start_with("").await
    }

    /// The same with the IRCv3 modules and an operator ([`IRCV3_CONF`]).
    pub async fn start_ircv3() -> Inspircd {
        Self::start_with(IRCV3_CONF).await
    }

    /// Starts one with `extra` appended to the private configuration.
    pub async fn start_with(extra: &str) -> Inspircd {
        let extra = extra.to_string();
        let bin = binary().expect("inspircd not installed (check inspircd::missing() first)");
        let packaged = std::fs::read_to_string(DEFAULT_CONF)
            .unwrap_or_else(|e| panic!("reading {DEFAULT_CONF}: {e}"));
        let dir = super::daemon::workdir("otrbnc-e2e-inspircd-");
        let conf_path = dir.path().join("inspircd.conf");
        let conf = conf_path.clone();
        let daemon = Daemon::start("InspIRCd", &bin, dir, conf_path, |dir, port, _| {
            let text = private_config(&packaged, port, dir)
                .unwrap_or_else(|e| panic!("{DEFAULT_CONF}: {e}"))
                + &extra;
            std::fs::write(&conf, text).expect("write inspircd.conf");
            let args = vec![
                "--nofork".to_string(),
                "--nopid".to_string(),
                format!("--config={}", conf.display()),
            ];
            (
                args,
                vec![dir.join("inspircd.log")],
                "InspIRCd is now running".to_string(),
            )
        })
        .await;
        Inspircd { daemon }
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
