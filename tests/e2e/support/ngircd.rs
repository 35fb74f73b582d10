//! A private ngircd per test.
//!
//! Facts about ngircd 26 this relies on (checked against 26.1):
//! * `ngircd -n -f <conf>` stays in the foreground and logs to stderr, one line per event:
//!   `[<pid>:<level> <uptime secs>] <text>`, e.g. `[8186:6    0] Now listening on
//!   [127.0.0.1]:16667 (socket 6).`, `... Server "irc.test" (on "vm") ready.`,
//!   `... User "bob!~bob@127.0.0.1" registered (connection 8).`,
//!   `... Shutting down connection 7 (Request too long) with "127.0.0.1:55860" ...`.
//! * Started as root it refuses to keep uid 0: without `ServerUID` it switches to `nobody`
//!   (`ServerUID must not be root(0), using "nobody" instead.`). The configuration is read
//!   before that, and no file is written afterwards (no PidFile), so a 0700 tempdir is fine.
//!   As an ordinary user it simply keeps that user.
//! * Flood penalties: by default a client's commands are processed at about 2–3 lines per
//!   second after a short burst (excess lines wait in the server's buffer; ngircd does not
//!   disconnect for that). `[Limits] MaxPenaltyTime = 0` disables penalties altogether.
//! * A line longer than 512 bytes (with CRLF) gets `ERROR :Request too long` and a disconnect.
//! * `MaxConnectionsIP` defaults to 5, too few when every test client comes from 127.0.0.1;
//!   PAM is compiled in and enabled by default (it would refuse clients): both are turned off.
//! * TLS (`[SSL] CertFile, KeyFile, Ports`): Debian's ngircd is built with GnuTLS (3.7 here).
//!   The certificate and key are read before the switch to `nobody`; without `DHFile` it logs
//!   "generating 2048 bit DH parameters" but starts at once. Each TLS connection is logged as
//!   `Connection 8: initialized TLS1.3 using cipher AES-256-GCM-AEAD.`

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The server name announced by the test server (prefix of its numerics).
pub const SERVER_NAME: &str = "irc.test";
/// The test server's message of the day (`MotdPhrase`: one 372 line), found nowhere else.
pub const MOTD_PHRASE: &str = "otrbnc e2e message of the day";

/// Where ngircd is installed, if it is.
pub fn binary() -> Option<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join("ngircd");
            if p.is_file() {
                return Some(p);
            }
        }
    }
    ["/usr/sbin/ngircd", "/usr/local/sbin/ngircd"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// ngircd's version as it prints it (`ngIRCd 26.1`), for benchmark reports.
pub fn version() -> String {
    let Some(bin) = binary() else {
        return "ngircd".to_string();
    };
    std::process::Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.split('-').next().unwrap_or(l).trim().to_string())
        })
        .unwrap_or_else(|| "ngircd".to_string())
}

/// Whether ngircd is installed.
pub fn installed() -> bool {
    binary().is_some()
}

/// Options for one server.
#[derive(Debug, Clone)]
pub struct NgircdOpts {
    /// ngircd's normal flood penalties (the default). `false` writes `MaxPenaltyTime = 0`.
    pub flood_penalties: bool,
    /// Maximum nick length.
    pub max_nick_len: u32,
    /// `[Global] Password` (a server password every client must send).
    pub password: Option<String>,
    /// An additional TLS port (`[SSL]`) with this certificate and key.
    pub tls: Option<NgircdTls>,
}

/// The server certificate of a TLS port: PEM files ngircd can read (it reads them as root,
/// before it switches to `nobody`; keep them world-readable anyway for a rehash).
#[derive(Debug, Clone)]
pub struct NgircdTls {
    /// The certificate chain (PEM), leaf first.
    pub cert_file: PathBuf,
    /// The private key (PEM).
    pub key_file: PathBuf,
}

impl Default for NgircdOpts {
    fn default() -> Self {
        NgircdOpts {
            flood_penalties: true,
            max_nick_len: 30,
            password: None,
            tls: None,
        }
    }
}

impl NgircdOpts {
    /// No flood penalties (`[Limits] MaxPenaltyTime = 0`).
    pub fn no_penalties() -> Self {
        NgircdOpts {
            flood_penalties: false,
            ..Default::default()
        }
    }
}

/// A running ngircd, killed on drop.
pub struct Ngircd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    tls_port: Option<u16>,
    log_path: PathBuf,
    conf_path: PathBuf,
}

/// The configuration for a server inside a container: every address, port 6667, and an
/// include directory without `.conf` files (the image's /tmp).
pub fn container_config(opts: &NgircdOpts) -> String {
    config_text(opts, "0.0.0.0", 6667, None, Path::new("/tmp"))
}

fn config_text(
    opts: &NgircdOpts,
    listen: &str,
    port: u16,
    tls_port: Option<u16>,
    include_dir: &Path,
) -> String {
    let penalty = if opts.flood_penalties {
        String::new()
    } else {
        "MaxPenaltyTime = 0\n".to_string()
    };
    let password = match &opts.password {
        Some(p) => format!("Password = {p}\n"),
        None => String::new(),
    };
    let ssl = match (&opts.tls, tls_port) {
        (Some(t), Some(p)) => format!(
            "\n[SSL]\nCertFile = {}\nKeyFile = {}\nPorts = {p}\n",
            t.cert_file.display(),
            t.key_file.display()
        ),
        _ => String::new(),
    };
    format!(
        "[Global]\n\
         Name = {SERVER_NAME}\n\
         Info = otrbnc e2e test server\n\
         AdminInfo1 = otrbnc e2e\n\
         AdminInfo2 = tests/e2e\n\
         AdminEMail = nobody@irc.test\n\
         Listen = {listen}\n\
         Ports = {port}\n\
         MotdPhrase = {MOTD_PHRASE}\n\
         {password}\
         \n\
         [Limits]\n\
         MaxNickLength = {nick}\n\
         MaxConnectionsIP = 0\n\
         MaxJoins = 0\n\
         PingTimeout = 120\n\
         PongTimeout = 60\n\
         # The whole daemon exits 120 s after its last connection closed: a safety net for\n\
         # servers orphaned by a killed test run.\n\
         IdleTimeout = 120\n\
         {penalty}\
         \n\
         [Options]\n\
         PAM = no\n\
         Ident = no\n\
         DNS = no\n\
         IncludeDir = {include}\n\
         {ssl}",
        nick = opts.max_nick_len,
        include = include_dir.display(),
    )
}

impl Ngircd {
    /// Starts a server on a free port and waits until it accepts connections.
    pub async fn start(opts: NgircdOpts) -> Ngircd {
        let bin = binary().expect("ngircd not installed (use require_e2e!() first)");
        let mut dir = tempfile::Builder::new()
            .prefix("otrbnc-e2e-ngircd-")
            .tempdir()
            .expect("tempdir");
        let include = dir.path().join("conf.d");
        std::fs::create_dir_all(&include).expect("mkdir conf.d");
        let conf_path = dir.path().join("ngircd.conf");
        let mut last_err = String::new();
        for attempt in 0..5 {
            let port = super::free_port();
            let tls_port = opts.tls.as_ref().map(|_| super::free_port());
            std::fs::write(
                &conf_path,
                config_text(&opts, "127.0.0.1", port, tls_port, &include),
            )
            .expect("write conf");
            let log_path = dir.path().join(format!("ngircd.{attempt}.log"));
            let log = std::fs::File::create(&log_path).expect("create log");
            let mut child = super::command(&bin)
                .arg("-n")
                .arg("-f")
                .arg(&conf_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone log fd"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
            let ready =
                wait_ready(&mut child, port, &log_path, Duration::from_secs(15), true).await;
            // The TLS port without a TCP probe: ngircd would log the probe as a failed TLS
            // accept ("SSL accept error"), which tests count as a forced disconnect.
            let ready = match (ready, tls_port) {
                (Ok(()), Some(tp)) => {
                    wait_ready(&mut child, tp, &log_path, Duration::from_secs(15), false).await
                }
                (r, _) => r,
            };
            match ready {
                Ok(()) => {
                    return Ngircd {
                        child: Some(child),
                        dir,
                        port,
                        tls_port,
                        log_path,
                        conf_path,
                    };
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_err = format!("{e}\n--- ngircd log ---\n{}", read_lossy(&log_path));
                }
            }
        }
        dir.disable_cleanup(true);
        panic!("ngircd did not start after 5 attempts: {last_err}");
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TLS port's address (when started with [`NgircdOpts::tls`]).
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_port.map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
    }

    /// Polls the log until `pred` holds; panics after `limit` naming `what`.
    pub async fn wait_log(&self, limit: Duration, what: &str, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if pred(&self.log()) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "ngircd: timed out after {limit:?} waiting for {what}; last log lines:\n{}",
                    super::tail(&self.log(), 30)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many times a user `nick` registered (`User "nick!..." registered` in the log).
    pub fn registrations_of(&self, nick: &str) -> usize {
        let needle = format!("User \"{nick}!");
        self.log()
            .lines()
            .filter(|l| l.contains(&needle) && l.contains("\" registered"))
            .count()
    }

    /// The log file (ngircd's stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The configuration file.
    pub fn conf_path(&self) -> &Path {
        &self.conf_path
    }

    /// The log so far.
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    /// Log lines about connections shut down by the server for a reason other than the
    /// client closing them (flood, long lines, ping timeouts, ...).
    pub fn forced_disconnects(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("Shutting down connection"))
            .filter(|l| {
                !l.contains("(Client closed connection)") && !l.contains("(Got QUIT command")
            })
            .map(str::to_string)
            .collect()
    }

    /// The server's process id (benches read its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A file's text (lossy UTF-8), empty when it cannot be read.
pub fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

async fn wait_ready(
    child: &mut Child,
    port: u16,
    log_path: &Path,
    limit: Duration,
    probe: bool,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let ready = format!("Now listening on [127.0.0.1]:{port}");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("ngircd exited early: {status}"));
        }
        if read_lossy(log_path).contains(&ready)
            && (!probe || tokio::net::TcpStream::connect(addr).await.is_ok())
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("ngircd not listening on {addr} in time"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for Ngircd {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "--- ngircd log kept at {} (last lines) ---\n{}",
                self.log_path.display(),
                super::tail(&self.log(), 40)
            );
        }
    }
}
