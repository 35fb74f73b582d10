//! Command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// Bring your OTRv3 key and your contacts' fingerprints (with their verification) from
    /// irssi-otr, pidgin-otr or znc-otr (libotr's files), so that contacts see the same
    /// fingerprint as before. Stop otrbnc first.
    ImportLibotr(ImportArgs),
}

/// `otrbnc import-libotr`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// libotr's private key file: irssi ~/.irssi/otr/otr.key, pidgin ~/.purple/otr.private_key,
    /// znc-otr <znc dir>/users/<user>/networks/<network>/moddata/otr/otr.key.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// libotr's fingerprint file (irssi and znc-otr: otr.fp beside otr.key; pidgin:
    /// ~/.purple/otr.fingerprints): the contacts of the chosen account and how you verified
    /// them go into the trust store of --network.
    #[arg(long, value_name = "FILE", requires = "network")]
    pub fingerprints: Option<PathBuf>,
    /// The account in the key file (irssi: the network's name, e.g. libera; pidgin:
    /// nick@server; znc-otr: your ZNC user). Needed only when the file holds several.
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// The account's protocol (irssi: IRC; pidgin: prpl-irc; znc-otr: irc), when the name
    /// alone does not pick one account.
    #[arg(long, value_name = "NAME")]
    pub protocol: Option<String>,
    /// The otrbnc network (a [networks.NAME] in the config) whose trust store receives the
    /// fingerprints.
    #[arg(long, value_name = "NAME", requires = "fingerprints")]
    pub network: Option<String>,
    /// Replace the OTRv3 key otrbnc already has (its contacts then see a new fingerprint).
    #[arg(long)]
    pub replace: bool,
}
