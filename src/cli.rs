//! Command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// otrbnc: a transparent IRC bouncer that encrypts private messages to opted-in nicks with
/// OTRv4+ (post-quantum hybrid OTRv4).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// Config file (default: ~/.config/otrbnc/otrbnc.toml, else /etc/otrbnc/otrbnc.toml;
    /// embedded defaults if neither exists).
    #[arg(long, short, global = true, env = "OTRBNC_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do (default: run).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bouncer (the default).
    Run,
    /// Check the config file and exit: prints the first problem, naming its key.
    CheckConfig,
    /// Print this installation's OTR fingerprint.
    Fingerprint,
    /// Read a password on standard input and print its hash for `listen.password_hash`.
    HashPassword,
    /// Exit 0 if the bouncer answers on its listener (a PING before login), 1 if not: for a
    /// container's HEALTHCHECK.
    Healthcheck,
}
