//! Sessions: the sans-IO state machine that drives DAKEs and ratchets for many peers.
//!
//! Inputs carry an explicit `now_ms` and RNG ([`Account::handle_incoming`], [`Account::send`],
//! [`Account::handle_timeout`]); outputs are polled ([`Account::poll_transmit`],
//! [`Account::poll_event`], [`Account::poll_timeout`]), in the manner of quinn-proto.

mod account;
mod event;
mod peer;
mod policy;

pub use account::{Accepted, Account, Protocol, SessionInfo, State};
pub use event::{
    EndReason, Event, Received, SendError, SendOutcome, SmpCommandError, SmpEvent, Transmit,
};
pub use policy::Policy;
