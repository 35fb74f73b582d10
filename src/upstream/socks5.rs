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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A SOCKS5 server that records what it was asked (RFC 1928, RFC 1929) and grants it.
    async fn recording_proxy() -> (SocketAddr, tokio::task::JoinHandle<(Vec<u8>, Vec<u8>)>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut head = [0u8; 2];
            s.read_exact(&mut head).await.unwrap();
            let mut methods = vec![0u8; usize::from(head[1])];
            s.read_exact(&mut methods).await.unwrap();
            assert!(methods.contains(&2), "user/password auth not offered");
            s.write_all(&[5, 2]).await.unwrap();
            let mut auth = vec![0u8; 2];
            s.read_exact(&mut auth).await.unwrap();
            let mut user = vec![0u8; usize::from(auth[1])];
            s.read_exact(&mut user).await.unwrap();
            let mut plen = [0u8; 1];
            s.read_exact(&mut plen).await.unwrap();
            let mut pass = vec![0u8; usize::from(plen[0])];
            s.read_exact(&mut pass).await.unwrap();
            s.write_all(&[1, 0]).await.unwrap();
            let mut req = [0u8; 5];
            s.read_exact(&mut req).await.unwrap();
            assert_eq!(&req[..4], &[5, 1, 0, 3], "not a CONNECT to a domain name");
            let mut rest = vec![0u8; usize::from(req[4]) + 2];
            s.read_exact(&mut rest).await.unwrap();
            let mut target = vec![req[4]];
            target.extend_from_slice(&rest);
            s.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 1])
                .await
                .unwrap();
            (user, target)
        });
        (addr, task)
    }

    #[tokio::test]
    async fn host_names_reach_the_proxy_unresolved_with_per_network_credentials() {
        let (proxy, seen) = recording_proxy().await;
        let name = "ircxyzabcdefghijklmnop.onion";
        let route = SocksRoute::new(proxy, "libera");
        route
            .connect(name, 6697, Duration::from_secs(10))
            .await
            .unwrap();
        let (user, target) = seen.await.unwrap();
        assert_eq!(user, b"otrbnc-libera");
        let mut want = vec![u8::try_from(name.len()).unwrap()];
        want.extend_from_slice(name.as_bytes());
        want.extend_from_slice(&6697u16.to_be_bytes());
        assert_eq!(target, want);
        // Another network: another user name, so Tor gives it other circuits.
        assert_ne!(SocksRoute::new(proxy, "oftc").user(), route.user());
    }
}
