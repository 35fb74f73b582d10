//! IRC framing and the little parsing otrbnc needs. Lines otrbnc does not change are never
//! re-serialised: they are forwarded as the bytes received.
//!
//! Why the split between our own code and the `irc-proto` crate: `irc-proto` parses and
//! prints `String`s, and a server may send any bytes (Latin-1 channels, broken UTF-8, a
//! hostile server's junk), which must reach clients unchanged. So lines from the wire are
//! read as bytes by [`line`] (borrowed, never failing), and the few that a client's
//! capabilities change are rewritten as bytes by [`shape`], keeping every byte they do not
//! change. Lines otrbnc makes itself are built by [`build`], which scrubs every word: command
//! lines (`NICK`, `JOIN #a key`, `PONG`, a NICK or JOIN for clients) are serialised by
//! `irc-proto`; lines with a text (PRIVMSG and NOTICE: notices, replies, the lines carrying
//! OTR fragments) are written out with the `:` always before the text, which `irc-proto`
//! leaves out before one word: the server would otherwise see otrbnc's one-word OTR lines
//! look unlike any client's. `irc-proto` has no reader for ISUPPORT or CAP values; those are
//! read by [`caps`] and the network state, bounded and tested.

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
