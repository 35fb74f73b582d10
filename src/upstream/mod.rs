//! The connection to the IRC server: routes (direct, embedded Tor, SOCKS5, I2P), TLS, SASL and the
//! paced send queue.

pub mod i2p;
pub mod pacing;
pub mod sam;
pub mod sasl;
pub mod socks5;
pub mod tls;
pub mod tor;
pub mod transport;
