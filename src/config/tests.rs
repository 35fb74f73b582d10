use super::*;

const EXAMPLE: &str = include_str!("../../config/otrbnc.example.toml");

fn parse_ok(text: &str) -> Config {
    let c = Config::parse(text).unwrap();
    c.validate().unwrap();
    c
}

fn error_of(text: &str) -> String {
    match Config::parse(text).and_then(|c| c.validate().map(|_| c)) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

const MINIMAL: &str = r#"
[listen]
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$I6bsJxUswI8LzyYEYCIaHw$8uDgfszmpHv4kmswwv6sz4Budw2V68xudbnuMyglNQ0"
[networks.test]
host = "127.0.0.1"
transport = "plain"
"#;

#[test]
fn the_example_is_valid_and_documents_every_key() {
    let c = parse_ok(EXAMPLE);
    assert_eq!(c.listen.address, DEFAULT_LISTEN);
    let net = c.networks.get("libera").unwrap();
    assert_eq!(net.port(), 6697);
    assert_eq!(net.otr_nicks, vec!["bob".to_string()]);
    // Every key of the structs appears in the example (commented or not).
    for key in [
        "address",
        "user",
        "password_hash",
        "max_clients",
        "dir",
        "identity",
        "passphrase",
        "passphrase_file",
        "history_lines",
        "history_days",
        "history_on_disk",
        "level",
        "require_encryption",
        "allow_plain_notice",
        "allow_plain_ctcp",
        "accept_strangers",
        "first_contact",
        "plaintext_marker",
        "handshake_timeout_secs",
        "heartbeat_secs",
        "idle_expiry_secs",
        "queue_warn_secs",
        "playback_lines",
        "host",
        "port",
        "transport",
        "tls",
        "socks_proxy",
        "data_dir",
        "arti_config",
        "bootstrap_timeout_secs",
        "connect_timeout_secs",
        "tls_server_name",
        "tls_ca_file",
        "tls_pin_sha256",
        "tls_client_cert",
        "tls_client_key",
        "nick",
        "alt_nicks",
        "username",
        "realname",
        "server_password",
        "sasl_mechanism",
        "sasl_username",
        "sasl_password",
        "sasl_required",
        "flood_interval_secs",
        "flood_burst",
        "otr_nicks",
        "channels",
        "reconnect_min_secs",
        "reconnect_max_secs",
        "ping_interval_secs",
        "ping_timeout_secs",
        "register_timeout_secs",
        "sam_address",
        "destination",
        "session_timeout_secs",
        "options",
    ] {
        assert!(EXAMPLE.contains(&format!("{key} =")), "example lacks {key}");
    }
}

#[test]
fn defaults_are_safe() {
    let c = parse_ok(MINIMAL);
    assert!(c.listen.address.starts_with("127.0.0.1:"));
    assert!(c.otr.require_encryption);
    assert!(!c.otr.allow_plain_notice && !c.otr.allow_plain_ctcp && !c.otr.accept_strangers);
    let net = c.networks.get("test").unwrap();
    assert_eq!(net.port(), 6667);
    // Pacing is automatic (chosen from the server) unless overridden.
    assert_eq!((net.flood_interval_secs, net.flood_burst), (None, None));
    let old = parse_ok(&format!(
        "{MINIMAL}flood_interval_secs = 2.0\nflood_burst = 9\n"
    ));
    let net = old.networks.get("test").unwrap();
    assert_eq!(
        (net.flood_interval_secs, net.flood_burst),
        (Some(2.0), Some(9))
    );
    // TLS unless plain is asked for by name.
    let tls = parse_ok(&MINIMAL.replace("transport = \"plain\"\n", ""));
    assert_eq!(tls.networks.get("test").unwrap().transport, Transport::Tls);
}

#[test]
fn unknown_keys_are_errors_that_name_the_key() {
    let e = error_of(&format!("{MINIMAL}flood_brust = 3\n"));
    assert!(e.contains("flood_brust"), "{e}");
    let e = error_of(&MINIMAL.replace("[listen]", "[listen]\nadress = \"x\""));
    assert!(e.contains("adress"), "{e}");
}

#[test]
fn bad_values_name_the_key_and_why() {
    let cases = [
        (
            MINIMAL.replace("[listen]", "[listen]\naddress = \"localhost\""),
            "listen.address",
        ),
        (
            MINIMAL.replace("host = \"127.0.0.1\"", "host = \"\""),
            "networks.test.host",
        ),
        (format!("{MINIMAL}port = 0\n"), "networks.test.port"),
        (
            format!("{MINIMAL}flood_burst = 0\n"),
            "networks.test.flood_burst",
        ),
        (
            format!("{MINIMAL}flood_interval_secs = -1.0\n"),
            "networks.test.flood_interval_secs",
        ),
        (
            format!("{MINIMAL}otr_nicks = [\"b ob\"]\n"),
            "networks.test.otr_nicks",
        ),
        (
            format!("{MINIMAL}channels = [\"#a b c\"]\n"),
            "networks.test.channels",
        ),
        (
            format!("{MINIMAL}channels = [\"nochan\"]\n"),
            "networks.test.channels",
        ),
        (format!("{MINIMAL}nick = \"#chan\"\n"), "networks.test.nick"),
        (
            format!("{MINIMAL}alt_nicks = [\"ok\", \"1bad\"]\n"),
            "networks.test.alt_nicks",
        ),
        (
            format!(
                "{MINIMAL}alt_nicks = [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]\n"
            ),
            "networks.test.alt_nicks",
        ),
        (
            format!("{MINIMAL}sasl_required = true\n"),
            "networks.test.sasl_required",
        ),
        (
            format!("{MINIMAL}tls_pin_sha256 = [\"00\"]\n"),
            "networks.test.tls_pin_sha256",
        ),
        (
            format!("{MINIMAL}sasl_mechanism = \"plain\"\n"),
            "networks.test.sasl_password",
        ),
        (
            format!("{MINIMAL}sasl_mechanism = \"external\"\n"),
            "networks.test.sasl_mechanism",
        ),
        (
            MINIMAL.replace("$argon2id$", "$argon2i$"),
            "listen.password_hash",
        ),
        (
            MINIMAL.replace("[networks.test]", "[networks.\"bad name\"]"),
            "networks.bad name",
        ),
        (
            MINIMAL.replace(
                "[networks.test]",
                "[otr]\nhandshake_timeout_secs = 1\n[networks.test]",
            ),
            "otr.handshake_timeout_secs",
        ),
    ];
    for (text, key) in cases {
        let e = error_of(&text);
        assert!(e.starts_with(key) || e.contains(key), "{key}: {e}");
    }
    let no_hash = MINIMAL.replace("password_hash", "user = \"x\"\n#");
    assert!(error_of(&no_hash).contains("listen.password_hash"));
}

#[test]
fn environment_overrides() {
    let mut c = Config::parse(MINIMAL).unwrap();
    let env = |k: &str| match k {
        "OTRBNC_LISTEN" => Some("127.0.0.1:7000".to_string()),
        "OTRBNC_NET_TEST_PORT" => Some("6999".to_string()),
        "OTRBNC_NET_TEST_SASL_PASSWORD" => Some("s3cret".to_string()),
        _ => None,
    };
    apply_env(&mut c, env).unwrap();
    c.validate().unwrap();
    assert_eq!(c.listen.address, "127.0.0.1:7000");
    let net = c.networks.get("test").unwrap();
    assert_eq!(net.port, Some(6999));
    assert_eq!(net.sasl_password.as_deref(), Some("s3cret"));
    let mut c = Config::parse(MINIMAL).unwrap();
    let e = apply_env(&mut c, |k| {
        (k == "OTRBNC_NET_TEST_PORT").then(|| "x".to_string())
    })
    .unwrap_err();
    assert!(e.to_string().contains("OTRBNC_NET_TEST_PORT"));
}

#[test]
fn the_password_comes_from_the_hash_or_a_file_never_both() {
    // In the file: both keys are refused, naming the file key.
    let both = MINIMAL.replace(
        "password_hash",
        "password_file = \"/run/secrets/otrbnc_password\"\npassword_hash",
    );
    assert!(error_of(&both).starts_with("listen.password_file: "));
    let only_file = MINIMAL.replace("password_hash", "password_file = \"/x\"\n#");
    Config::parse(&only_file).unwrap().validate().unwrap();
    let empty = MINIMAL.replace("password_hash", "password_file = \"\"\n#");
    assert!(error_of(&empty).starts_with("listen.password_file: "));
    // From the environment, either variable replaces what the file says.
    let mut c = Config::parse(MINIMAL).unwrap();
    apply_env(&mut c, |k| {
        (k == "OTRBNC_PASSWORD_FILE").then(|| "/run/secrets/pw".to_string())
    })
    .unwrap();
    c.validate().unwrap();
    assert!(c.listen.password_hash.is_none());
    assert_eq!(
        c.listen.password_file.as_deref(),
        Some(std::path::Path::new("/run/secrets/pw"))
    );
    let mut c = Config::parse(&only_file).unwrap();
    let h = crate::password::hash("pw").unwrap();
    apply_env(&mut c, |k| (k == "OTRBNC_PASSWORD_HASH").then(|| h.clone())).unwrap();
    c.validate().unwrap();
    assert!(c.listen.password_file.is_none());
    let mut c = Config::parse(MINIMAL).unwrap();
    let e = apply_env(&mut c, |k| {
        matches!(k, "OTRBNC_PASSWORD_HASH" | "OTRBNC_PASSWORD_FILE").then(|| "x".to_string())
    })
    .unwrap_err();
    assert!(e.to_string().starts_with("OTRBNC_PASSWORD_FILE: "), "{e}");
}

#[test]
fn embedded_defaults_validate_once_a_password_is_set() {
    let mut c = Config::embedded();
    assert!(c.validate().is_err());
    c.listen.password_hash = Some(crate::password::hash("pw").unwrap());
    c.validate().unwrap();
    assert_eq!(c.networks.get("libera").unwrap().transport, Transport::Tls);
}

#[test]
fn data_identity_defaults_to_persistent_and_accepts_ephemeral() {
    let c = parse_ok(MINIMAL);
    assert_eq!(c.data.identity, IdentityMode::Persistent);
    assert!(c.data.passphrase.is_none() && c.data.passphrase_file.is_none());
    let c = parse_ok(&format!("[data]\nidentity = \"ephemeral\"\n{MINIMAL}"));
    assert_eq!(c.data.identity, IdentityMode::Ephemeral);
    let e = error_of(&format!("[data]\nidentity = \"sometimes\"\n{MINIMAL}"));
    assert!(e.contains("identity"), "{e}");
}

#[test]
fn data_passphrase_checks_name_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("pass");
    std::fs::write(&file, "pw\n").unwrap();
    let both = format!(
        "[data]\npassphrase = \"x\"\npassphrase_file = {:?}\n{MINIMAL}",
        file.display().to_string()
    );
    assert!(error_of(&both).starts_with("data.passphrase:"));
    let empty = format!("[data]\npassphrase = \"\"\n{MINIMAL}");
    assert!(error_of(&empty).starts_with("data.passphrase:"));
    let missing = format!("[data]\npassphrase_file = \"/nonexistent/pass\"\n{MINIMAL}");
    assert!(error_of(&missing).starts_with("data.passphrase_file:"));
    let ok = parse_ok(&format!(
        "[data]\npassphrase_file = {:?}\n{MINIMAL}",
        file.display().to_string()
    ));
    assert_eq!(ok.data.passphrase_file.as_deref(), Some(file.as_path()));
}

#[test]
fn data_passphrase_is_not_shown_by_debug() {
    let c = parse_ok(&format!(
        "[data]\npassphrase = \"hunter2-store\"\n{MINIMAL}"
    ));
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2-store"), "{shown}");
    assert!(shown.contains("redacted"));
}

#[test]
fn data_environment_overrides() {
    let mut c = Config::parse(MINIMAL).unwrap();
    let env = |k: &str| match k {
        "OTRBNC_IDENTITY" => Some("ephemeral".to_string()),
        "OTRBNC_PASSPHRASE_FILE" => Some("/run/secrets/p".to_string()),
        // Read when the passphrase is resolved, never copied into the config.
        "OTRBNC_PASSPHRASE" => Some("not copied".to_string()),
        _ => None,
    };
    apply_env(&mut c, env).unwrap();
    assert_eq!(c.data.identity, IdentityMode::Ephemeral);
    assert_eq!(
        c.data.passphrase_file.as_deref(),
        Some(Path::new("/run/secrets/p"))
    );
    assert!(c.data.passphrase.is_none());
    let mut c = Config::parse(MINIMAL).unwrap();
    let e = apply_env(&mut c, |k| {
        (k == "OTRBNC_IDENTITY").then(|| "both".to_string())
    })
    .unwrap_err();
    assert!(e.to_string().contains("OTRBNC_IDENTITY"), "{e}");
}

#[test]
fn data_resolved_dir_prefers_the_configured_dir() {
    let mut d = Data::default();
    assert!(d.resolved_dir().ends_with("otrbnc") || d.resolved_dir().ends_with("otrbnc-data"));
    d.dir = Some(PathBuf::from("/var/lib/otrbnc"));
    assert_eq!(d.resolved_dir(), PathBuf::from("/var/lib/otrbnc"));
}

const PW: &str = "[listen]\npassword_hash = \"$argon2id$v=19$m=19456,t=2,p=1$I6bsJxUswI8LzyYEYCIaHw$8uDgfszmpHv4kmswwv6sz4Budw2V68xudbnuMyglNQ0\"\n";

fn network_with(keys: &str) -> String {
    format!("{PW}[networks.n]\nhost = \"irc.example.org\"\n{keys}")
}

#[test]
fn tor_and_socks5_default_to_tls_on_6697_and_can_turn_it_off() {
    let c = parse_ok(&network_with("transport = \"tor\"\n"));
    let n = c.networks.get("n").unwrap();
    assert!(n.uses_tls() && n.port() == 6697 && n.transport.is_proxied());
    let c = parse_ok(&network_with("transport = \"tor\"\ntls = false\n"));
    let n = c.networks.get("n").unwrap();
    assert!(!n.uses_tls() && n.port() == 6667);
    let c = parse_ok(&network_with("transport = \"socks5\"\n"));
    assert_eq!(c.networks.get("n").unwrap().socks_proxy(), "127.0.0.1:9050");
    // TLS keys follow whether TLS is used, not the transport's name.
    parse_ok(&network_with(
        "transport = \"tor\"\ntls_pin_sha256 = [\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"]\n",
    ));
    let e = error_of(&network_with(
        "transport = \"tor\"\ntls = false\ntls_server_name = \"x\"\n",
    ));
    assert!(e.starts_with("networks.n.tls_server_name:"), "{e}");
}

#[test]
fn route_keys_are_checked_and_onion_hosts_need_tor() {
    let e = error_of(&network_with("transport = \"tls\"\ntls = false\n"));
    assert!(e.starts_with("networks.n.tls:"), "{e}");
    let e = error_of(&network_with(
        "transport = \"tor\"\nsocks_proxy = \"127.0.0.1:9050\"\n",
    ));
    assert!(e.starts_with("networks.n.socks_proxy:"), "{e}");
    let e = error_of(&network_with(
        "transport = \"socks5\"\nsocks_proxy = \"localhost:9050\"\n",
    ));
    assert!(e.contains("not an ip:port"), "{e}");
    let onion = |t: &str| {
        format!(
            "{PW}[networks.n]\nhost = \"libera75jm6of4wxpxt4aynol3xjmbtxgfyjpu34ss4d7r7q2v5zrpyd.onion\"\ntransport = \"{t}\"\n"
        )
    };
    for direct in ["tls", "plain"] {
        let e = error_of(&onion(direct));
        assert!(
            e.starts_with("networks.n.host:") && e.contains(".onion"),
            "{e}"
        );
    }
    parse_ok(&onion("tor"));
    parse_ok(&onion("socks5"));
    let e = error_of(&network_with("transport = \"i2p-ish\"\n"));
    assert!(e.contains("transport"), "{e}");
}

#[test]
fn tor_section_is_checked() {
    let c = parse_ok(&network_with("transport = \"tor\"\n"));
    assert_eq!(c.tor.bootstrap_timeout_secs, 180);
    assert_eq!(
        c.tor.resolved_dir(&Data {
            dir: Some("/d".into()),
            ..Data::default()
        }),
        PathBuf::from("/d/tor")
    );
    let e = error_of(&format!(
        "[tor]\nbootstrap_timeout_secs = 1\n{}",
        network_with("")
    ));
    assert!(e.starts_with("tor.bootstrap_timeout_secs:"), "{e}");
    let e = error_of(&format!(
        "[tor]\narti_config = \"/nonexistent/arti.toml\"\n{}",
        network_with("")
    ));
    assert!(
        e.starts_with("tor.arti_config:") && e.contains("cannot read"),
        "{e}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("arti.toml");
    std::fs::write(&bad, "[path_rules]\nipv4_subnet_family_prefix = \"wide\"\n").unwrap();
    let e = error_of(&format!(
        "[tor]\narti_config = {:?}\n{}",
        bad.display().to_string(),
        network_with("")
    ));
    assert!(e.starts_with("tor.arti_config:"), "{e}");
    let e = error_of(&format!("[tor]\nbridges = true\n{}", network_with("")));
    assert!(e.contains("bridges"), "{e}");
}

#[test]
fn transport_can_be_set_from_the_environment() {
    let mut c = Config::parse(&network_with("")).unwrap();
    apply_env(&mut c, |k| {
        (k == "OTRBNC_NET_N_TRANSPORT").then(|| "tor".to_string())
    })
    .unwrap();
    assert_eq!(c.networks.get("n").unwrap().transport, Transport::Tor);
    let e = apply_env(&mut c, |k| {
        (k == "OTRBNC_NET_N_TRANSPORT").then(|| "carrier-pigeon".to_string())
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("OTRBNC_NET_N_TRANSPORT"), "{e}");
}

#[test]
fn a_build_without_the_tor_feature_refuses_transport_tor() {
    let c = parse_ok(&network_with("transport = \"tor\"\n"));
    let net = c.networks.get("n").unwrap();
    // This build has arti (the default features): the network is accepted.
    assert!(validate::tor_built("n", net, true).is_ok());
    let e = validate::tor_built("n", net, false)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("networks.n.transport:"), "{e}");
    assert!(
        e.contains("without embedded Tor") && e.contains("socks5"),
        "{e}"
    );
    // Other transports do not need it.
    let plain = parse_ok(&network_with(""));
    assert!(validate::tor_built("n", plain.networks.get("n").unwrap(), false).is_ok());
}

const B32: &str = "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p";

fn i2p_network(host: &str, keys: &str) -> String {
    format!("{PW}[networks.n]\nhost = \"{host}\"\ntransport = \"i2p\"\n{keys}")
}

#[test]
fn i2p_networks_reach_only_i2p_hosts_without_ports_or_tls_by_default() {
    for host in ["irc.postman.i2p", B32] {
        let c = parse_ok(&i2p_network(host, ""));
        let n = c.networks.get("n").unwrap();
        assert!(n.transport.is_proxied() && !n.uses_tls() && n.is_i2p());
    }
    let c = parse_ok(&i2p_network("irc.postman.i2p", "tls = true\n"));
    assert!(c.networks.get("n").unwrap().uses_tls());
    let e = error_of(&i2p_network("irc.libera.chat", ""));
    assert!(
        e.starts_with("networks.n.host:") && e.contains("I2P host"),
        "{e}"
    );
    let e = error_of(&i2p_network("irc.postman.i2p", "port = 6668\n"));
    assert!(
        e.starts_with("networks.n.port:") && e.contains("no ports"),
        "{e}"
    );
    // An I2P name never goes to a direct transport (the local DNS) or Tor.
    for t in ["tls", "plain", "tor"] {
        let e = error_of(&format!(
            "{PW}[networks.n]\nhost = \"irc.postman.i2p\"\ntransport = \"{t}\"\n"
        ));
        assert!(
            e.starts_with("networks.n.host:") && e.contains("transport = \"i2p\""),
            "{e}"
        );
    }
    parse_ok(&format!(
        "{PW}[networks.n]\nhost = \"irc.postman.i2p\"\ntransport = \"socks5\"\ntls = false\n"
    ));
    // An onion host is not an I2P service.
    let e = error_of(&i2p_network(
        "libera75jm6of4wxpxt4aynol3xjmbtxgfyjpu34ss4d7r7q2v5zrpyd.onion",
        "",
    ));
    assert!(e.starts_with("networks.n.host:"), "{e}");
}

#[test]
fn i2p_section_is_checked() {
    let c = parse_ok(&i2p_network("irc.postman.i2p", ""));
    assert_eq!(c.i2p.sam_address, DEFAULT_SAM_ADDRESS);
    assert_eq!(c.i2p.destination, I2pDestination::Transient);
    assert_eq!(c.i2p.session_timeout_secs, 180);
    let with = |section: &str| format!("[i2p]\n{section}\n{}", i2p_network("irc.postman.i2p", ""));
    parse_ok(&with(
        "sam_address = \"i2pd:7656\"\noptions = { \"inbound.length\" = \"2\", \"i2cp.leaseSetEncType\" = \"4\" }",
    ));
    for (section, key) in [
        ("sam_address = \"7656\"", "i2p.sam_address:"),
        ("sam_address = \"host:0\"", "i2p.sam_address:"),
        ("session_timeout_secs = 5", "i2p.session_timeout_secs:"),
        ("connect_timeout_secs = 9999", "i2p.connect_timeout_secs:"),
        (
            "options = { DESTINATION = \"TRANSIENT\" }",
            "i2p.options.DESTINATION:",
        ),
        ("options = { \"a\" = \"b c\" }", "i2p.options.a:"),
        (
            "options = { \"a\" = \"b\\nSESSION CREATE\" }",
            "i2p.options.a:",
        ),
        ("options = { \"a=b\" = \"c\" }", "i2p.options.a=b:"),
    ] {
        let e = error_of(&with(section));
        assert!(e.starts_with(key), "{section}: {e}");
    }
    let e = error_of(&format!(
        "[data]\nidentity = \"ephemeral\"\n[i2p]\ndestination = \"persistent\"\n{}",
        i2p_network("irc.postman.i2p", "")
    ));
    assert!(e.starts_with("i2p.destination:"), "{e}");
    let mut c = Config::parse(&i2p_network("irc.postman.i2p", "")).unwrap();
    apply_env(&mut c, |k| {
        (k == "OTRBNC_I2P_SAM").then(|| "i2pd:7656".to_string())
    })
    .unwrap();
    assert_eq!(c.i2p.sam_address, "i2pd:7656");
    apply_env(&mut c, |k| {
        (k == "OTRBNC_NET_N_TRANSPORT").then(|| "i2p".to_string())
    })
    .unwrap();
}

#[test]
fn unicode_nicks_are_nicks() {
    use super::validate::is_valid_nick;
    for ok in [
        "bob",
        "Bob[x]",
        "böb",
        "ＢＯＢ",
        "Jürgen",
        "οδος",
        "bo\u{308}b",
    ] {
        assert!(is_valid_nick(ok), "{ok:?}");
    }
    for bad in [
        "",
        "b ob",
        "#chan",
        "1bob",
        "bo\u{a0}b",
        "bo\u{85}b",
        "bob,carol",
        "bob!u@h",
    ] {
        assert!(!is_valid_nick(bad), "{bad:?}");
    }
    let t = format!("{MINIMAL}otr_nicks = [\"böb\"]\n");
    assert!(Config::parse(&t).is_ok());
}
