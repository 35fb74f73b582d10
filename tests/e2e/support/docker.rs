//! Containers for the deployment tests (tests/e2e/docker.rs): the base images made by
//! `scripts/docker-test/prepare` (found through `OTRBNC_DOCKER_TESTNET=<dir>`), the otrbnc
//! image built from docker/Dockerfile around the binary under test, private networks,
//! containers, a packet capture on the network's bridge, and `docker compose`.
//!
//! Everything created carries the label [`LABEL`] and is removed on drop (containers with
//! their anonymous volumes); a failing test prints the containers' last log lines first.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The directory `scripts/docker-test/prepare` wrote its `env` and `ready` to.
pub const DIR_ENV: &str = "OTRBNC_DOCKER_TESTNET";
/// Turns "no Docker test set-up" from a skip into a failure (CI sets it).
pub const REQUIRE_ENV: &str = "OTRBNC_REQUIRE_DOCKER";
/// How long a test waits for the base images (made in the background while the code builds).
const READY_WAIT: Duration = Duration::from_secs(600);
/// On every image, network and container the tests make.
pub const LABEL: &str = "org.otrbnc.test=e2e";
/// docker/Dockerfile's `runtime-base` stage, built by the tests.
pub const BASE_IMAGE: &str = "otrbnc-test/runtime-base:e2e";
/// The image the tests run: that stage with the binary under test.
pub const IMAGE: &str = "otrbnc-test/otrbnc:e2e";
/// The container user's uid and gid (docker/Dockerfile).
pub const CONTAINER_UID: u32 = 10001;
/// The group the tests give their secret files to and add to the containers
/// (`--group-add`, compose's `group_add`), as a user would with their own group.
pub const SECRETS_GID: u32 = 10002;

/// What `scripts/docker-test/prepare` made.
#[derive(Debug, Clone)]
pub struct DockerEnv {
    /// Its directory.
    pub dir: PathBuf,
    /// A slim Debian image (debootstrap, imported).
    pub base_image: String,
    /// The same with Debian's ngircd.
    pub ngircd_image: String,
}

impl DockerEnv {
    /// The prepared images, waiting for them if they are still being made. `None` (after a
    /// "skipped" line) when there are none and `OTRBNC_REQUIRE_DOCKER` is unset; a panic when
    /// it is set.
    pub async fn get(test: &str) -> Option<DockerEnv> {
        super::found_or_skip(test, Self::find().await, REQUIRE_ENV)
    }

    async fn find() -> Result<DockerEnv, String> {
        let (dir, env) =
            super::ready_network(DIR_ENV, "Docker", "scripts/docker-test/prepare", READY_WAIT)
                .await?;
        let get = |k: &str| {
            env.get(k)
                .cloned()
                .ok_or_else(|| format!("{}/env has no {k}", dir.display()))
        };
        if tcpdump().is_none() {
            return Err("tcpdump is not installed (apt-get install tcpdump)".into());
        }
        Ok(DockerEnv {
            base_image: get("OTRBNC_DOCKER_BASE_IMAGE")?,
            ngircd_image: get("OTRBNC_DOCKER_NGIRCD_IMAGE")?,
            dir,
        })
    }
}

/// Returns early from a test when the Docker set-up is missing (or fails it when
/// `OTRBNC_REQUIRE_DOCKER=1`); otherwise evaluates to it.
#[macro_export]
macro_rules! require_docker {
    () => {
        match $crate::support::docker::DockerEnv::get(module_path!()).await {
            Some(t) => t,
            None => return,
        }
    };
}

/// Runs `docker <args>`; its standard output, trimmed, or what it said on failure.
pub fn try_docker<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<String, String> {
    run(Command::new("docker").args(args))
}

/// Runs `docker <args>` and panics if it fails.
#[track_caller]
pub fn docker<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    try_docker(args).unwrap_or_else(|e| panic!("docker {}: {e}", shown.join(" ")))
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The repository's docker/ directory.
pub fn docker_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docker")
}

/// The otrbnc image for this test run: docker/Dockerfile's `runtime-base` stage on the
/// prepared base image, with the binary under test added (its debug information stripped
/// when `strip` is there, as the Dockerfile's own build does). The Dockerfile's `builder`
/// stage needs a Rust image from a registry, so the binary comes from the host instead.
/// Built once per test process. `OTRBNC_DOCKER_IMAGE=<image>` tests that image instead (one
/// built with the Dockerfile's own `builder` stage, say).
pub fn runtime_image(env: &DockerEnv) -> String {
    if let Some(image) = std::env::var("OTRBNC_DOCKER_IMAGE")
        .ok()
        .filter(|i| !i.is_empty())
    {
        return image;
    }
    static BUILT: Mutex<bool> = Mutex::new(false);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !*built {
        let started = Instant::now();
        let base_ctx = tempfile::Builder::new()
            .prefix("otrbnc-docker-ctx-")
            .tempdir()
            .expect("tempdir");
        let dockerfile = docker_dir().join("Dockerfile");
        docker(&[
            "build".into(),
            "--quiet".into(),
            "--target".into(),
            "runtime-base".into(),
            "--build-arg".into(),
            format!("RUNTIME_IMAGE={}", env.base_image).into(),
            "--label".into(),
            LABEL.into(),
            "--tag".into(),
            BASE_IMAGE.into(),
            "--file".into(),
            dockerfile.into_os_string(),
            base_ctx.path().as_os_str().to_os_string(),
        ] as &[std::ffi::OsString]);
        let ctx = tempfile::Builder::new()
            .prefix("otrbnc-docker-ctx-")
            .tempdir()
            .expect("tempdir");
        std::fs::write(
            ctx.path().join("Dockerfile"),
            format!("FROM {BASE_IMAGE}\nCOPY otrbnc /usr/local/bin/otrbnc\n"),
        )
        .expect("write the Dockerfile");
        let bin = ctx.path().join("otrbnc");
        let stripped = Command::new("strip")
            .arg("--strip-debug")
            .arg("-o")
            .arg(&bin)
            .arg(super::otrbnc::binary())
            .status()
            .is_ok_and(|s| s.success());
        if !stripped {
            std::fs::copy(super::otrbnc::binary(), &bin).expect("copy the otrbnc binary");
        }
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let ctx_path = ctx.path().display().to_string();
        docker(&[
            "build", "--quiet", "--label", LABEL, "--tag", IMAGE, &ctx_path,
        ]);
        eprintln!(
            "docker: built {IMAGE} ({} MB) in {:.1} s",
            image_size(IMAGE) / 1_000_000,
            started.elapsed().as_secs_f64()
        );
        *built = true;
    }
    IMAGE.to_string()
}

/// An image's size in bytes.
pub fn image_size(image: &str) -> u64 {
    docker(&["image", "inspect", "--format", "{{.Size}}", image])
        .parse()
        .unwrap_or(0)
}

/// A short random name part (Linux interface names are at most 15 bytes).
pub fn short_id() -> String {
    super::token(8)
}

/// A private Docker network with a bridge interface of a known name, removed on drop.
pub struct Network {
    /// The network's name.
    pub name: String,
    /// Its bridge interface on the host (where [`Capture`] listens).
    pub bridge: String,
}

impl Network {
    /// Creates `otrbnc-e2e-<id>` with the bridge `otrbnc-<id>`.
    pub fn create() -> Network {
        let id = short_id();
        let name = format!("otrbnc-e2e-{id}");
        let bridge = format!("otrbnc-{id}");
        docker(&[
            "network",
            "create",
            "--label",
            LABEL,
            "--opt",
            &format!("com.docker.network.bridge.name={bridge}"),
            &name,
        ]);
        Network { name, bridge }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = try_docker(&["network", "rm", &self.name]);
    }
}

/// A running container, removed (with its anonymous volumes) on drop.
pub struct Container {
    /// Its name.
    pub name: String,
}

impl Container {
    /// `docker run -d --name <name> --label … <args>`.
    #[track_caller]
    pub fn run(name: &str, args: &[String]) -> Container {
        let mut all: Vec<String> = ["run", "-d", "--name", name, "--label", LABEL]
            .iter()
            .map(|s| s.to_string())
            .collect();
        all.extend(args.iter().cloned());
        docker(&all);
        Container {
            name: name.to_string(),
        }
    }

    /// Adopts a container something else started (compose), without removing it on drop.
    pub fn adopt(name: &str) -> ContainerRef {
        ContainerRef {
            name: name.to_string(),
        }
    }

    /// `docker inspect --format <format>`.
    pub fn inspect(&self, format: &str) -> String {
        inspect(&self.name, format)
    }

    /// Everything the container wrote to stdout and stderr.
    pub fn logs(&self) -> String {
        logs(&self.name)
    }

    /// Waits until a line of its log satisfies `pred`.
    pub async fn wait_log(&self, limit: Duration, what: &str, pred: impl Fn(&str) -> bool) {
        wait_log(&self.name, limit, what, pred).await;
    }

    /// The host address a container port is published on (`docker port`).
    pub fn published(&self, port: u16) -> SocketAddr {
        published(&self.name, port)
    }

    /// Waits until the image's HEALTHCHECK says "healthy".
    pub async fn wait_healthy(&self, limit: Duration) -> Duration {
        wait_healthy(&self.name, limit).await
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- container {}: last log lines ---\n{}",
                self.name,
                super::tail(&logs(&self.name), 60)
            );
        }
        let _ = try_docker(&["rm", "-f", "-v", &self.name]);
    }
}

/// A container that is not ours to remove (compose's).
pub struct ContainerRef {
    /// Its name.
    pub name: String,
}

impl ContainerRef {
    /// `docker inspect --format <format>`.
    pub fn inspect(&self, format: &str) -> String {
        inspect(&self.name, format)
    }

    /// Waits until the image's HEALTHCHECK says "healthy".
    pub async fn wait_healthy(&self, limit: Duration) -> Duration {
        wait_healthy(&self.name, limit).await
    }

    /// Everything the container wrote to stdout and stderr.
    pub fn logs(&self) -> String {
        logs(&self.name)
    }
}

fn inspect(name: &str, format: &str) -> String {
    docker(&["inspect", "--format", format, name])
}

fn logs(name: &str) -> String {
    let out = Command::new("docker")
        .args(["logs", name])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) => format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => format!("(docker logs: {e})"),
    }
}

async fn wait_log(name: &str, limit: Duration, what: &str, pred: impl Fn(&str) -> bool) {
    let started = Instant::now();
    loop {
        let log = logs(name);
        if log.lines().any(&pred) {
            return;
        }
        if started.elapsed() > limit {
            panic!(
                "{name}: no log line for {what} after {limit:?}; last lines:\n{}",
                super::tail(&log, 40)
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn published(name: &str, port: u16) -> SocketAddr {
    let out = docker(&["port", name, &format!("{port}/tcp")]);
    let first = out.lines().next().unwrap_or_default();
    first
        .parse()
        .unwrap_or_else(|e| panic!("docker port {name} {port}: {first:?}: {e}"))
}

async fn wait_healthy(name: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let status = inspect(
            name,
            "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}",
        );
        match status.as_str() {
            "healthy" => return started.elapsed(),
            "starting" => {}
            other => panic!(
                "{name}: health {other:?}: {}\n{}",
                inspect(name, "{{json .State.Health}}"),
                super::tail(&logs(name), 30)
            ),
        }
        if started.elapsed() > limit {
            panic!(
                "{name}: not healthy after {limit:?}: {}",
                inspect(name, "{{json .State.Health}}")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The uids (real, effective, saved, filesystem) of a container's main process, read on the
/// host from `/proc/<pid>/status`.
pub fn process_uids(name: &str) -> Vec<u32> {
    let pid = inspect(name, "{{.State.Pid}}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status of {name}: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Writes a secret file as a user would for a container: readable by its owner and its
/// group ([`SECRETS_GID`]) only.
pub fn secret_file(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write a secret file");
    std::os::unix::fs::chown(path, None, Some(SECRETS_GID)).expect("chgrp a secret file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640))
        .expect("chmod a secret file");
}

/// Where tcpdump is installed, if it is.
pub fn tcpdump() -> Option<PathBuf> {
    ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// tcpdump writing every TCP packet to or from `port` on an interface to a file.
pub struct Capture {
    child: Option<Child>,
    path: PathBuf,
    err_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Capture {
    /// Starts the capture and waits until tcpdump says it is listening.
    pub async fn start(iface: &str, port: u16) -> Capture {
        let bin = tcpdump().expect("tcpdump is not installed");
        let dir = tempfile::Builder::new()
            .prefix("otrbnc-e2e-pcap-")
            .tempdir()
            .expect("tempdir");
        let path = dir.path().join("wire.pcap");
        let err_path = dir.path().join("tcpdump.err");
        let err = std::fs::File::create(&err_path).expect("create tcpdump.err");
        // --immediate-mode: packets reach tcpdump as they come (not in blocks of up to a
        // second); -U: each is written as it comes. Killing tcpdump then loses nothing.
        let child = super::command(&bin)
            // A 32 MiB buffer: a busy machine must not make the kernel drop packets.
            .args([
                "-i",
                iface,
                "-n",
                "--immediate-mode",
                "-U",
                "-s",
                "0",
                "-B",
                "32768",
            ])
            .arg("-w")
            .arg(&path)
            .arg(format!("tcp port {port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("spawn tcpdump");
        let started = Instant::now();
        while !super::ngircd::read_lossy(&err_path).contains("listening on") {
            if started.elapsed() > Duration::from_secs(15) {
                panic!(
                    "tcpdump on {iface} did not start: {}",
                    super::ngircd::read_lossy(&err_path)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Capture {
            child: Some(child),
            path,
            err_path,
            _dir: dir,
        }
    }

    /// Waits (up to 10 s) until `needle` is in the capture file (a message known to have
    /// crossed last marks the end), then stops the capture. Returns the file's bytes and
    /// tcpdump's closing statistics (captured, received, dropped by the kernel).
    pub async fn finish_after(mut self, needle: &[u8]) -> (Vec<u8>, String) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            let bytes = std::fs::read(&self.path).unwrap_or_default();
            if super::find(&bytes, needle).is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Some(mut c) = self.child.take() {
            // SIGTERM: tcpdump flushes and prints its statistics.
            let pid = c.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        let stats = super::ngircd::read_lossy(&self.err_path)
            .lines()
            .filter(|l| l.contains("packets"))
            .collect::<Vec<_>>()
            .join(", ");
        let bytes = std::fs::read(&self.path).expect("read the capture");
        (bytes, stats)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How to call Compose here: the `docker compose` plugin, else the `docker-compose` tool.
pub fn compose_command() -> Option<Vec<String>> {
    let plugin = Command::new("docker")
        .args(["compose", "version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if plugin {
        return Some(vec!["docker".into(), "compose".into()]);
    }
    let v1 = Command::new("docker-compose")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    v1.then(|| vec!["docker-compose".into()])
}

/// A Compose project in a directory of its own, taken down with its volumes on drop.
pub struct Compose {
    cmd: Vec<String>,
    /// The project directory (compose.yaml and what it refers to).
    pub dir: PathBuf,
    /// `-p`.
    pub project: String,
    /// Variables for the compose file's `${…}`.
    pub vars: Vec<(String, String)>,
}

impl Compose {
    /// A project named `project` in `dir`.
    pub fn new(dir: &Path, project: &str, vars: &[(&str, String)]) -> Compose {
        let cmd = compose_command().expect("neither `docker compose` nor `docker-compose` works");
        Compose {
            cmd,
            dir: dir.to_path_buf(),
            project: project.to_string(),
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    /// Runs `<compose> -p <project> <args>` in the project directory.
    pub fn run(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = Command::new(&self.cmd[0]);
        cmd.args(&self.cmd[1..])
            .arg("--project-name")
            .arg(&self.project)
            .args(args)
            .current_dir(&self.dir);
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        run(&mut cmd)
    }

    /// Like [`Compose::run`], panicking on failure.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args)
            .unwrap_or_else(|e| panic!("compose {}: {e}", args.join(" ")))
    }

    /// The container of a service.
    pub fn container(&self, service: &str) -> ContainerRef {
        let id = self.ok(&["ps", "-q", service]);
        let id = id.lines().next().unwrap_or_default().to_string();
        assert!(!id.is_empty(), "compose: no container for {service}");
        Container::adopt(inspect(&id, "{{.Name}}").trim_start_matches('/'))
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Ok(logs) = self.run(&["logs", "--no-color"])
        {
            eprintln!(
                "--- compose project {}: last log lines ---\n{}",
                self.project,
                super::tail(&logs, 60)
            );
        }
        let _ = self.run(&["down", "--volumes", "--timeout", "5"]);
    }
}
