//! The connection to the IRC server: routes (direct, embedded Tor, SOCKS5), TLS, SASL and the
//! paced send queue.

pub mod pacer;
pub mod sasl;
pub mod socks5;
pub mod tls;
pub mod tor;
pub mod transport;
