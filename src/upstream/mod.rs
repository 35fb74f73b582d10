//! The connection to the IRC server: transports, TLS, SASL and the paced send queue.

pub mod pacer;
pub mod sasl;
pub mod tls;
pub mod transport;
