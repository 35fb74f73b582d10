//! otrbnc: a transparent IRC bouncer with in-line OTRv4+.

use std::io::BufRead;
use std::process::ExitCode;

use clap::Parser;

use otrbnc::cli::{Cli, Command};
use otrbnc::config::{self, Config};
use otrbnc::{bouncer, password};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run) {
        Command::HashPassword => hash_password(),
        Command::CheckConfig => match load(cli.config.as_deref()) {
            Ok((config, source)) => {
                println!(
                    "{source}: OK ({} network(s): {})",
                    config.networks.len(),
                    config
                        .networks
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("otrbnc: {e}");
                ExitCode::from(2)
            }
        },
        Command::Fingerprint => fingerprint(cli.config.as_deref()),
        Command::Healthcheck => healthcheck(cli.config.as_deref()),
        Command::ImportLibotr(args) => import_libotr(cli.config.as_deref(), &args),
        Command::Run => run(cli.config.as_deref()),
    }
}

/// Prints the stored identity's fingerprint (creating the identity if there is none yet).
fn fingerprint(path: Option<&std::path::Path>) -> ExitCode {
    let (config, _) = match load(path) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("otrbnc: {e}");
            return ExitCode::from(2);
        }
    };
    if config.data.identity == otrbnc::config::IdentityMode::Ephemeral {
        eprintln!(
            "otrbnc: data.identity is \"ephemeral\": a new OTR key is generated at each start. \
             See the running bouncer's fingerprint with: /msg *otr fingerprint"
        );
        return ExitCode::from(2);
    }
    let policy = otrbnc::network::otr::policy(&config.otr);
    match otrbnc::local_state::LocalState::open(&config.data, &policy) {
        Ok(state) => {
            println!("{}", state.identity.fingerprint().to_display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("otrbnc: cannot open the OTR identity: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `otrbnc import-libotr`: the work is in `otrbnc::import`; this prints its summary.
fn import_libotr(path: Option<&std::path::Path>, args: &otrbnc::cli::ImportArgs) -> ExitCode {
    let (config, _) = match load(path) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("otrbnc: {e}");
            return ExitCode::from(2);
        }
    };
    match otrbnc::import::run(&config, args) {
        Ok(report) => {
            for line in report.lines() {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("otrbnc: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the config: the given file, else the default path if it exists, else the embedded
/// defaults (with a one-time password printed on stderr).
fn load(path: Option<&std::path::Path>) -> Result<(Config, String), String> {
    if let Some(p) = config_file(path) {
        return Config::load(&p)
            .map(|c| (c, p.display().to_string()))
            .map_err(|e| format!("{}: {e}", p.display()));
    }
    let mut config = embedded_with_env()?;
    if config.listen.password_hash.is_none() && config.listen.password_file.is_none() {
        let mut bytes = [0u8; 12];
        rand::fill(&mut bytes);
        let pw = hex::encode(bytes);
        config.listen.password_hash = Some(password::hash(&pw)?);
        eprintln!(
            "otrbnc: no config file; using embedded defaults (see config/otrbnc.example.toml).\n\
             otrbnc: point your IRC client at {} with the server password:\n\
             otrbnc:     {}/libera:{pw}\n\
             otrbnc: (a new password is made at each start until you write a config file)",
            config.listen.address, config.listen.user
        );
    }
    config.validate().map_err(|e| e.to_string())?;
    config.resolve_password_file().map_err(|e| e.to_string())?;
    Ok((config, "embedded defaults".to_string()))
}

/// The config file to read: the one given, else the first default path that exists.
fn config_file(path: Option<&std::path::Path>) -> Option<std::path::PathBuf> {
    path.map(std::path::Path::to_path_buf)
        .or_else(|| config::default_paths().into_iter().find(|p| p.exists()))
}

/// The embedded defaults with the environment's overrides applied.
fn embedded_with_env() -> Result<Config, String> {
    let mut config = Config::embedded();
    config::apply_env(&mut config, |k| std::env::var(k).ok()).map_err(|e| e.to_string())?;
    Ok(config)
}

/// The listen address the bouncer would use, from the same config and environment, without
/// reading any secret.
fn listen_address(path: Option<&std::path::Path>) -> Result<String, String> {
    let config = match config_file(path) {
        Some(p) => Config::read(&p).map_err(|e| format!("{}: {e}", p.display()))?,
        None => embedded_with_env()?,
    };
    Ok(config.listen.address)
}

fn healthcheck(path: Option<&std::path::Path>) -> ExitCode {
    let addr = match listen_address(path).and_then(|a| {
        a.parse::<std::net::SocketAddr>()
            .map_err(|e| format!("listen.address {a:?}: {e}"))
    }) {
        Ok(a) => otrbnc::health::target(a),
        Err(e) => {
            eprintln!("otrbnc: {e}");
            return ExitCode::from(2);
        }
    };
    match otrbnc::health::check(addr, std::time::Duration::from_secs(5)) {
        Ok(()) => {
            println!("otrbnc answers on {addr}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("otrbnc: unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: Option<&std::path::Path>) -> ExitCode {
    let (config, source) = match load(path) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("otrbnc: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    tracing::info!(config = %source, version = env!("CARGO_PKG_VERSION"), "starting");
    let policy = otrbnc::network::otr::policy(&config.otr);
    let state = match otrbnc::local_state::LocalState::open(&config.data, &policy) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("otrbnc: cannot open the OTR identity: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("identity ready");
    tracing::debug!(fingerprint = %state.identity.fingerprint().to_display(), "our fingerprint");
    // One thread runs every task: a line crosses client reader, network task and upstream
    // writer without waking another core (the cross-thread hand-offs cost tens of
    // microseconds per hop on a VM), and memory stays small. Password hashing runs on the
    // blocking pool.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("otrbnc: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bouncer::run(config, state)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("otrbnc: {e}");
            ExitCode::FAILURE
        }
    }
}

fn hash_password() -> ExitCode {
    let stdin = std::io::stdin();
    if std::io::IsTerminal::is_terminal(&stdin) {
        eprintln!("Password (input is shown; pipe it in to avoid that):");
    }
    let mut line = String::new();
    if stdin.lock().read_line(&mut line).is_err() {
        eprintln!("otrbnc: cannot read the password");
        return ExitCode::FAILURE;
    }
    let pw = line.trim_end_matches(['\r', '\n']);
    if pw.is_empty() {
        eprintln!("otrbnc: empty password refused");
        return ExitCode::from(2);
    }
    match password::hash(pw) {
        Ok(h) => {
            println!("{h}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("otrbnc: {e}");
            ExitCode::FAILURE
        }
    }
}
