//! `transport = "socks5"`: through an external SOCKS5 proxy, normally a Tor daemon's SocksPort
//! or Tor Browser's. The host name goes to the proxy as a name (resolved at the exit), and each
//! network sends its own credentials: Tor isolates streams by SOCKS user name and password
//! (`IsolateSOCKSAuth`, on by default), so two networks never share a circuit.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_socks::tcp::Socks5Stream;

use super::transport::TransportError;

/// One network's way through the proxy.
pub struct SocksRoute {
    proxy: SocketAddr,
    user: String,
    pass: String,
}

impl SocksRoute {
    /// A route for `network` through `proxy`. The password is random per process start, so
    /// a restart does not reuse the previous run's circuits either.
    pub fn new(proxy: SocketAddr, network: &str) -> SocksRoute {
        let mut pass = [0u8; 12];
        rand::fill(&mut pass);
        SocksRoute {
            proxy,
            user: format!("otrbnc-{network}"),
            pass: hex::encode(pass),
        }
    }

    /// The proxy's address.
    pub fn proxy(&self) -> SocketAddr {
        self.proxy
    }

    /// The SOCKS user name this network isolates its streams with.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Opens a stream to `host:port` through the proxy.
    pub async fn connect(
        &self,
        host: &str,
        port: u16,
        limit: Duration,
    ) -> Result<Socks5Stream<TcpStream>, TransportError> {
        let addr = format!("{host}:{port}");
        let fut =
            Socks5Stream::connect_with_password(self.proxy, (host, port), &self.user, &self.pass);
        tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| TransportError::Timeout(format!("{addr} through SOCKS5 {}", self.proxy)))?
            .map_err(|e| TransportError::Socks {
                addr,
                proxy: self.proxy,
                error: e.to_string(),
            })
    }
}
