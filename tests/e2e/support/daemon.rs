//! What the private ircd-hybrid and InspIRCd instances share: a temp dir the daemon may write
//! to, the start under the packages' own service user, the wait until the port accepts, and
//! the kill on drop (the dir and the log's tail kept when the test panics).
//!
//! Both daemons refuse to run as root (hybrid: "This server won't run as root/superuser";
//! InspIRCd without `--runasroot`). Debian runs them as the user `irc` (InspIRCd's unit file,
//! hybrid's init script), and `/etc/inspircd` is `irc:irc 0770`: as root the harness starts
//! them as `irc` too, through `setpriv`; as another user they keep that user.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ngircd::read_lossy;

/// The user Debian's packages run the daemons as.
pub const SERVICE_USER: &str = "irc";

/// `(uid, gid)` of `user` from /etc/passwd.
pub fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.first() == Some(&user) {
            Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
        } else {
            None
        }
    })
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// The ids to switch to: the service user's when running as root, none otherwise.
fn switch_to() -> Option<(u32, u32)> {
    if is_root() {
        user_ids(SERVICE_USER)
    } else {
        None
    }
}

/// A temp dir (prefix `prefix`) the daemon can write to: owned by the service user when the
/// daemon will run as that user.
pub fn workdir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir");
    if let Some((uid, gid)) = switch_to() {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown tempdir");
    }
    dir
}

/// Gives a file the harness wrote in the workdir to the service user (when switching).
pub fn hand_over(path: &Path) {
    if let Some((uid, gid)) = switch_to() {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
    }
}

/// `bin args…` with stdout and stderr to `log`, killed with the test process
/// (`setpriv --pdeathsig KILL`), as the service user when running as root.
pub fn spawn(bin: &Path, args: &[String], log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("create log");
    hand_over(log);
    let mut cmd = match super::setpriv() {
        Some(sp) => {
            let mut c = Command::new(sp);
            c.args(["--pdeathsig", "KILL"]);
            if let Some((uid, gid)) = switch_to() {
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups");
            }
            c.arg("--").arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone log fd"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()))
}

/// Waits until `child` listens on `port` (a TCP connection succeeds) and `log` holds `ready`.
pub async fn wait_ready(
    child: &mut Child,
    port: u16,
    logs: &[&Path],
    ready: &str,
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited early: {status}"));
        }
        let said = logs.iter().any(|l| read_lossy(l).contains(ready));
        if said && tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("not listening on {addr} after {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A running daemon in its workdir, killed on drop.
pub struct Daemon {
    /// "ircd-hybrid" or "InspIRCd", for messages.
    pub what: &'static str,
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    logs: Vec<PathBuf>,
    conf_path: PathBuf,
}

impl Daemon {
    /// Starts a daemon up to 5 times on a fresh free port: `write_conf(dir, port, attempt)`
    /// writes its configuration and returns `(args, log files, the line that says it is ready)`.
    pub async fn start(
        what: &'static str,
        bin: &Path,
        dir: tempfile::TempDir,
        conf_path: PathBuf,
        mut write_conf: impl FnMut(&Path, u16, usize) -> (Vec<String>, Vec<PathBuf>, String),
    ) -> Daemon {
        let mut dir = dir;
        let mut last_err = String::new();
        for attempt in 0..5 {
            let port = super::free_port();
            let (args, logs, ready) = write_conf(dir.path(), port, attempt);
            hand_over(&conf_path);
            let stdout = dir.path().join(format!("stdout.{attempt}.log"));
            let mut child = spawn(bin, &args, &stdout);
            let mut all_logs = vec![stdout];
            all_logs.extend(logs);
            let refs: Vec<&Path> = all_logs.iter().map(PathBuf::as_path).collect();
            match wait_ready(&mut child, port, &refs, &ready, Duration::from_secs(20)).await {
                Ok(()) => {
                    return Daemon {
                        what,
                        child: Some(child),
                        dir,
                        port,
                        logs: all_logs,
                        conf_path,
                    };
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let text: Vec<String> = all_logs.iter().map(|l| read_lossy(l)).collect();
                    last_err = format!("{e}\n--- {what} logs ---\n{}", text.join("\n"));
                }
            }
        }
        dir.disable_cleanup(true);
        panic!("{what} did not start after 5 attempts: {last_err}");
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The generated configuration file.
    pub fn conf_path(&self) -> &Path {
        &self.conf_path
    }

    /// Every log so far (stdout and stderr first, then the daemon's own log files).
    pub fn log(&self) -> String {
        self.logs
            .iter()
            .map(|l| read_lossy(l))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The process id (benches read its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "--- {} kept in {} (last log lines) ---\n{}",
                self.what,
                self.dir.path().display(),
                super::tail(&self.log(), 40)
            );
        }
    }
}
