//! The byte stream to the IRC server: a route (direct TCP, embedded Tor, a SOCKS5 proxy or an
//! I2P router's SAM bridge), then TLS on top when the network uses it.
//!
//! Fail closed: a network configured for Tor, SOCKS5 or I2P gets a [`Route`] that has no
//! direct connection in it, so when Tor (or the I2P router) is down the attempt fails and is
//! retried later, through the same route.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::i2p::{I2pError, I2pRoute};
use super::socks5::SocksRoute;
use super::tls;
use super::tor::{TorRoute, TorService, TorStatus};
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
    /// Tor has not bootstrapped in time; no direct connection is made instead.
    #[error("Tor is not ready after {waited} s ({status}); not connecting without Tor, will retry")]
    TorNotReady {
        /// Seconds waited.
        waited: u64,
        /// The bootstrap status.
        status: String,
    },
    /// Tor could not open the stream.
    #[error("through Tor to {addr}: {error}")]
    Tor {
        /// `host:port`.
        addr: String,
        /// arti's error.
        error: String,
    },
    /// The SOCKS5 proxy could not open the stream.
    #[error("through SOCKS5 proxy {proxy} to {addr}: {error}")]
    Socks {
        /// `host:port`.
        addr: String,
        /// The proxy.
        proxy: SocketAddr,
        /// Why.
        error: String,
    },
    /// The I2P router could not open the stream (or make the session).
    #[error("{0}")]
    I2p(#[from] I2pError),
}

impl TransportError {
    /// Whether retrying cannot help until the configuration or the router changes (then the
    /// network stops retrying and says so).
    pub fn is_permanent(&self) -> bool {
        match self {
            TransportError::I2p(e) => e.is_permanent(),
            _ => false,
        }
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A SOCKS5 proxy that is Tor needs time to build circuits (and onion rendezvous).
const SOCKS_CONNECT_TIMEOUT: Duration = Duration::from_secs(120);

/// How one network reaches its server.
pub enum Route {
    /// A direct TCP connection (`transport = "tls"` or `"plain"`).
    Direct,
    /// The embedded Tor client, isolated for this network.
    Tor(TorRoute),
    /// An external SOCKS5 proxy.
    Socks5(SocksRoute),
    /// The network's session on an I2P router.
    I2p(Box<I2pRoute>),
}

impl Route {
    /// The route for `net`. A Tor network without a Tor client, or an I2P network without its
    /// I2P route, is an error, never `Direct`.
    pub fn for_network(
        name: &str,
        net: &Network,
        tor: Option<&Arc<TorService>>,
        i2p: Option<I2pRoute>,
    ) -> Result<Route, String> {
        match net.transport {
            Transport::Tls | Transport::Plain => Ok(Route::Direct),
            Transport::Tor => tor.map(|t| Route::Tor(t.for_network())).ok_or_else(|| {
                format!("network {name}: transport = \"tor\" but Tor is not running")
            }),
            Transport::Socks5 => {
                let proxy = net
                    .socks_proxy()
                    .parse()
                    .map_err(|_| format!("networks.{name}.socks_proxy: not an ip:port address"))?;
                Ok(Route::Socks5(SocksRoute::new(proxy, name)))
            }
            Transport::I2p => i2p.map(|r| Route::I2p(Box::new(r))).ok_or_else(|| {
                format!("network {name}: transport = \"i2p\" but no I2P route was set up")
            }),
        }
    }

    /// Whether this route may open a direct connection to the server.
    pub fn is_direct(&self) -> bool {
        matches!(self, Route::Direct)
    }

    /// The embedded Tor client's status, for a Tor route.
    pub fn tor_status(&self) -> Option<TorStatus> {
        match self {
            Route::Tor(t) => Some(t.status()),
            _ => None,
        }
    }

    /// How the route is described in `*otr status`.
    pub fn describe(&self, net: &Network) -> String {
        let tls = if net.uses_tls() { "TLS" } else { "no TLS" };
        match self {
            Route::Direct => format!("direct, {tls}"),
            Route::Tor(t) => format!("through Tor (embedded, {}), {tls}", t.status().describe()),
            Route::Socks5(s) => format!("through SOCKS5 proxy {}, {tls}", s.proxy()),
            Route::I2p(i) => {
                let kind = if i.is_persistent() {
                    "persistent"
                } else {
                    "transient"
                };
                match i.address() {
                    Some(a) => format!("through I2P (SAM {}, {kind} address {a}), {tls}", i.sam()),
                    None => format!(
                        "through I2P (SAM {}, {kind} address, no session yet), {tls}",
                        i.sam()
                    ),
                }
            }
        }
    }
}

/// Opens the network's route to its server, then TLS if the network uses it. `progress`
/// hears about slow steps (Tor bootstrap).
pub async fn connect(
    net: &Network,
    route: &Route,
    progress: &mut (dyn FnMut(String) + Send),
) -> Result<Box<dyn Stream>, TransportError> {
    let port = net.port();
    let addr = format!("{}:{port}", net.host);
    let stream: Box<dyn Stream> = match route {
        Route::Direct => Box::new(direct(&net.host, port).await?),
        Route::Tor(tor) => Box::new(tor.connect(&net.host, port, progress).await?),
        Route::Socks5(socks) => Box::new(
            socks
                .connect(&net.host, port, SOCKS_CONNECT_TIMEOUT)
                .await?,
        ),
        Route::I2p(i2p) => Box::new(i2p.connect(&net.host, progress).await?),
    };
    if net.uses_tls() {
        with_tls(net, &addr, stream).await
    } else {
        Ok(stream)
    }
}

/// Resolves the host and races its addresses ([`happy_eyeballs`]), all within
/// `CONNECT_TIMEOUT`; the winner gets TCP_NODELAY and keepalive.
async fn direct(host: &str, port: u16) -> Result<TcpStream, TransportError> {
    let addr = format!("{host}:{port}");
    let attempt = async {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await?
            .take(MAX_ADDRESSES)
            .collect();
        happy_eyeballs(&addrs, ATTEMPT_DELAY, ATTEMPT_TIMEOUT).await
    };
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| TransportError::Timeout(addr.clone()))?
        .map_err(|error| TransportError::Connect { addr, error })?;
    let _ = tcp.set_nodelay(true);
    set_keepalive(&tcp);
    Ok(tcp)
}

/// Addresses of one host tried at most (a resolver answer is not trusted to be small).
const MAX_ADDRESSES: usize = 16;
/// RFC 8305's recommended "Connection Attempt Delay".
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);
/// One address may take this long; a black-holed address then no longer holds up the rest.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// RFC 8305 order: IPv6 and IPv4 alternate, starting with the resolver's first family
/// (IPv6 when it has any), each family in the resolver's order.
pub fn interleave(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let (v6, v4): (Vec<SocketAddr>, Vec<SocketAddr>) = addrs.iter().partition(|a| a.is_ipv6());
    let (first, second) = if v6.is_empty() { (v4, v6) } else { (v6, v4) };
    let mut out = Vec::with_capacity(addrs.len());
    let mut a = first.into_iter();
    let mut b = second.into_iter();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

/// Happy Eyeballs (RFC 8305): the addresses in [`interleave`] order, the next attempt started
/// `delay` after the previous one (at once when one fails), each attempt limited to
/// `per_attempt`. The first connection wins; the others are dropped (closed).
pub async fn happy_eyeballs(
    addrs: &[SocketAddr],
    delay: Duration,
    per_attempt: Duration,
) -> std::io::Result<TcpStream> {
    use futures_util::StreamExt;
    use futures_util::stream::FuturesUnordered;

    let mut queue = interleave(addrs).into_iter();
    let mut running = FuturesUnordered::new();
    let mut last_error = None;
    let start = |addr: SocketAddr| async move {
        match tokio::time::timeout(per_attempt, TcpStream::connect(addr)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("{addr}: no answer in {} s", per_attempt.as_secs()),
            )),
        }
    };
    let mut next_at = tokio::time::Instant::now();
    loop {
        let more = queue.len() > 0;
        if running.is_empty() || (more && tokio::time::Instant::now() >= next_at) {
            let Some(addr) = queue.next() else {
                return Err(last_error.unwrap_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no address to connect to")
                }));
            };
            running.push(start(addr));
            next_at = tokio::time::Instant::now() + delay;
            continue;
        }
        tokio::select! {
            done = running.next() => match done {
                Some(Ok(tcp)) => return Ok(tcp),
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "connection attempt failed");
                    last_error = Some(e);
                    // A failure starts the next attempt at once.
                    next_at = tokio::time::Instant::now();
                }
                None => {}
            },
            _ = tokio::time::sleep_until(next_at), if more => {}
        }
    }
}

/// TCP keepalive probes after a minute of silence: the kernel then notices a peer that
/// vanished (a NAT that forgot us) even while otrbnc has nothing to send. The PING check
/// (`ping_interval_secs`) covers what keepalive cannot (a server alive but deaf).
fn set_keepalive(tcp: &TcpStream) {
    let ka = socket2::TcpKeepalive::new()
        .with_time(std::time::Duration::from_secs(60))
        .with_interval(std::time::Duration::from_secs(10));
    if let Err(e) = socket2::SockRef::from(tcp).set_tcp_keepalive(&ka) {
        tracing::debug!(error = %e, "cannot set TCP keepalive");
    }
}

async fn with_tls(
    net: &Network,
    addr: &str,
    stream: Box<dyn Stream>,
) -> Result<Box<dyn Stream>, TransportError> {
    let tls_err = |error: String| TransportError::Tls {
        addr: addr.to_string(),
        error,
    };
    let config = tls::client_config(net).map_err(tls_err)?;
    let name = net.tls_server_name.as_deref().unwrap_or(&net.host);
    let server_name = rustls::pki_types::ServerName::try_from(name.to_string())
        .map_err(|e| tls_err(format!("bad server name {name:?}: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(server_name, stream))
        .await
        .map_err(|_| TransportError::Timeout(addr.to_string()))?
        .map_err(|e| tls_err(e.to_string()))?;
    Ok(Box::new(stream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn network(extra: &str) -> Network {
        let text = format!(
            "[listen]\npassword_hash = \"x\"\n[networks.n]\nhost = \"irc.example.org\"\n{extra}"
        );
        Config::parse(&text).unwrap().networks.remove("n").unwrap()
    }

    #[tokio::test]
    async fn direct_connections_have_tcp_keepalive() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tcp = direct("127.0.0.1", port).await.unwrap();
        let sock = socket2::SockRef::from(&tcp);
        assert!(sock.keepalive().unwrap());
        assert_eq!(
            sock.tcp_keepalive_time().unwrap(),
            std::time::Duration::from_secs(60)
        );
    }

    /// A loopback listener whose accept queue is full: Linux then drops further SYNs, so a
    /// connect to it hangs like one to a black-holed address. Returns the listener (keep it),
    /// its address and the connections that fill its queue (keep them too).
    async fn black_hole() -> (socket2::Socket, SocketAddr, Vec<TcpStream>) {
        use socket2::{Domain, Socket, Type};
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        sock.bind(&any.into()).unwrap();
        sock.listen(0).unwrap();
        let addr = sock.local_addr().unwrap().as_socket().unwrap();
        let mut fillers = Vec::new();
        for _ in 0..16 {
            match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
                Ok(Ok(s)) => fillers.push(s),
                Ok(Err(e)) => panic!("connect to the full listener failed: {e}"),
                // This one hung: the queue is full, SYNs are dropped from now on.
                Err(_) => return (sock, addr, fillers),
            }
        }
        panic!("the listener's accept queue never filled");
    }

    fn refused_addr() -> SocketAddr {
        // Bound and released: nothing listens there, so a connect is refused at once.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }

    #[test]
    fn addresses_alternate_families_v6_first() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let got = interleave(&[
            a("192.0.2.1:6697"),
            a("192.0.2.2:6697"),
            a("192.0.2.3:6697"),
            a("[2001:db8::1]:6697"),
            a("[2001:db8::2]:6697"),
        ]);
        assert_eq!(
            got,
            [
                a("[2001:db8::1]:6697"),
                a("192.0.2.1:6697"),
                a("[2001:db8::2]:6697"),
                a("192.0.2.2:6697"),
                a("192.0.2.3:6697"),
            ]
        );
        assert_eq!(interleave(&[a("192.0.2.1:1")]), [a("192.0.2.1:1")]);
        assert!(interleave(&[]).is_empty());
    }

    /// The first address swallows SYNs; the second answers. The second attempt starts after
    /// the 250 ms attempt delay and wins, long before the first attempt's own timeout.
    #[tokio::test]
    async fn a_black_holed_address_does_not_hold_up_the_next() {
        let (_hole, hole, _fill) = black_hole().await;
        let good = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let good_addr = good.local_addr().unwrap();
        let t = std::time::Instant::now();
        let tcp = happy_eyeballs(&[hole, good_addr], ATTEMPT_DELAY, ATTEMPT_TIMEOUT)
            .await
            .unwrap();
        let took = t.elapsed();
        println!("connected past a black-holed address in {took:?}");
        assert_eq!(tcp.peer_addr().unwrap(), good_addr);
        assert!(
            took >= ATTEMPT_DELAY,
            "the second attempt did not wait: {took:?}"
        );
        assert!(took < Duration::from_secs(1), "took {took:?}");
    }

    /// A refused attempt starts the next one at once, without waiting for the delay.
    #[tokio::test]
    async fn a_refused_address_starts_the_next_at_once() {
        let good = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let good_addr = good.local_addr().unwrap();
        let long_delay = Duration::from_secs(20);
        let t = std::time::Instant::now();
        let tcp = happy_eyeballs(&[refused_addr(), good_addr], long_delay, ATTEMPT_TIMEOUT)
            .await
            .unwrap();
        assert_eq!(tcp.peer_addr().unwrap(), good_addr);
        assert!(t.elapsed() < long_delay / 2, "took {:?}", t.elapsed());
    }

    /// Every address failing gives the last error; a black-holed one fails after its own
    /// attempt timeout.
    #[tokio::test]
    async fn when_every_address_fails_the_error_says_why() {
        let e = happy_eyeballs(&[refused_addr()], ATTEMPT_DELAY, ATTEMPT_TIMEOUT)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
        let (_hole, hole, _fill) = black_hole().await;
        let e = happy_eyeballs(&[hole], ATTEMPT_DELAY, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        let e = happy_eyeballs(&[], ATTEMPT_DELAY, ATTEMPT_TIMEOUT)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn proxied_transports_never_get_a_direct_route() {
        let tor = network("transport = \"tor\"\n");
        assert_eq!(tor.transport, Transport::Tor);
        // Without a Tor client the network cannot be set up at all.
        assert!(Route::for_network("n", &tor, None, None).is_err());
        let socks = network("transport = \"socks5\"\nsocks_proxy = \"127.0.0.1:9150\"\n");
        let route = Route::for_network("n", &socks, None, None).unwrap();
        assert!(!route.is_direct());
        assert!(
            matches!(&route, Route::Socks5(s) if s.proxy().port() == 9150 && s.user() == "otrbnc-n")
        );
        let i2p = network("transport = \"i2p\"\n");
        assert!(Route::for_network("n", &i2p, None, None).is_err());
        let i2p_route = I2pRoute::new("n", &crate::config::I2p::default(), None);
        let route = Route::for_network("n", &i2p, None, Some(i2p_route)).unwrap();
        assert!(!route.is_direct() && matches!(route, Route::I2p(_)));
        let tls = network("transport = \"tls\"\n");
        assert!(Route::for_network("n", &tls, None, None).is_ok_and(|r| r.is_direct()));
    }
}
