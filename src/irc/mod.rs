//! IRC framing and the little parsing otrbnc needs. Lines otrbnc does not change are never
//! re-serialised: they are forwarded as the bytes received.

pub mod build;
pub mod casemap;
pub mod codec;
pub mod ctcp;
pub mod line;
pub mod target;

pub use casemap::CaseMapping;
pub use line::Line;
