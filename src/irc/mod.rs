//! IRC framing and the little parsing otrbnc needs. Lines otrbnc does not change are never
//! re-serialised: they are forwarded as the bytes received.

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
