//! Launches the otrbnc binary with a generated configuration in a tempdir.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::ngircd::read_lossy;

/// The listener password every test bouncer uses.
pub const PASSWORD: &str = "e2e-secret-pw";
/// The network name in every test bouncer's config (`PASS user/test:password`).
pub const NETWORK: &str = "test";

/// The otrbnc binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_otrbnc"))
}

/// The Argon2id PHC string of [`PASSWORD`], computed once per process (the crate's default
/// cost, as `otrbnc hash-password` uses).
pub fn password_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(b"otrbnc-e2e-salt!").expect("salt");
        argon2::Argon2::default()
            .hash_password(PASSWORD.as_bytes(), &salt)
            .expect("argon2 hash")
            .to_string()
    })
}

/// A TOML basic string.
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What to put in one bouncer's configuration.
#[derive(Debug, Clone)]
pub struct BncConfig {
    /// A label for messages and the tempdir name (e.g. "alice").
    pub label: String,
    /// `[listen] user`: the login name in `PASS user/network:password`.
    pub login_user: String,
    /// The upstream server (usually an auditor's address).
    pub upstream: SocketAddr,
    /// A host name written instead of `upstream`'s address (e.g. an onion address; the port
    /// stays `upstream`'s).
    pub upstream_host: Option<String>,
    /// `nick` of the network.
    pub nick: String,
    /// `username` of the network.
    pub username: String,
    /// `realname` of the network.
    pub realname: String,
    /// `transport` of the network (`"plain"` by default; TLS keys go in
    /// [`BncConfig::network_toml`]).
    pub transport: String,
    /// `otr_nicks`.
    pub otr_nicks: Vec<String>,
    /// `flood_interval_secs` (None: the bouncer's default).
    pub flood_interval_secs: Option<f64>,
    /// `flood_burst` (None: the bouncer's default).
    pub flood_burst: Option<u32>,
    /// `[otr] handshake_timeout_secs` (None: the bouncer's default).
    pub handshake_timeout_secs: Option<u64>,
    /// `[log] level`.
    pub log_level: String,
    /// Raw TOML appended to `[otr]`.
    pub otr_extra: String,
    /// Raw TOML appended to the network section.
    pub network_extra: String,
    /// Raw TOML appended to `[data]`.
    pub data_extra: String,
    /// Raw TOML for a `[tor]` section (none when empty).
    pub tor_extra: String,
    /// Raw TOML for an `[i2p]` section (none when empty).
    pub i2p_extra: String,
}

impl BncConfig {
    /// A bouncer whose upstream registers as `nick` and connects to `upstream`, with no
    /// pacing (`flood_interval_secs = 0`) and a 30 s handshake timeout.
    pub fn new(nick: &str, upstream: SocketAddr) -> BncConfig {
        let mut realname = nick.to_string();
        if let Some(f) = realname.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        BncConfig {
            label: nick.to_string(),
            login_user: nick.to_string(),
            upstream,
            upstream_host: None,
            nick: nick.to_string(),
            username: nick.to_string(),
            realname,
            transport: "plain".to_string(),
            otr_nicks: Vec::new(),
            flood_interval_secs: Some(0.0),
            flood_burst: Some(5),
            handshake_timeout_secs: Some(30),
            log_level: "debug".to_string(),
            otr_extra: String::new(),
            network_extra: String::new(),
            data_extra: String::new(),
            tor_extra: String::new(),
            i2p_extra: String::new(),
        }
    }

    /// With these opted-in nicks.
    pub fn otr_nicks(mut self, nicks: &[&str]) -> BncConfig {
        self.otr_nicks = nicks.iter().map(|n| n.to_string()).collect();
        self
    }

    /// With the bouncer's default pacing (no `flood_*` keys written).
    pub fn default_pacing(mut self) -> BncConfig {
        self.flood_interval_secs = None;
        self.flood_burst = None;
        self
    }

    /// With this `transport` (`"tls"` or `"plain"`).
    pub fn transport(mut self, transport: &str) -> BncConfig {
        self.transport = transport.to_string();
        self
    }

    /// With this pacing.
    pub fn pacing(mut self, interval_secs: f64, burst: u32) -> BncConfig {
        self.flood_interval_secs = Some(interval_secs);
        self.flood_burst = Some(burst);
        self
    }

    /// With this handshake timeout.
    pub fn handshake_timeout(mut self, secs: u64) -> BncConfig {
        self.handshake_timeout_secs = Some(secs);
        self
    }

    /// Appends raw TOML to `[data]` (e.g. `identity = "ephemeral"`).
    pub fn data_toml(mut self, toml: &str) -> BncConfig {
        self.data_extra.push_str(toml);
        self
    }

    /// Appends raw TOML to a `[tor]` section.
    pub fn tor_toml(mut self, toml: &str) -> BncConfig {
        self.tor_extra.push_str(toml);
        self.tor_extra.push('\n');
        self
    }

    /// Appends raw TOML to an `[i2p]` section.
    pub fn i2p_toml(mut self, toml: &str) -> BncConfig {
        self.i2p_extra.push_str(toml);
        self.i2p_extra.push('\n');
        self
    }

    /// Appends raw TOML to `[otr]`.
    pub fn otr_toml(mut self, toml: &str) -> BncConfig {
        self.otr_extra.push_str(toml);
        self.otr_extra.push('\n');
        self
    }

    /// Appends raw TOML to the network section.
    pub fn network_toml(mut self, toml: &str) -> BncConfig {
        self.network_extra.push_str(toml);
        self.network_extra.push('\n');
        self
    }

    /// The `PASS` argument that logs in: `user/network:password`.
    pub fn pass(&self) -> String {
        format!("{}/{NETWORK}:{PASSWORD}", self.login_user)
    }

    /// The configuration file text.
    pub fn toml(&self, listen_port: u16, data_dir: &Path) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "[listen]");
        let _ = writeln!(
            t,
            "address = {}",
            toml_str(&format!("127.0.0.1:{listen_port}"))
        );
        let _ = writeln!(t, "user = {}", toml_str(&self.login_user));
        let _ = writeln!(t, "password_hash = {}", toml_str(password_hash()));
        let _ = writeln!(t, "\n[data]");
        let _ = writeln!(t, "dir = {}", toml_str(&data_dir.display().to_string()));
        t.push_str(&self.data_extra);
        let _ = writeln!(t, "\n[log]");
        let _ = writeln!(t, "level = {}", toml_str(&self.log_level));
        let _ = writeln!(t, "\n[otr]");
        if let Some(s) = self.handshake_timeout_secs {
            let _ = writeln!(t, "handshake_timeout_secs = {s}");
        }
        t.push_str(&self.otr_extra);
        if !self.tor_extra.is_empty() {
            let _ = writeln!(t, "\n[tor]");
            t.push_str(&self.tor_extra);
        }
        if !self.i2p_extra.is_empty() {
            let _ = writeln!(t, "\n[i2p]");
            t.push_str(&self.i2p_extra);
        }
        let _ = writeln!(t, "\n[networks.{NETWORK}]");
        let host = self
            .upstream_host
            .clone()
            .unwrap_or_else(|| self.upstream.ip().to_string());
        let _ = writeln!(t, "host = {}", toml_str(&host));
        // I2P destinations have no ports.
        if self.transport != "i2p" {
            let _ = writeln!(t, "port = {}", self.upstream.port());
        }
        let _ = writeln!(t, "transport = {}", toml_str(&self.transport));
        let _ = writeln!(t, "nick = {}", toml_str(&self.nick));
        let _ = writeln!(t, "username = {}", toml_str(&self.username));
        let _ = writeln!(t, "realname = {}", toml_str(&self.realname));
        if let Some(i) = self.flood_interval_secs {
            let _ = writeln!(t, "flood_interval_secs = {i:?}");
        }
        if let Some(b) = self.flood_burst {
            let _ = writeln!(t, "flood_burst = {b}");
        }
        let nicks: Vec<String> = self.otr_nicks.iter().map(|n| toml_str(n)).collect();
        let _ = writeln!(t, "otr_nicks = [{}]", nicks.join(", "));
        t.push_str(&self.network_extra);
        t
    }
}

/// A running otrbnc, killed on drop (its tempdir and log are kept and printed if the test
/// panics).
pub struct OtrBnc {
    cfg: BncConfig,
    child: Option<Child>,
    dir: tempfile::TempDir,
    config_path: PathBuf,
    log_path: PathBuf,
    port: u16,
    starts: usize,
}

impl OtrBnc {
    /// Writes the configuration, starts `otrbnc --config <path>` and waits until it listens.
    pub async fn start(cfg: BncConfig) -> OtrBnc {
        let mut bnc = OtrBnc::prepare(cfg);
        bnc.launch().await;
        bnc
    }

    /// Writes the configuration and makes the directories, without starting otrbnc: a test
    /// can run a subcommand on them first ([`OtrBnc::run_command`]), then [`OtrBnc::launch`].
    pub fn prepare(cfg: BncConfig) -> OtrBnc {
        let dir = tempfile::Builder::new()
            .prefix(&format!("otrbnc-e2e-{}-", cfg.label))
            .tempdir()
            .expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("mkdir data");
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700));
        }
        for d in ["home", "xdg-config", "xdg-data", "xdg-state"] {
            std::fs::create_dir_all(dir.path().join(d)).expect("mkdir");
        }
        let config_path = dir.path().join("otrbnc.toml");
        let log_path = dir.path().join("otrbnc.log");
        let mut bnc = OtrBnc {
            cfg,
            child: None,
            dir,
            config_path,
            log_path,
            port: 0,
            starts: 0,
        };
        bnc.write_config();
        bnc
    }

    /// Picks a free port for the listener and writes the configuration with it.
    fn write_config(&mut self) {
        self.port = super::free_port();
        let text = self.cfg.toml(self.port, &self.data_dir());
        std::fs::write(&self.config_path, text).expect("write config");
    }

    /// Starts a prepared otrbnc and waits until it listens (on another port if the one chosen
    /// was taken in the meantime).
    pub async fn launch(&mut self) {
        let mut last = String::new();
        for attempt in 0..3 {
            if attempt > 0 {
                self.write_config();
            }
            self.spawn();
            match self.wait_listening(Duration::from_secs(30)).await {
                Ok(()) => return,
                Err(e) => {
                    let log = self.log();
                    self.kill();
                    // Only a port taken between choosing and binding is worth another try.
                    if !log.to_ascii_lowercase().contains("in use") {
                        panic!(
                            "otrbnc {}: {e}\nconfig {}:\n{}\n--- log {} ---\n{}",
                            self.cfg.label,
                            self.config_path.display(),
                            read_lossy(&self.config_path),
                            self.log_path.display(),
                            super::tail(&log, 60)
                        );
                    }
                    last = e;
                }
            }
        }
        panic!(
            "otrbnc {}: could not start after 3 ports: {last}",
            self.cfg.label
        );
    }

    /// `otrbnc --config <path>` with the environment every start gets: no `OTRBNC_*` or
    /// `RUST_LOG` from the test's environment, a private home and XDG directories.
    fn command(&self) -> std::process::Command {
        let mut cmd = super::command(&binary());
        cmd.arg("--config").arg(&self.config_path);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("OTRBNC_") {
                cmd.env_remove(&k);
            }
        }
        let d = self.dir.path();
        cmd.env_remove("RUST_LOG")
            .env("HOME", d.join("home"))
            .env("XDG_CONFIG_HOME", d.join("xdg-config"))
            .env("XDG_DATA_HOME", d.join("xdg-data"))
            .env("XDG_STATE_HOME", d.join("xdg-state"))
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "1");
        cmd
    }

    /// Runs `otrbnc --config <path> <args>` (a subcommand: `import-libotr ...`) to its end
    /// with the same configuration and environment, and returns what it printed; it is also
    /// appended to the log.
    pub fn run_command(&self, args: &[&std::ffi::OsStr]) -> std::process::Output {
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", binary().display()));
        if let Ok(mut log) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
        {
            let _ = writeln!(
                log,
                "=== e2e harness: {} --config {} {args:?}: {} ===\n{}{}",
                binary().display(),
                self.config_path.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open log");
        let _ = writeln!(
            log,
            "=== e2e harness: start #{} of {} --config {} ===",
            self.starts,
            binary().display(),
            self.config_path.display()
        );
        let mut cmd = self.command();
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log fd"))
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", binary().display()));
        self.child = Some(child);
    }

    async fn wait_listening(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                return Err(format!("exited before listening ({status})"));
            }
            if self
                .child
                .as_ref()
                .is_some_and(|c| listens_on(c.id(), self.port))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "not listening on port {} after {limit:?}",
                    self.port
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The client listener's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The client listener's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &BncConfig {
        &self.cfg
    }

    /// The `PASS` argument that logs in.
    pub fn pass(&self) -> String {
        self.cfg.pass()
    }

    /// The data directory (`[data] dir`: identity, trust stores).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The configuration file.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The log file (stdout and stderr of every start, appended).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The log so far.
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is running.
    pub fn is_alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Resident set size in KiB (`VmRSS` from `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    }

    /// Sends SIGTERM and waits up to 10 s for the process to exit. Returns its exit status,
    /// or `None` if it did not exit in time (it is then killed).
    pub async fn stop_graceful(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let pid = child.id().to_string();
        let _ = std::process::Command::new("sh")
            .args(["-c", "kill -TERM \"$1\"", "sh", &pid])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the process (gracefully if it is running) and starts it again with the same
    /// configuration, data directory and port; waits until it listens.
    pub async fn restart(&mut self) {
        if self.child.is_some() {
            let status = self.stop_graceful().await;
            assert!(
                status.is_some(),
                "otrbnc {} did not exit within 10 s of SIGTERM; log {}:\n{}",
                self.cfg.label,
                self.log_path.display(),
                super::tail(&self.log(), 40)
            );
        }
        self.spawn();
        if let Err(e) = self.wait_listening(Duration::from_secs(30)).await {
            panic!(
                "otrbnc {} after restart: {e}\n--- log {} ---\n{}",
                self.cfg.label,
                self.log_path.display(),
                super::tail(&self.log(), 60)
            );
        }
    }

    /// Starts the stopped process again and expects it to exit (a start refused) within
    /// `limit`: its exit status and log. Panics if it is still running then.
    pub async fn start_expect_exit(&mut self, limit: Duration) -> (ExitStatus, String) {
        assert!(self.child.is_none(), "stop it first");
        self.spawn();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                return (status, self.log());
            }
            if Instant::now() > deadline {
                self.kill();
                panic!(
                    "otrbnc {} kept running; it should have refused to start. Log:\n{}",
                    self.cfg.label,
                    super::tail(&self.log(), 40)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OtrBnc {
    fn drop(&mut self) {
        self.kill();
        // OTRBNC_KEEP_LOGS keeps every bouncer's directory and log (for a bench's diagnosis).
        if std::thread::panicking() || std::env::var_os("OTRBNC_KEEP_LOGS").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "--- otrbnc {}: log kept at {} (config {}), last lines: ---\n{}",
                self.cfg.label,
                self.log_path.display(),
                self.config_path.display(),
                super::tail(&self.log(), 60)
            );
        }
    }
}

/// Local addresses with a TCP socket listening on `port` (from `/proc/net/tcp` and
/// `/proc/net/tcp6`).
pub fn listening_addrs(port: u16) -> Vec<IpAddr> {
    listeners(port).into_iter().map(|(ip, _)| ip).collect()
}

/// Whether process `pid` itself holds a socket listening on `port`. A port the harness chose
/// may be taken by another test's process before ours binds it; a TCP probe would then
/// succeed against that process.
fn listens_on(pid: u32, port: u16) -> bool {
    let inodes: Vec<u64> = listeners(port).into_iter().map(|(_, i)| i).collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).ok().is_some_and(|target| {
            target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:[")?.strip_suffix(']'))
                .and_then(|i| i.parse::<u64>().ok())
                .is_some_and(|i| inodes.contains(&i))
        })
    })
}

/// The listening TCP sockets on `port`: local address and socket inode.
fn listeners(port: u16) -> Vec<(IpAddr, u64)> {
    let mut out = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (cols.get(1), cols.get(3)) else {
                continue;
            };
            if *state != "0A" {
                continue;
            }
            let Some((ip_hex, port_hex)) = local.split_once(':') else {
                continue;
            };
            if u16::from_str_radix(port_hex, 16).ok() != Some(port) {
                continue;
            }
            let inode = cols.get(9).and_then(|i| i.parse::<u64>().ok()).unwrap_or(0);
            if let Some(ip) = parse_proc_ip(ip_hex, v6) {
                out.push((ip, inode));
            }
        }
    }
    out
}

fn parse_proc_ip(hex: &str, v6: bool) -> Option<IpAddr> {
    // The kernel prints each 32-bit word in host (little-endian) order.
    let words: Vec<u32> = (0..hex.len() / 8)
        .map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<Vec<_>>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    if v6 {
        let b: [u8; 16] = bytes.try_into().ok()?;
        Some(IpAddr::V6(Ipv6Addr::from(b)))
    } else {
        let b: [u8; 4] = bytes.try_into().ok()?;
        Some(IpAddr::V4(Ipv4Addr::from(b)))
    }
}
