//! A real IRC client: irssi running in a private tmux server, typed at with
//! `tmux send-keys` and read through irssi's own log files.
//!
//! Facts about irssi 1.4 and tmux 3.3 this relies on (checked against irssi 1.4.3, tmux 3.3a):
//! * `irssi --home=<dir>` reads `<dir>/config` and writes nothing else there unless asked
//!   (`settings_autosave = "no"`). Without `servers`/`chatnets` in the config nothing
//!   connects by itself.
//! * `/connect <address> <port> <password>`: the server password is positional (irssi has
//!   no `-password` option: "Unknown option: password").
//! * A `chatnets` entry and `/connect -network NAME <address> <port>` make NAME the server's
//!   tag (else irssi makes one from the address: `127`); irssi-otr uses the tag as libotr's
//!   account name (support/irssi_otr.rs).
//! * `autoload_modules` defaults to `perl otr`: a stock Debian irssi with
//!   `irssi-plugin-otr` installed runs OTR (inert until it sees an OTR query or tag).
//! * A `logs` entry with `auto_open = "yes"` and `level = "ALL"` logs every window into one
//!   file, from startup on; `autolog` writes one file per target (`$0`), `*otr` becoming
//!   `_otr`. Lines look like `15:36 <*otr> bob: plaintext`, `15:36 -!- Welcome to the ...`,
//!   `15:36 -!- alice [~alice@127.0.0.1] has joined #chan`. irssi writes each line at once.
//! * irssi negotiates CAP (`CAP LS 302`, requests `server-time` and whatever else it knows)
//!   and sends `PASS`, `NICK`, `USER` pipelined.
//! * Paste detection would treat fast `send-keys` input as a paste: `paste_detect_time = 0`
//!   turns it off. `cmd_queue_speed = 0` turns off irssi's own flood queue.
//! * tmux: `-S <socket>` (a private server), `-f /dev/null` (no user config),
//!   `new-session -d -x W -y H` (a detached session of a fixed size); the server exits when
//!   its last window closes. tmux daemonizes, so `setpriv --pdeathsig` cannot tie it to the
//!   test process: irssi runs under `timeout --foreground` as a safety net instead
//!   (`--foreground` keeps it in the terminal's process group, or it would stop on SIGTTIN).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::ngircd::read_lossy;

/// tmux session name inside the private server.
const SESSION: &str = "e2e";
/// irssi is killed after this long whatever happens (the test's Drop kills it much earlier).
const SAFETY_TIMEOUT_SECS: u32 = 300;

fn in_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Where tmux is installed.
pub fn tmux_binary() -> Option<PathBuf> {
    in_path("tmux").or_else(|| {
        ["/usr/bin/tmux", "/usr/local/bin/tmux"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    })
}

/// Where irssi is installed.
pub fn irssi_binary() -> Option<PathBuf> {
    in_path("irssi").or_else(|| {
        ["/usr/bin/irssi", "/usr/local/bin/irssi"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    })
}

/// Whether ngircd, tmux and irssi are all present. Returns `false` (after printing a
/// "skipped" line) when one is missing and `OTRBNC_REQUIRE_E2E` is unset; panics when it is
/// set.
pub fn available(test: &str) -> bool {
    let missing: Vec<&str> = [
        ("tmux", tmux_binary().is_none()),
        ("irssi", irssi_binary().is_none()),
    ]
    .into_iter()
    .filter_map(|(n, m)| m.then_some(n))
    .collect();
    super::tools_available(test, &missing)
}

/// Returns early from a test (with a "skipped" line) when ngircd, tmux or irssi is missing,
/// or fails it when `OTRBNC_REQUIRE_E2E=1`.
#[macro_export]
macro_rules! require_irssi {
    () => {
        if !$crate::support::irssi::available(module_path!()) {
            return;
        }
    };
}

/// Options for one irssi.
#[derive(Debug, Clone)]
pub struct IrssiOpts {
    /// `nick` (also `user_name`).
    pub nick: String,
    /// `real_name`.
    pub realname: String,
    /// Window size.
    pub cols: u16,
    /// Window size.
    pub rows: u16,
    /// A chatnet (irssi's network) of this name in the config, for `/connect -network NAME`:
    /// the server's tag is then NAME instead of one made from the address.
    pub chatnet: Option<String>,
    /// `autoload_modules` (irssi's default, `perl otr`, when `None`).
    pub autoload_modules: Option<String>,
    /// Files written into the home before irssi starts: (path relative to the home, content).
    pub files: Vec<(PathBuf, Vec<u8>)>,
}

impl IrssiOpts {
    /// irssi as `nick`, 160×48.
    pub fn new(nick: &str) -> IrssiOpts {
        IrssiOpts {
            nick: nick.to_string(),
            realname: format!("{nick} (irssi e2e)"),
            cols: 160,
            rows: 48,
            chatnet: None,
            autoload_modules: None,
            files: Vec::new(),
        }
    }
}

/// irssi in a private tmux server; the server (and irssi) is killed on drop.
pub struct Irssi {
    dir: tempfile::TempDir,
    home: PathBuf,
    socket: PathBuf,
    logs: PathBuf,
    tmux: PathBuf,
    label: String,
    running: bool,
}

/// The lines of a log that end in a newline (a line irssi is still writing is left out).
pub fn whole_lines(log: &str) -> Vec<String> {
    let mut lines: Vec<String> = log.split('\n').map(str::to_string).collect();
    // What follows the last newline is not a whole line yet (or is empty).
    lines.pop();
    lines
}

/// A log line without irssi's `HH:MM ` timestamp.
pub fn untimed(line: &str) -> &str {
    let b = line.as_bytes();
    let stamped = b.len() >= 6
        && b[..2].iter().all(u8::is_ascii_digit)
        && b[2] == b':'
        && b[3..5].iter().all(u8::is_ascii_digit)
        && b[5] == b' ';
    if stamped { &line[6..] } else { line }
}

/// A TOML-like quoted string for irssi's config format (`"..."` with `\"` and `\\`).
fn irssi_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl Irssi {
    /// Writes a private irssi home (config only) and starts irssi in a detached tmux session;
    /// waits until irssi has opened its log (it is ready for input).
    pub async fn start(opts: IrssiOpts) -> Irssi {
        let tmux = tmux_binary().expect("tmux not installed (use require_irssi!() first)");
        let irssi = irssi_binary().expect("irssi not installed (use require_irssi!() first)");
        let dir = tempfile::Builder::new()
            .prefix("otrbnc-e2e-irssi-")
            .tempdir()
            .expect("tempdir");
        let home = dir.path().join("home");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&home).expect("mkdir irssi home");
        std::fs::create_dir_all(&logs).expect("mkdir irssi logs");
        let all_log = logs.join("all.log");
        let config = format!(
            "settings = {{\n\
             \x20 core = {{\n\
             \x20   real_name = {real};\n\
             \x20   user_name = {nick};\n\
             \x20   nick = {nick};\n\
             \x20   settings_autosave = \"no\";\n\
             \x20   awaylog_file = {away};\n\
             {autoload}\
             \x20 }};\n\
             \x20 \"irc/core\" = {{\n\
             \x20   cmd_queue_speed = \"0\";\n\
             \x20   cmds_max_at_once = \"20\";\n\
             \x20   lag_check_time = \"0\";\n\
             \x20   ctcp_version_reply = \"irssi e2e\";\n\
             \x20 }};\n\
             \x20 \"fe-common/core\" = {{\n\
             \x20   autolog = \"yes\";\n\
             \x20   autolog_path = {autolog};\n\
             \x20   autolog_level = \"all\";\n\
             \x20   beep_msg_level = \"\";\n\
             \x20 }};\n\
             \x20 \"fe-text\" = {{ paste_detect_time = \"0\"; }};\n\
             }};\n\
             logs = {{ {all} = {{ auto_open = \"yes\"; level = \"ALL\"; }}; }};\n\
             {chatnets}",
            real = irssi_str(&opts.realname),
            nick = irssi_str(&opts.nick),
            away = irssi_str(&dir.path().join("away.log").display().to_string()),
            autolog = irssi_str(&format!("{}/$0.log", logs.display())),
            all = irssi_str(&all_log.display().to_string()),
            autoload = opts
                .autoload_modules
                .as_ref()
                .map(|m| format!("    autoload_modules = {};\n", irssi_str(m)))
                .unwrap_or_default(),
            chatnets = opts
                .chatnet
                .as_ref()
                .map(|n| format!(
                    "chatnets = {{ {} = {{ type = \"IRC\"; }}; }};\n",
                    irssi_str(n)
                ))
                .unwrap_or_default(),
        );
        std::fs::write(home.join("config"), config).expect("write irssi config");
        for (rel, content) in &opts.files {
            let path = home.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir in the irssi home");
            }
            std::fs::write(&path, content).expect("write a file into the irssi home");
        }
        // A script rather than a command line: no quoting of paths through tmux and sh.
        let script = dir.path().join("run-irssi.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nexport HOME='{d}' TERM=screen LANG=C.UTF-8 LC_ALL=C.UTF-8\n\
                 exec timeout --foreground {SAFETY_TIMEOUT_SECS} '{irssi}' --home='{home}' -n '{nick}'\n",
                d = dir.path().display(),
                irssi = irssi.display(),
                home = home.display(),
                nick = opts.nick,
            ),
        )
        .expect("write run script");
        let socket = dir.path().join("tmux.sock");
        let me = Irssi {
            label: format!("irssi {}", opts.nick),
            home,
            dir,
            socket,
            logs,
            tmux,
            running: true,
        };
        let out = me
            .tmux_cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                SESSION,
                "-x",
                &opts.cols.to_string(),
                "-y",
                &opts.rows.to_string(),
                "sh",
            ])
            .arg(&script)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux new-session");
        assert!(
            out.status.success(),
            "tmux new-session failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        me.wait_log(
            Duration::from_secs(15),
            "irssi started (its log opened)",
            |l| l.contains("Irssi v"),
        )
        .await;
        // A misplaced key in the generated config is only a warning to irssi (logged before
        // its banner): make it an error.
        let log = me.log();
        assert!(
            !log.contains("Unknown settings") && !log.contains("Errors in configuration"),
            "{}: irssi did not accept its generated config:\n{log}",
            me.label
        );
        me
    }

    fn tmux_cmd(&self) -> Command {
        let mut c = Command::new(&self.tmux);
        c.arg("-S").arg(&self.socket).arg("-f").arg("/dev/null");
        c
    }

    /// Types `line` into irssi's input line and presses Enter.
    pub fn type_line(&self, line: &str) {
        let target = format!("{SESSION}:");
        let out = self
            .tmux_cmd()
            .args(["send-keys", "-t", &target, "-l", "--", line])
            .output()
            .expect("run tmux send-keys");
        assert!(
            out.status.success(),
            "{}: tmux send-keys failed: {}",
            self.label,
            String::from_utf8_lossy(&out.stderr)
        );
        let out = self
            .tmux_cmd()
            .args(["send-keys", "-t", &target, "Enter"])
            .output()
            .expect("run tmux send-keys");
        assert!(out.status.success(), "{}: tmux send-keys Enter", self.label);
    }

    /// What the window shows now (`tmux capture-pane -p`).
    pub fn pane(&self) -> String {
        let target = format!("{SESSION}:");
        self.tmux_cmd()
            .args(["capture-pane", "-p", "-t", &target])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Whether the tmux session (and so irssi) is still running.
    pub fn is_alive(&self) -> bool {
        self.tmux_cmd()
            .args(["has-session", "-t", SESSION])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The log of every window.
    pub fn log(&self) -> String {
        read_lossy(&self.logs.join("all.log"))
    }

    /// The autolog of one target (`bob`, `#chan`, `*otr`), empty when there is none. irssi
    /// names the file after the target with characters it does not like replaced by `_`.
    pub fn target_log(&self, target: &str) -> String {
        read_lossy(&self.target_log_path(target).unwrap_or_default())
    }

    fn target_log_path(&self, target: &str) -> Option<PathBuf> {
        let want = target.to_ascii_lowercase();
        let alt: String = want
            .chars()
            .map(|c| if c == '*' || c == '/' { '_' } else { c })
            .collect();
        std::fs::read_dir(&self.logs)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                let Some(stem) = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_ascii_lowercase())
                else {
                    return false;
                };
                p.extension().is_some_and(|e| e == "log") && (stem == want || stem == alt)
            })
    }

    /// The names of the log files so far.
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

    /// The directory of the log files.
    pub fn logs_dir(&self) -> &Path {
        &self.logs
    }

    /// irssi's home (`--home`): its config and what modules keep there (`otr/`).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// A label for messages (`irssi NICK`).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// How many whole lines one target's log has now: [`Irssi::target_lines_since`] and
    /// [`Irssi::wait_target_since`] look only at what comes after.
    pub fn target_mark(&self, target: &str) -> usize {
        self.target_log(target).matches('\n').count()
    }

    /// The whole lines of one target's log after the first `mark` lines.
    pub fn target_lines_since(&self, target: &str, mark: usize) -> Vec<String> {
        whole_lines(&self.target_log(target))
            .into_iter()
            .skip(mark)
            .collect()
    }

    /// Polls one target's log until `pred` holds for one of its lines after the first
    /// `mark`; returns that line. Panics after `limit` naming `what`.
    pub async fn wait_target_since(
        &self,
        target: &str,
        mark: usize,
        limit: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let what = format!("{what} (in the log of {target}, after line {mark})");
        let hit = || {
            self.target_lines_since(target, mark)
                .into_iter()
                .find(|l| pred(l))
        };
        self.wait_for(limit, &what, || hit().is_some()).await;
        // The log only grows: the line found is still there.
        hit().unwrap_or_default()
    }

    /// Polls the log of every window until `pred` holds; panics after `limit` naming `what`.
    pub async fn wait_log(&self, limit: Duration, what: &str, pred: impl Fn(&str) -> bool) {
        self.wait_for(limit, what, || pred(&self.log())).await;
    }

    /// Polls one target's log until `pred` holds; panics after `limit` naming `what`.
    pub async fn wait_target_log(
        &self,
        target: &str,
        limit: Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) {
        let what = format!("{what} (in the log of {target})");
        self.wait_for(limit, &what, || pred(&self.target_log(target)))
            .await;
    }

    async fn wait_for(&self, limit: Duration, what: &str, pred: impl Fn() -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if pred() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: timed out after {limit:?} waiting for {what}\nlog files: {:?}\n--- last lines of the log ---\n{}\n--- the window ---\n{}",
                    self.label,
                    self.log_files(),
                    super::tail(&self.log(), 40),
                    self.pane().trim_end()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Quits irssi (`/quit`, so the server sees a QUIT and the OTR module saves what it
    /// keeps) and waits up to 10 s for it to exit; kills it if it does not. Its home and logs
    /// stay until drop.
    pub async fn quit(&mut self, message: &str) {
        if !self.running {
            return;
        }
        self.type_line(&format!("/quit {message}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.is_alive() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let exited = !self.is_alive();
        self.kill();
        assert!(exited, "{}: did not exit within 10 s of /quit", self.label);
    }

    /// Kills the tmux server (and irssi with it).
    pub fn kill(&mut self) {
        if self.running {
            self.running = false;
            let _ = self
                .tmux_cmd()
                .arg("kill-server")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Irssi {
    fn drop(&mut self) {
        let pane = if std::thread::panicking() {
            self.pane()
        } else {
            String::new()
        };
        self.kill();
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "--- {}: logs kept in {} ({:?}); the window was: ---\n{}\n--- last lines of the log ---\n{}",
                self.label,
                self.logs.display(),
                self.log_files(),
                pane.trim_end(),
                super::tail(&self.log(), 40)
            );
        }
    }
}
