//! A private ZNC (Debian's `znc` package) per test, with one user and one network.
//!
//! Facts about ZNC 1.8 this relies on (checked against 1.8.2 from Debian 12):
//! * `znc --datadir DIR --foreground` reads `DIR/configs/znc.conf` and logs to stdout; it prints
//!   `Staying open for debugging [pid: N]` once its listeners are bound (`Unable to bind` when a
//!   port is taken). It may rewrite znc.conf and creates `DIR/users/…`, so DIR must be writable.
//! * Started as root it waits 30 seconds before doing anything (even with `--allow-root`): as
//!   root the harness runs it as `nobody` (through `setpriv`, like ngircd drops to `nobody`
//!   itself), in a tempdir given to `nobody`.
//! * `Pass = plain#<password>` is a plain-text password (the hashed forms are
//!   `sha256#<hash>#<salt>#`; `znc --makepass` only asks interactively).
//! * A client logs in with `PASS <user>/<network>:<password>` and gets `001 … Welcome to ZNC`
//!   at once, connected upstream or not; `PRIVMSG *status :help` and the raw `ZNC help` are
//!   both answered by `*status!znc@znc.in` PRIVMSGs, one command per line (`Version: …`).
//! * The network connects to its server at start; `ConnectDelay = 0` and
//!   `ServerThrottle = 0` take away the waits between attempts, and `FloodRate`/`FloodBurst`
//!   (2 lines/s after 9 by default) are raised so that an OTR handshake is not paced by ZNC.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::ngircd::read_lossy;

/// The line ZNC prints once it listens.
const READY: &str = "Staying open for debugging";

/// Where znc is installed.
pub fn binary() -> Option<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join("znc");
            if p.is_file() {
                return Some(p);
            }
        }
    }
    ["/usr/bin/znc", "/usr/local/bin/znc"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Whether ngircd and znc are present. Returns `false` (after printing a "skipped" line) when
/// znc is missing and `OTRBNC_REQUIRE_E2E` is unset; panics when it is set.
pub fn available(test: &str) -> bool {
    let missing: &[&str] = if binary().is_some() { &[] } else { &["znc"] };
    super::tools_available(test, missing)
}

/// Returns early from a test (with a "skipped" line) when ngircd or znc is missing, or fails
/// it when `OTRBNC_REQUIRE_E2E=1`.
#[macro_export]
macro_rules! require_znc {
    () => {
        if !$crate::support::znc::available(module_path!()) {
            return;
        }
    };
}

/// One ZNC user with one network.
#[derive(Debug, Clone)]
pub struct ZncOpts {
    /// The ZNC user (login name).
    pub user: String,
    /// Its password.
    pub password: String,
    /// The network's name in ZNC.
    pub network: String,
    /// The nick ZNC registers with upstream.
    pub nick: String,
    /// The IRC server (plain).
    pub server: SocketAddr,
}

impl ZncOpts {
    /// User `nick` (password `znc-e2e-pw`) with network `test` on `server`.
    pub fn new(nick: &str, server: SocketAddr) -> ZncOpts {
        ZncOpts {
            user: nick.to_string(),
            password: "znc-e2e-pw".to_string(),
            network: "test".to_string(),
            nick: nick.to_string(),
            server,
        }
    }

    fn config(&self, port: u16) -> String {
        format!(
            "Version = 1.8.2\n\
             ConnectDelay = 0\n\
             ServerThrottle = 0\n\
             <Listener l>\n\
             \tPort = {port}\n\
             \tIPv4 = true\n\
             \tIPv6 = false\n\
             \tSSL = false\n\
             \tHost = 127.0.0.1\n\
             </Listener>\n\
             <User {user}>\n\
             \tPass = plain#{pw}\n\
             \tAdmin = true\n\
             \tNick = {nick}\n\
             \tAltNick = {nick}_\n\
             \tIdent = {nick}\n\
             \tRealName = {nick} behind ZNC\n\
             \t<Network {net}>\n\
             \t\tServer = {host} {sport}\n\
             \t\tFloodRate = 1000\n\
             \t\tFloodBurst = 1000\n\
             \t</Network>\n\
             </User>\n",
            user = self.user,
            pw = self.password,
            nick = self.nick,
            net = self.network,
            host = self.server.ip(),
            sport = self.server.port(),
        )
    }
}

/// A running ZNC, killed on drop (its directory is kept and its log printed if the test
/// panics).
pub struct Znc {
    opts: ZncOpts,
    child: Option<Child>,
    dir: tempfile::TempDir,
    log_path: PathBuf,
    port: u16,
}

/// `nobody`'s uid and gid from /etc/passwd (65534 where it is not listed).
fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .and_then(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
        })
        .unwrap_or((65534, 65534))
}

/// Whether this process runs as root (`/proc/self` belongs to the effective uid).
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Gives a directory tree to `uid:gid`.
fn chown_tree(path: &Path, uid: u32, gid: u32) {
    let _ = std::os::unix::fs::chown(path, Some(uid), Some(gid));
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            chown_tree(&e.path(), uid, gid);
        }
    }
}

impl Znc {
    /// Writes the configuration, starts ZNC and waits until it listens.
    pub async fn start(opts: ZncOpts) -> Znc {
        let bin = binary().expect("znc not installed (use require_znc!() first)");
        let dir = tempfile::Builder::new()
            .prefix("otrbnc-e2e-znc-")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(dir.path().join("configs")).expect("mkdir configs");
        let log_path = dir.path().join("znc.log");
        let mut znc = Znc {
            opts,
            child: None,
            dir,
            log_path,
            port: 0,
        };
        let mut last = String::new();
        for _ in 0..3 {
            znc.port = super::free_port();
            let conf = znc.dir.path().join("configs").join("znc.conf");
            std::fs::write(&conf, znc.opts.config(znc.port)).expect("write znc.conf");
            let _ = std::fs::remove_file(&znc.log_path);
            if is_root() {
                let (uid, gid) = nobody();
                chown_tree(znc.dir.path(), uid, gid);
            }
            znc.spawn(&bin);
            match znc.wait_listening(Duration::from_secs(15)).await {
                Ok(()) => return znc,
                Err(e) => {
                    znc.kill();
                    let log = znc.log();
                    // Only a port taken between choosing and binding is worth another try.
                    if !log.contains("Unable to bind") {
                        panic!("znc: {e}\n--- znc log ---\n{log}");
                    }
                    last = e;
                }
            }
        }
        panic!("znc could not start after 3 ports: {last}");
    }

    fn spawn(&mut self, bin: &Path) {
        let log = std::fs::File::create(&self.log_path).expect("create znc log");
        let mut cmd = match super::setpriv() {
            Some(sp) => {
                let mut c = std::process::Command::new(sp);
                c.args(["--pdeathsig", "KILL"]);
                if is_root() {
                    let (uid, gid) = nobody();
                    c.arg(format!("--reuid={uid}"))
                        .arg(format!("--regid={gid}"))
                        .arg("--clear-groups");
                }
                c.arg("--").arg(bin);
                c
            }
            None => std::process::Command::new(bin),
        };
        cmd.arg("--datadir")
            .arg(self.dir.path())
            .arg("--foreground")
            .arg("--no-color")
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log fd"))
            .stderr(log);
        self.child = Some(cmd.spawn().expect("spawn znc"));
    }

    async fn wait_listening(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                return Err(format!("exited before listening ({status})"));
            }
            if self.log().contains(READY) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not listening after {limit:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The client listener's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The `PASS` argument that logs in: `user/network:password`.
    pub fn pass(&self) -> String {
        format!(
            "{}/{}:{}",
            self.opts.user, self.opts.network, self.opts.password
        )
    }

    /// Its stdout and stderr so far.
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Znc {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "--- znc: directory kept at {}; log: ---\n{}",
                self.dir.path().display(),
                super::tail(&self.log(), 40)
            );
        }
    }
}
