//! The end-to-end harness: a private ngircd (or ircd-hybrid or InspIRCd: `server.rs`) per test, a wire auditor between each upstream and
//! the server, scripted IRC clients, the otrbnc launcher and a scripted raw OTR peer.

#![allow(dead_code)]

pub mod auditor;
pub mod client;
pub mod daemon;
pub mod docker;
pub mod hostile;
pub mod hybrid;
pub mod i2p_testnet;
pub mod inspircd;
pub mod irssi;
pub mod irssi_otr;
pub mod ngircd;
pub mod otrbnc;
pub mod otrpeer;
pub mod pcap;
pub mod penalties;
pub mod scenario;
pub mod server;
pub mod server_scenario;
pub mod tor_testnet;
pub mod weechat;
pub mod znc;

use std::time::Duration;

/// A started test network (Tor, I2P): its directory, from the environment variable `dir_env`,
/// once its start script has written `DIR/ready` (waiting up to `wait`), and its `DIR/env`.
/// `what` and `script` name it in errors.
pub async fn ready_network(
    dir_env: &str,
    what: &str,
    script: &str,
    wait: Duration,
) -> Result<
    (
        std::path::PathBuf,
        std::collections::HashMap<String, String>,
    ),
    String,
> {
    let dir = std::env::var_os(dir_env)
        .map(std::path::PathBuf::from)
        .ok_or_else(|| {
            format!("no {what} test network ({dir_env} is unset; start one with {script} <dir>)")
        })?;
    let started = std::time::Instant::now();
    while !dir.join("ready").exists() {
        if started.elapsed() > wait {
            return Err(format!(
                "the {what} test network in {} is not ready after {wait:?} (see its logs)",
                dir.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let env = read_env_file(&dir)?;
    Ok((dir, env))
}

/// A test set-up's `found` value, or, when it is missing, a "skipped" line and `None` —
/// or a panic when `require_env` is set to something other than `0` (CI sets it).
pub fn found_or_skip<T>(test: &str, found: Result<T, String>, require_env: &str) -> Option<T> {
    let required = std::env::var_os(require_env).is_some_and(|v| !v.is_empty() && v != "0");
    match found {
        Ok(t) => Some(t),
        Err(e) if required => panic!("{test}: {e} and {require_env} is set"),
        Err(e) => {
            eprintln!("{test}: skipped: {e} (set {require_env}=1 to make this a failure)");
            None
        }
    }
}

/// Reads a test network's `DIR/env` file (`KEY=value` lines, optionally `export`ed or quoted).
pub fn read_env_file(
    dir: &std::path::Path,
) -> Result<std::collections::HashMap<String, String>, String> {
    let text = std::fs::read_to_string(dir.join("env"))
        .map_err(|e| format!("{}/env: {e}", dir.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().trim_start_matches("export ").to_string(),
                v.trim().trim_matches(['"', '\'']).to_string(),
            )
        })
        .collect())
}

/// Environment variable that turns "ngircd is not installed" from a skip into a failure
/// (CI sets it).
pub const REQUIRE_ENV: &str = "OTRBNC_REQUIRE_E2E";

/// Whether the tools the e2e tests need are present. Returns `false` (after printing a
/// "skipped" line) when they are not and `OTRBNC_REQUIRE_E2E` is unset; panics when it is set.
pub fn e2e_available(test: &str) -> bool {
    if ngircd::installed() {
        return true;
    }
    if std::env::var_os(REQUIRE_ENV).is_some_and(|v| !v.is_empty() && v != "0") {
        panic!(
            "{test}: ngircd is not installed (looked for `ngircd` in PATH, /usr/sbin and /usr/local/sbin) \
             and {REQUIRE_ENV} is set; install it with `apt-get install ngircd` or run ./scripts/test.sh"
        );
    }
    eprintln!("{test}: skipped: ngircd not installed (set {REQUIRE_ENV}=1 to make this a failure)");
    false
}

/// Whether ngircd and the programs a test needs besides are there: `missing` names those not
/// found. Skips (with a "skipped" line) or, with `OTRBNC_REQUIRE_E2E` set, fails the test when
/// anything is missing.
pub fn tools_available(test: &str, missing: &[&str]) -> bool {
    if !e2e_available(test) {
        return false;
    }
    if missing.is_empty() {
        return true;
    }
    let names = missing.join(" and ");
    if std::env::var_os(REQUIRE_ENV).is_some_and(|v| !v.is_empty() && v != "0") {
        panic!(
            "{test}: {names} not installed and {REQUIRE_ENV} is set; install with `apt-get install {}` or run ./scripts/test.sh",
            missing.join(" ")
        );
    }
    eprintln!(
        "{test}: skipped: {names} not installed (set {REQUIRE_ENV}=1 to make this a failure)"
    );
    false
}

/// Returns early from a test (with a "skipped" line) when ngircd is missing, or fails it when
/// `OTRBNC_REQUIRE_E2E=1`.
#[macro_export]
macro_rules! require_e2e {
    () => {
        if !$crate::support::e2e_available(module_path!()) {
            return;
        }
    };
}

/// Seconds as a `Duration` (short to write in tests).
pub const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A free TCP port on 127.0.0.1 (bound and released at once: a small race remains, which the
/// launchers handle by retrying with another port).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// `setpriv` (util-linux) if present: children are started through
/// `setpriv --pdeathsig KILL` so that they die with the test process even when it is killed
/// without running destructors.
pub fn setpriv() -> Option<&'static str> {
    static P: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *P.get_or_init(|| {
        ["/usr/bin/setpriv", "/bin/setpriv"].into_iter().find(|p| {
            std::process::Command::new(p)
                .args(["--pdeathsig", "KILL", "true"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    })
}

/// A `Command` for `program`, wrapped in `setpriv --pdeathsig KILL` when available.
pub fn command(program: &std::path::Path) -> std::process::Command {
    match setpriv() {
        Some(sp) => {
            let mut c = std::process::Command::new(sp);
            c.args(["--pdeathsig", "KILL", "--"]).arg(program);
            c
        }
        None => std::process::Command::new(program),
    }
}

/// A rate with thousands separators (`1,234,567`), or `n/a`.
pub fn fmt_rate(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".to_string();
    }
    let s = (x.round() as u64).to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The last `n` lines of a text, for failure messages.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

/// Bytes shown readably (lossy UTF-8, control characters escaped), cut to `max` characters.
pub fn show(bytes: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i >= max {
            out.push('…');
            break;
        }
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Where `needle` occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A random lowercase hex token of `n` characters (distinctive substrings for the auditor).
pub fn token(n: usize) -> String {
    let mut bytes = vec![0u8; n.div_ceil(2)];
    rand::fill(&mut bytes[..]);
    let mut s = hex::encode(bytes);
    s.truncate(n);
    s
}
