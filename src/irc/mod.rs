//! IRC framing and the little parsing otrbnc needs. Lines otrbnc does not change are never
//! re-serialised: they are forwarded as the bytes received.
//!
//! Why the split between our own code and the `irc-proto` crate: `irc-proto` parses and
//! prints `String`s, and a server may send any bytes (Latin-1 channels, broken UTF-8, a
//! hostile server's junk), which must reach clients unchanged. So lines from the wire are
//! read as bytes by [`line`] (borrowed, never failing), and the few that a client's
//! capabilities change are rewritten as bytes by [`shape`], keeping every byte they do not
//! change. Lines otrbnc makes itself from text it holds as `String` (its notices, replies,
//! the lines carrying OTR fragments, CAP, BATCH and FAIL lines) are built by [`build`], which
//! scrubs every word and has `irc-proto` serialise them.

pub mod build;
pub mod caps;
pub mod casemap;
pub mod codec;
pub mod ctcp;
pub mod line;
pub mod shape;
pub mod target;

pub use caps::{Cap, CapSet};
pub use casemap::CaseMapping;
pub use line::Line;
