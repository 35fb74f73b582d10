//! The configuration file: `otrbnc::config::Config::parse` (TOML through serde, unknown keys
//! refused), the environment overrides `apply_env`, then `validate`, on arbitrary text.
//!
//! Input: the config text (lossy UTF-8), optionally followed by a NUL and an environment of
//! `KEY=VALUE` lines (looked up by `apply_env` instead of the process environment).
//!
//! Properties:
//! * nothing panics;
//! * `apply_env` fails exactly when a value it must interpret is bad (a network's `_PORT`
//!   not a `u16`, `_TRANSPORT` or `OTRBNC_IDENTITY` not one of their words) or when both
//!   `OTRBNC_PASSWORD_HASH` and `OTRBNC_PASSWORD_FILE` are set; when it succeeds every
//!   variable that is set is in the config;
//! * a config that validates keeps the promises the rest of the bouncer relies on: a
//!   listen address that parses, a login name and network names of 1-32 characters from
//!   `A-Z a-z 0-9 _ . -`, an argon2id hash or else a password file (never both), host
//!   names without whitespace or `/`, a non-zero port, valid nicks, no CR, LF or NUL in
//!   anything that goes into an IRC line (marker, username, realname, passwords), pins that
//!   decode, sane pacing and backoff.
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;

use otrbnc::config::validate::{is_valid_nick, parse_pin};
use otrbnc::config::{Config, Transport, apply_env};

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

fn is_valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn prefix(name: &str) -> String {
    let up: String = name
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    format!("OTRBNC_NET_{up}_")
}

fn no_breaks(s: &str) -> bool {
    !s.contains(['\r', '\n', '\0'])
}

fn check(data: &[u8]) {
    let (text, env) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let text = String::from_utf8_lossy(text);
    let Ok(mut config) = Config::parse(&text) else {
        return;
    };

    if let Some(env) = env {
        let env = String::from_utf8_lossy(env);
        let vars: HashMap<&str, &str> = env.lines().filter_map(|l| l.split_once('=')).collect();
        let net_var = |name: &str, key: &str| vars.get(format!("{}{key}", prefix(name)).as_str());
        let bad_port = config
            .networks
            .keys()
            .any(|name| net_var(name, "PORT").is_some_and(|v| v.parse::<u16>().is_err()));
        let bad_transport = config.networks.keys().any(|name| {
            net_var(name, "TRANSPORT")
                .is_some_and(|v| !["tls", "plain", "tor", "socks5", "i2p"].contains(v))
        });
        let bad_identity = vars
            .get("OTRBNC_IDENTITY")
            .is_some_and(|v| !["persistent", "ephemeral"].contains(v));
        let both_passwords =
            vars.contains_key("OTRBNC_PASSWORD_HASH") && vars.contains_key("OTRBNC_PASSWORD_FILE");
        let expect_err = bad_port || bad_transport || bad_identity || both_passwords;
        let result = apply_env(&mut config, |k| vars.get(k).map(|v| v.to_string()));
        assert_eq!(result.is_err(), expect_err, "apply_env: {result:?}");
        if result.is_err() {
            return;
        }
        let get = |k: &str| vars.get(k).copied();
        if let Some(v) = get("OTRBNC_LISTEN") {
            assert_eq!(config.listen.address, v);
        }
        if let Some(v) = get("OTRBNC_USER") {
            assert_eq!(config.listen.user, v);
        }
        if let Some(v) = get("OTRBNC_PASSWORD_HASH") {
            assert_eq!(config.listen.password_hash.as_deref(), Some(v));
            assert!(config.listen.password_file.is_none());
        }
        if let Some(v) = get("OTRBNC_PASSWORD_FILE") {
            assert_eq!(
                config.listen.password_file.as_deref(),
                Some(std::path::Path::new(v))
            );
            assert!(config.listen.password_hash.is_none());
        }
        if let Some(v) = get("OTRBNC_DATA_DIR") {
            assert_eq!(config.data.dir.as_deref(), Some(std::path::Path::new(v)));
        }
        if let Some(v) = get("OTRBNC_LOG") {
            assert_eq!(config.log.level, v);
        }
        for (name, net) in &config.networks {
            let p = prefix(name);
            if let Some(v) = get(&format!("{p}HOST")) {
                assert_eq!(net.host, v, "{name}: host");
            }
            if let Some(v) = get(&format!("{p}PORT")) {
                assert_eq!(net.port, v.parse().ok(), "{name}: port");
            }
            if let Some(v) = get(&format!("{p}NICK")) {
                assert_eq!(net.nick.as_deref(), Some(v), "{name}: nick");
            }
            if let Some(v) = get(&format!("{p}SERVER_PASSWORD")) {
                assert_eq!(
                    net.server_password.as_deref(),
                    Some(v),
                    "{name}: server_password"
                );
            }
            if let Some(v) = get(&format!("{p}SASL_PASSWORD")) {
                assert_eq!(
                    net.sasl_password.as_deref(),
                    Some(v),
                    "{name}: sasl_password"
                );
            }
        }
    }

    if config.validate().is_err() {
        return;
    }
    let l = &config.listen;
    assert!(
        l.address.parse::<SocketAddr>().is_ok(),
        "listen.address {:?}",
        l.address
    );
    assert!(is_valid_name(&l.user), "listen.user {:?}", l.user);
    // Exactly one of the two: an argon2id hash, or a file to read the password from.
    match (l.password_hash.as_deref(), l.password_file.as_deref()) {
        (Some(hash), None) => assert!(
            otrbnc::password::check_hash_format(hash).is_ok(),
            "hash {hash:?}"
        ),
        (None, Some(file)) => assert!(!file.as_os_str().is_empty(), "empty password_file"),
        other => panic!("validated with password hash/file {other:?}"),
    }
    assert!((1..=1024).contains(&l.max_clients), "max_clients");
    let o = &config.otr;
    assert!(no_breaks(&o.plaintext_marker), "plaintext_marker");
    assert!((5..=3600).contains(&o.handshake_timeout_secs));
    assert!((1..=86_400).contains(&o.heartbeat_secs));
    assert!(o.idle_expiry_secs >= 60);
    assert!(o.playback_lines <= 100_000);
    for (name, net) in &config.networks {
        assert!(is_valid_name(name), "network name {name:?}");
        assert!(
            !net.host.is_empty() && !net.host.contains(|c: char| c.is_whitespace() || c == '/'),
            "{name}: host {:?}",
            net.host
        );
        assert_ne!(net.port(), 0, "{name}: port");
        // An I2P network only ever names an I2P service, without a port; an I2P name is
        // never given to a direct transport (it would go to the local DNS).
        if net.transport == Transport::I2p {
            assert!(
                net.is_i2p() && net.port.is_none(),
                "{name}: i2p host {:?}",
                net.host
            );
        } else if net.host.to_ascii_lowercase().ends_with(".i2p") {
            assert_eq!(net.transport, Transport::Socks5, "{name}: .i2p host");
        }
        if !net.uses_tls() {
            assert!(net.tls_server_name.is_none() && net.tls_pin_sha256.is_empty());
            assert!(net.tls_ca_file.is_none() && net.tls_client_cert.is_none());
        }
        assert!(net.tls_pin_sha256.iter().all(|p| parse_pin(p).is_some()));
        assert_eq!(net.tls_client_cert.is_some(), net.tls_client_key.is_some());
        if let Some(n) = &net.nick {
            assert!(is_valid_nick(n) && no_breaks(n), "{name}: nick {n:?}");
        }
        for v in [
            &net.username,
            &net.realname,
            &net.server_password,
            &net.sasl_username,
            &net.sasl_password,
        ]
        .into_iter()
        .flatten()
        {
            assert!(!v.is_empty() && no_breaks(v), "{name}: {v:?}");
        }
        if let Some(u) = &net.username {
            assert!(!u.contains([' ', '@']), "{name}: username {u:?}");
        }
        // Overrides of the automatic pacing: when set, within the validated ranges.
        if let Some(i) = net.flood_interval_secs {
            assert!(i.is_finite() && (0.0..=60.0).contains(&i), "{name}: {i}");
        }
        if let Some(b) = net.flood_burst {
            assert!((1..=100).contains(&b), "{name}: {b}");
        }
        assert!(
            net.otr_nicks
                .iter()
                .all(|n| is_valid_nick(n) && !n.contains(' ')),
            "{name}: otr_nicks"
        );
        assert!(
            net.reconnect_min_secs >= 1 && net.reconnect_min_secs <= net.reconnect_max_secs,
            "{name}: backoff"
        );
    }
}
