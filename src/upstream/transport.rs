//! The byte stream to the IRC server: plain TCP or TLS over TCP (more transports plug in
//! here: anything that yields an `AsyncRead + AsyncWrite` stream).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::tls;
use crate::config::{Network, Transport};

/// A connected upstream byte stream.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// TCP connect failed.
    #[error("cannot connect to {addr}: {error}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// Why.
        error: std::io::Error,
    },
    /// Timed out.
    #[error("connecting to {0} timed out")]
    Timeout(String),
    /// TLS set-up or handshake failed (certificate errors included).
    #[error("TLS with {addr}: {error}")]
    Tls {
        /// `host:port`.
        addr: String,
        /// Why.
        error: String,
    },
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the configured transport to the network's server.
pub async fn connect(net: &Network) -> Result<Box<dyn Stream>, TransportError> {
    let addr = format!("{}:{}", net.host, net.port());
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr))
        .await
        .map_err(|_| TransportError::Timeout(addr.clone()))?
        .map_err(|error| TransportError::Connect {
            addr: addr.clone(),
            error,
        })?;
    let _ = tcp.set_nodelay(true);
    match net.transport {
        Transport::Plain => Ok(Box::new(tcp)),
        Transport::Tls => {
            let config = tls::client_config(net).map_err(|error| TransportError::Tls {
                addr: addr.clone(),
                error,
            })?;
            let name = net.tls_server_name.as_deref().unwrap_or(&net.host);
            let server_name =
                rustls::pki_types::ServerName::try_from(name.to_string()).map_err(|e| {
                    TransportError::Tls {
                        addr: addr.clone(),
                        error: format!("bad server name {name:?}: {e}"),
                    }
                })?;
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(server_name, tcp))
                .await
                .map_err(|_| TransportError::Timeout(addr.clone()))?
                .map_err(|e| TransportError::Tls {
                    addr: addr.clone(),
                    error: e.to_string(),
                })?;
            Ok(Box::new(stream))
        }
    }
}
