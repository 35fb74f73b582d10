//! A real IRC client: WeeChat (Debian's `weechat-headless`, no terminal), driven through its
//! FIFO and read through its logger's files.
//!
//! Facts about WeeChat 3.8 this relies on (checked against Debian's 3.8):
//! * `weechat-headless --dir <dir>` keeps config, data, cache and runtime files in `<dir>`
//!   and runs in the foreground; `-r '<cmd>;<cmd>'` runs commands after startup.
//! * The fifo plugin reads `fifo.file.path`; a line `irc.server.<name> */command` runs the
//!   command in that server's buffer (`*` runs it even when it looks like text).
//! * The logger writes `irc.server.<name>.weechatlog` and `irc.<name>.<target>.weechatlog`
//!   under `logger.file.path`; with `logger.file.flush_delay = 0` every line at once.
//! * `irc.server.<name>.connection_timeout` (60 s by default) is how long it waits for 001
//!   before it gives the connection up: a bouncer must register it itself.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::ngircd::read_lossy;

/// The server's name inside WeeChat.
pub const SERVER: &str = "bnc";

/// Where weechat-headless is installed.
pub fn binary() -> Option<PathBuf> {
    [
        "/usr/bin/weechat-headless",
        "/usr/local/bin/weechat-headless",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// Whether ngircd and weechat-headless are present (see `irssi::available`).
pub fn available(test: &str) -> bool {
    let missing: &[&str] = if binary().is_some() {
        &[]
    } else {
        &["weechat-headless"]
    };
    super::tools_available(test, missing)
}

/// Returns early from a test (with a "skipped" line) when ngircd or WeeChat is missing, or
/// fails it when `OTRBNC_REQUIRE_E2E=1`.
#[macro_export]
macro_rules! require_weechat {
    () => {
        if !$crate::support::weechat::available(module_path!()) {
            return;
        }
    };
}

/// WeeChat connected (or connecting) to one server; killed on drop.
pub struct Weechat {
    dir: tempfile::TempDir,
    child: Option<Child>,
    fifo: PathBuf,
    logs: PathBuf,
    label: String,
}

impl Weechat {
    /// Starts WeeChat as `nick` and connects it to `127.0.0.1:port` with `password`.
    pub async fn start(nick: &str, port: u16, password: &str) -> Weechat {
        let bin = binary().expect("weechat-headless not installed (use require_weechat!())");
        let dir = tempfile::Builder::new()
            .prefix("otrbnc-e2e-weechat-")
            .tempdir()
            .expect("tempdir");
        let fifo = dir.path().join("fifo");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).expect("mkdir logs");
        let commands = [
            "/set logger.file.flush_delay 0".to_string(),
            format!("/set logger.file.path {}", logs.display()),
            "/set logger.level.irc 9".to_string(),
            format!("/set fifo.file.path {}", fifo.display()),
            "/fifo enable".to_string(),
            format!("/server add {SERVER} 127.0.0.1/{port} -notls"),
            format!("/set irc.server.{SERVER}.password \"{password}\""),
            format!("/set irc.server.{SERVER}.nicks {nick}"),
            format!("/set irc.server.{SERVER}.username {nick}"),
            format!("/set irc.server.{SERVER}.connection_timeout 20"),
            format!("/connect {SERVER}"),
        ];
        let log_file = std::fs::File::create(dir.path().join("stdout.log")).expect("log");
        let child = super::command(&bin)
            .arg("--dir")
            .arg(dir.path().join("home"))
            .args(["-P", "irc,logger,fifo", "-r"])
            // The logger writes local times: UTC, so that tests can compare them.
            .env("TZ", "UTC")
            .arg(commands.join(";"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone fd"))
            .stderr(log_file)
            .spawn()
            .expect("spawn weechat-headless");
        let me = Weechat {
            label: format!("weechat {nick}"),
            dir,
            child: Some(child),
            fifo,
            logs,
        };
        me.wait_for(Duration::from_secs(15), "the FIFO", || me.fifo.exists())
            .await;
        me
    }

    /// Runs a command in the server's buffer (`/msg *otr status`).
    pub fn command(&self, cmd: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.fifo)
            .expect("open the WeeChat FIFO");
        writeln!(f, "irc.server.{SERVER} *{cmd}").expect("write the FIFO");
    }

    /// The log of a buffer: `None` for the server buffer, `Some("#chan")` or `Some("*otr")`.
    pub fn buffer_log(&self, target: Option<&str>) -> String {
        let name = match target {
            None => format!("irc.server.{SERVER}.weechatlog"),
            Some(t) => format!("irc.{SERVER}.{}.weechatlog", t.to_ascii_lowercase()),
        };
        read_lossy(&self.logs.join(name))
    }

    /// Every log file's name.
    pub fn log_files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.logs)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Polls a buffer's log until `pred` holds; panics after `limit` naming `what`.
    pub async fn wait_log(
        &self,
        target: Option<&str>,
        limit: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) {
        self.wait_for(limit, what, || pred(&self.buffer_log(target)))
            .await;
    }

    async fn wait_for(&self, limit: Duration, what: &str, pred: impl Fn() -> bool) {
        let deadline = Instant::now() + limit;
        while !pred() {
            if Instant::now() > deadline {
                panic!(
                    "{}: timed out after {limit:?} waiting for {what}\nlog files: {:?}\n--- server buffer ---\n{}\n--- stdout ---\n{}",
                    self.label,
                    self.log_files(),
                    super::tail(&self.buffer_log(None), 30),
                    super::tail(&read_lossy(&self.dir.path().join("stdout.log")), 20),
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The directory of the log files.
    pub fn logs_dir(&self) -> &Path {
        &self.logs
    }
}

impl Drop for Weechat {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "--- {}: files kept in {} ---",
                self.label,
                self.dir.path().display()
            );
        }
    }
}
