//! A small SAM v3.1 client: how otrbnc asks a local I2P router (i2pd or Java I2P) for a
//! session and streams.
//!
//! ```text
//! control connection:  HELLO VERSION → SESSION CREATE STYLE=STREAM … (kept open)
//! per stream:          HELLO VERSION → [NAMING LOOKUP] → STREAM CONNECT → the stream's bytes
//! ```
//!
//! Parsing and command building ([`reply`], [`command`], [`dest`]) are pure; [`client`] does
//! the I/O. SAM 3.2/3.3 features (PING, ports, PRIMARY sessions) are not used, because i2pd
//! 2.45 (Debian 12) offers 3.1 at most.

pub mod client;
pub mod command;
pub mod dest;
mod error;
pub mod reply;

pub use client::SamConn;
pub use error::{SamError, Step};
