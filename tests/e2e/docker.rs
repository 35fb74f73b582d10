//! Deployment in containers: the image from docker/Dockerfile (built around the binary under
//! test on a Debian base made with debootstrap, `scripts/docker-test/prepare`), alice and bob
//! each in a container of their own and ngircd in a third on a private Docker network, and
//! docker/compose.yaml taken down and up again.
//!
//! The wire auditor here is a packet capture on the network's bridge: it sees what crosses
//! between the bouncers and the server without being in the path.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::require_docker;
use crate::support::client::{Client, Login, Msg};
use crate::support::docker::{
    CONTAINER_UID, Capture, Compose, Container, Network, SECRETS_GID, docker_dir, process_uids,
    runtime_image, secret_file, try_docker,
};
use crate::support::ngircd::{NgircdOpts, container_config};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario::{assert_reassembles, authq, deliver, status_of};
use crate::support::{free_port, pcap, show, token};

/// The first message: the whole first-contact handshake.
const FIRST: Duration = Duration::from_secs(90);
/// A message or an SMP run through an established session.
const NEXT: Duration = Duration::from_secs(60);
/// The image's HEALTHCHECK runs every 15 s: the first "healthy" comes after one interval.
const HEALTHY: Duration = Duration::from_secs(120);
/// Where otrbnc listens inside its container, and ngircd in its own.
const PORT: u16 = 6667;
/// The container's secret files, as compose mounts them.
const PASSPHRASE_PATH: &str = "/run/secrets/otrbnc_passphrase";

/// A bouncer in a container on `net`, opted in to `peer`, its upstream `ngircd` by name, its
/// store passphrase in a secret file, hardened as compose.yaml runs it.
fn bouncer(
    net: &Network,
    image: &str,
    files: &Path,
    nick: &str,
    peer: &str,
    passphrase: &str,
) -> (Container, BncConfig) {
    let mut cfg = BncConfig::new(nick, SocketAddr::from(([0, 0, 0, 0], PORT)))
        .otr_nicks(&[peer])
        .handshake_timeout(120);
    cfg.upstream_host = Some("ngircd".to_string());
    // The image's OTRBNC_LISTEN and OTRBNC_DATA_DIR replace what the file says.
    let conf = files.join(format!("{nick}.toml"));
    std::fs::write(&conf, cfg.toml(PORT, Path::new("/nonexistent"))).expect("write config");
    let pass = files.join(format!("{nick}.passphrase"));
    secret_file(&pass, passphrase);
    let args = [
        "--network",
        &net.name,
        "--publish",
        &format!("127.0.0.1::{PORT}"),
        "--volume",
        &format!("{}:/etc/otrbnc/otrbnc.toml:ro", conf.display()),
        "--volume",
        &format!("{}:{PASSPHRASE_PATH}:ro", pass.display()),
        "--env",
        &format!("OTRBNC_PASSPHRASE_FILE={PASSPHRASE_PATH}"),
        "--group-add",
        &SECRETS_GID.to_string(),
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges:true",
        image,
    ]
    .map(str::to_string);
    let c = Container::run(&format!("{}-{nick}", net.name), &args);
    (c, cfg)
}

/// The container's address on `net`.
fn ip_on(c: &Container, net: &Network) -> String {
    c.inspect(&format!(
        "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
        net.name
    ))
}

/// Asserts what the capture saw of one bouncer's upstream: complete, every PRIVMSG or NOTICE
/// to `peer` OTR-encoded, no line over 512 bytes.
#[track_caller]
fn assert_only_otr_on_wire(stream: &pcap::Stream, who: &str, peer: &str, stats: &str) {
    assert_eq!(
        stream.missing, 0,
        "{who}: the capture missed bytes (tcpdump: {stats})"
    );
    let mut to_peer = 0;
    for raw in crate::support::auditor::split_lines(&stream.to_server) {
        assert!(
            raw.len() + 2 <= 512,
            "{who}: a line of {} bytes went to the server: {}",
            raw.len() + 2,
            show(&raw, 300)
        );
        let Some(m) = Msg::parse(&raw) else { continue };
        if matches!(m.command.as_str(), "PRIVMSG" | "NOTICE")
            && m.target().eq_ignore_ascii_case(peer)
        {
            to_peer += 1;
            assert!(
                m.text().starts_with("?OTR"),
                "{who}: a {} to {peer} without OTR crossed the network: {}",
                m.command,
                show(&raw, 300)
            );
        }
    }
    assert!(
        to_peer > 0,
        "{who}: the capture shows nothing sent to {peer}"
    );
}

/// Criterion 1: alice and bob, each otrbnc in its own container, reach ngircd in a third
/// container over a private Docker network; their clients connect from the host through
/// ports published on 127.0.0.1 only. Messages both ways are private, SMP verifies, and the
/// capture on the network's bridge shows only OTR between the bouncers and the server
/// (while a channel message, the control, shows in clear). The bouncers run as uid 10001
/// and their passphrases are not in `docker inspect`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_and_smp_between_containers() {
    let env = require_docker!();
    let image = runtime_image(&env);
    let net = Network::create();
    let capture = Capture::start(&net.bridge, PORT).await;
    let files = tempfile::Builder::new()
        .prefix("otrbnc-e2e-docker-")
        .tempdir()
        .expect("tempdir");

    let ng_conf = files.path().join("ngircd.conf");
    std::fs::write(&ng_conf, container_config(&NgircdOpts::no_penalties())).expect("write");
    let ngircd = Container::run(
        &format!("{}-ngircd", net.name),
        &[
            "--network",
            &net.name,
            "--network-alias",
            "ngircd",
            "--volume",
            &format!("{}:/etc/ngircd/ngircd.conf:ro", ng_conf.display()),
            &env.ngircd_image,
            "/usr/sbin/ngircd",
            "-n",
            "-f",
            "/etc/ngircd/ngircd.conf",
        ]
        .map(str::to_string),
    );
    ngircd
        .wait_log(Duration::from_secs(30), "ngircd ready", |l| {
            l.contains("Server \"irc.test\"") && l.contains("ready")
        })
        .await;

    let pass_a = format!("alice's passphrase {}", token(16));
    let pass_b = format!("bob's passphrase {}", token(16));
    let started = Instant::now();
    let (ca, cfg_a) = bouncer(&net, &image, files.path(), "alice", "bob", &pass_a);
    let (cb, cfg_b) = bouncer(&net, &image, files.path(), "bob", "alice", &pass_b);
    let healthy_a = ca.wait_healthy(HEALTHY).await;
    let healthy_b = cb.wait_healthy(HEALTHY).await;
    eprintln!(
        "docker: both bouncers healthy {:.1} s after start ({:.1} s, {:.1} s)",
        started.elapsed().as_secs_f64(),
        healthy_a.as_secs_f64(),
        healthy_b.as_secs_f64()
    );

    // Each upstream came from that bouncer's own container over the private network.
    for (c, nick) in [(&ca, "alice"), (&cb, "bob")] {
        let ip = ip_on(c, &net);
        let line = format!("User \"{nick}!~{nick}@{ip}\" registered");
        ngircd
            .wait_log(Duration::from_secs(30), &line, |l| l.contains(&line))
            .await;
    }

    // The listener is published on the host's loopback only.
    let (addr_a, addr_b) = (ca.published(PORT), cb.published(PORT));
    for addr in [addr_a, addr_b] {
        assert!(addr.ip().is_loopback(), "published on {addr}");
    }
    let mut a = Client::connect_with(addr_a, Login::new(Some(&cfg_a.pass()), "alice")).await;
    let mut b = Client::connect_with(addr_b, Login::new(Some(&cfg_b.pass()), "bob")).await;

    let mut to_bob = Vec::new();
    let mut to_alice = Vec::new();
    for i in 0..8 {
        let text = match i {
            3 => format!("grüße aus dem Container 🐳 {}", token(12)),
            5 => format!("L{}", token(1200)),
            _ => format!("container message {i} {}", token(12)),
        };
        let limit = if i == 0 { FIRST } else { NEXT };
        let (from, to, log) = if i % 2 == 0 {
            (&a, &mut b, &mut to_bob)
        } else {
            (&b, &mut a, &mut to_alice)
        };
        if text.len() > 400 {
            from.privmsg(to.nick(), &text).await;
            to.expect_long_text_from(from.nick(), &text, limit).await;
        } else {
            deliver(from, to, &text, limit).await;
        }
        log.push(text);
    }
    assert_reassembles(&b.texts_from("alice"), &to_bob);
    assert_reassembles(&a.texts_from("bob"), &to_alice);

    let question = "Which harbour did the whale ship leave from?";
    let answer = format!("Nantucket {}", token(8));
    authq(&mut a, &mut b, question, &answer, NEXT).await;
    b.expect_otr(NEXT, "alice verified you", |t| {
        t.starts_with("alice verified you")
    })
    .await;
    let (sa, fa) = status_of(&mut a, "bob", NEXT).await;
    assert!(sa.starts_with("bob: private"), "{sa}");
    assert!(fa.ends_with("(verified by SMP)"), "{fa}");

    // The control: a channel message is not OTR, and the capture must show it.
    let control = format!("plain channel text {}", token(16));
    a.join("#docker").await;
    b.join("#docker").await;
    a.privmsg("#docker", &control).await;
    b.expect(NEXT, |m| m.is_privmsg_from("alice") && m.text() == control)
        .await;

    let (wire, stats) = capture.finish_after(control.as_bytes()).await;
    let all = pcap::streams(&wire, PORT).expect("read the capture");
    // Port 6667 on the bridge also carries the clients' connections (docker-proxy to the
    // bouncers' listeners): the upstreams are the connections to ngircd.
    let ng_ip = ip_on(&ngircd, &net);
    let streams: Vec<&pcap::Stream> = all
        .iter()
        .filter(|s| s.server.is_some_and(|a| a.ip().to_string() == ng_ip))
        .collect();
    let summary: Vec<String> = all.iter().map(pcap::Stream::summary).collect();
    eprintln!(
        "docker: the capture on {}: {stats}; {summary:#?}",
        net.bridge
    );
    let (ip_a, ip_b) = (ip_on(&ca, &net), ip_on(&cb, &net));
    let of = |ip: &str| -> Vec<&pcap::Stream> {
        streams
            .iter()
            .copied()
            .filter(|s| s.client.is_some_and(|c| c.ip().to_string() == ip))
            .collect()
    };
    let (wa, wb) = (of(&ip_a), of(&ip_b));
    assert_eq!(
        (wa.len(), wb.len(), streams.len()),
        (1, 1, 2),
        "one upstream connection each, and no other to ngircd: {summary:#?}"
    );
    assert_only_otr_on_wire(wa[0], "alice", "bob", &stats);
    assert_only_otr_on_wire(wb[0], "bob", "alice", &stats);
    let mut secrets: Vec<&[u8]> = to_bob
        .iter()
        .chain(&to_alice)
        .map(|t| t.as_bytes())
        .collect();
    secrets.push(question.as_bytes());
    secrets.push(answer.as_bytes());
    for s in &streams {
        for bytes in [&s.to_server, &s.to_client] {
            for needle in &secrets {
                assert!(
                    crate::support::find(bytes, needle).is_none(),
                    "plaintext crossed the network: {}",
                    show(needle, 80)
                );
            }
        }
    }
    assert!(
        crate::support::find(&wa[0].to_server, control.as_bytes()).is_some(),
        "the capture does not show the channel message it should: the audit would be blind"
    );

    // Unprivileged, and the passphrase is nowhere in what `docker inspect` shows.
    for (c, pass) in [(&ca, &pass_a), (&cb, &pass_b)] {
        assert_eq!(c.inspect("{{.Config.User}}"), "otrbnc:otrbnc");
        let uids = process_uids(&c.name);
        assert_eq!(
            uids,
            vec![CONTAINER_UID; 4],
            "{}: uids of its process",
            c.name
        );
        let inspected = try_docker(&["inspect", &c.name]).expect("docker inspect");
        assert!(
            inspected.contains(PASSPHRASE_PATH),
            "inspected the wrong thing?"
        );
        assert!(
            !inspected.contains(pass.as_str()),
            "{}: passphrase in docker inspect",
            c.name
        );
    }
}

/// The fingerprint a client sees with `*otr fingerprint` on a bouncer at `addr`, once it
/// answers (its upstream need not be connected).
async fn fingerprint_at(addr: SocketAddr, pass: &str, nick: &str) -> String {
    let started = Instant::now();
    while otrbnc::health::check(addr, Duration::from_secs(2)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing answers on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut c = Client::connect_with(addr, Login::new(Some(pass), nick).no_welcome()).await;
    c.otr("fingerprint").await;
    let line = c
        .expect_otr(NEXT, "our fingerprint", |t| {
            t.starts_with("Your fingerprint: ")
        })
        .await;
    let fp = line
        .text()
        .trim_start_matches("Your fingerprint: ")
        .to_string();
    c.close().await;
    fp
}

/// Criteria 2 and 3 with docker/compose.yaml as it is: secrets as files (the passphrase and
/// the listener password), the state on the named volume. `down` then `up` keeps the
/// identity (same fingerprint); `down --volumes` then `up` does not (the control).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_down_and_up_keeps_the_identity() {
    let env = require_docker!();
    let image = runtime_image(&env);
    let dir = tempfile::Builder::new()
        .prefix("otrbnc-e2e-compose-")
        .tempdir()
        .expect("tempdir");
    std::fs::copy(
        docker_dir().join("compose.yaml"),
        dir.path().join("compose.yaml"),
    )
    .expect("copy compose.yaml");
    // An upstream that refuses at once (nothing listens on port 9 in the container): the
    // test needs none, and must not reach beyond this machine.
    std::fs::write(
        dir.path().join("otrbnc.toml"),
        "[listen]\nuser = \"carol\"\n\n[networks.test]\nhost = \"127.0.0.1\"\nport = 9\n\
         transport = \"plain\"\nnick = \"carol\"\n",
    )
    .expect("write otrbnc.toml");
    std::fs::create_dir(dir.path().join("secrets")).expect("mkdir secrets");
    let passphrase = format!("compose passphrase {}", token(16));
    let password = format!("compose-pw-{}", token(12));
    secret_file(
        &dir.path().join("secrets/passphrase"),
        &format!("{passphrase}\n"),
    );
    secret_file(
        &dir.path().join("secrets/password"),
        &format!("{password}\n"),
    );
    let port = free_port();
    let compose = Compose::new(
        dir.path(),
        &format!("otrbnc-e2e-{}", token(8)),
        &[
            ("OTRBNC_IMAGE", image.clone()),
            ("OTRBNC_PORT", port.to_string()),
            ("OTRBNC_SECRETS_GID", SECRETS_GID.to_string()),
        ],
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let login = format!("carol/test:{password}");

    compose.ok(&["up", "-d", "--no-build"]);
    let c = compose.container("otrbnc");
    let healthy = c.wait_healthy(HEALTHY).await;
    eprintln!(
        "docker: the compose service was healthy after {:.1} s",
        healthy.as_secs_f64()
    );
    let fp1 = fingerprint_at(addr, &login, "carol").await;
    assert_eq!(c.inspect("{{.Config.User}}"), "otrbnc:otrbnc");
    assert_eq!(process_uids(&c.name), vec![CONTAINER_UID; 4]);
    let inspected = try_docker(&["inspect", &c.name]).expect("docker inspect");
    assert!(
        inspected.contains("/run/secrets/otrbnc_passphrase"),
        "{inspected}"
    );
    for secret in [&passphrase, &password] {
        assert!(
            !inspected.contains(secret.as_str()),
            "a secret in docker inspect"
        );
    }
    let image_inspected = try_docker(&["image", "inspect", &image]).expect("inspect image");
    assert!(!image_inspected.contains(passphrase.as_str()));

    compose.ok(&["down", "--timeout", "10"]);
    assert!(
        compose.ok(&["ps", "-q"]).is_empty(),
        "a container survived `down`"
    );
    compose.ok(&["up", "-d", "--no-build"]);
    let fp2 = fingerprint_at(addr, &login, "carol").await;
    assert_eq!(fp2, fp1, "the identity changed across `down` and `up`");

    // The control: without the volume the identity is new, so the check above can fail.
    compose.ok(&["down", "--volumes", "--timeout", "10"]);
    compose.ok(&["up", "-d", "--no-build"]);
    let fp3 = fingerprint_at(addr, &login, "carol").await;
    assert_ne!(fp3, fp1, "a new volume kept the old identity?");
}
