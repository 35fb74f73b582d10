//! One TCP connection to the SAM bridge. Every connection starts with `HELLO`; the one that
//! created a session must stay open for as long as the session is used, and each stream is a
//! connection of its own that, after `STREAM CONNECT`, carries the stream's bytes.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use zeroize::Zeroizing;

use super::command::{self, Destination};
use super::dest;
use super::error::{SamError, Step};
use super::reply::{MAX_REPLY_LEN, Reply};

/// A connection to the SAM bridge after a successful `HELLO`.
pub struct SamConn {
    io: BufReader<TcpStream>,
}

impl SamConn {
    /// Connects to `addr` (`host:port`) and says `HELLO`, all within `timeout`.
    pub async fn open(addr: &str, timeout: Duration) -> Result<SamConn, SamError> {
        let no_router = |error| SamError::NoRouter {
            addr: addr.to_string(),
            error,
        };
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                no_router(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connection timed out",
                ))
            })?
            .map_err(no_router)?;
        let _ = tcp.set_nodelay(true);
        let mut conn = SamConn {
            io: BufReader::new(tcp),
        };
        let reply = conn.request(command::HELLO, Step::Hello, timeout).await?;
        expect(&reply, "HELLO", "REPLY", Step::Hello)?;
        match reply.result() {
            Some("OK") => Ok(conn),
            Some("NOVERSION") => Err(SamError::NoVersion {
                detail: reply.message().unwrap_or("RESULT=NOVERSION").to_string(),
            }),
            _ => Err(refused(&reply, Step::Hello)),
        }
    }

    /// `SESSION CREATE STYLE=STREAM`: returns the session's private destination (base64).
    /// The router builds the session's tunnels first, which takes seconds to minutes.
    pub async fn create_session(
        &mut self,
        id: &str,
        destination: &Destination<'_>,
        options: &[(String, String)],
        timeout: Duration,
    ) -> Result<Zeroizing<String>, SamError> {
        let cmd = command::session_create(id, destination, options);
        let reply = self
            .request(cmd.as_bytes(), Step::SessionCreate, timeout)
            .await?;
        expect(&reply, "SESSION", "STATUS", Step::SessionCreate)?;
        if reply.result() != Some("OK") {
            return Err(refused(&reply, Step::SessionCreate));
        }
        match reply.get("DESTINATION") {
            Some(d) if dest::b32_address(d).is_some() => Ok(Zeroizing::new(d.to_string())),
            _ => Err(SamError::Protocol {
                step: Step::SessionCreate,
                detail: "RESULT=OK without a valid DESTINATION".to_string(),
            }),
        }
    }

    /// `NAMING LOOKUP`: the public destination (base64) of a name or `.b32.i2p` address.
    pub async fn lookup(&mut self, name: &str, timeout: Duration) -> Result<String, SamError> {
        let reply = self
            .request(
                command::naming_lookup(name).as_bytes(),
                Step::Lookup,
                timeout,
            )
            .await?;
        expect(&reply, "NAMING", "REPLY", Step::Lookup)?;
        if reply.result() != Some("OK") {
            return Err(refused(&reply, Step::Lookup));
        }
        match reply.get("VALUE") {
            Some(v) if dest::is_public_destination(v) => Ok(v.to_string()),
            _ => Err(SamError::Protocol {
                step: Step::Lookup,
                detail: "RESULT=OK without a valid destination in VALUE".to_string(),
            }),
        }
    }

    /// `STREAM CONNECT`: on success this connection becomes the stream (bytes the router sent
    /// after its reply stay in the buffer). `RESULT=OK` means the router accepted the request;
    /// the server may still turn out to be unreachable, which shows as the stream closing.
    pub async fn connect_stream(
        mut self,
        id: &str,
        destination: &str,
        timeout: Duration,
    ) -> Result<BufReader<TcpStream>, SamError> {
        let cmd = command::stream_connect(id, destination);
        let reply = self
            .request(cmd.as_bytes(), Step::StreamConnect, timeout)
            .await?;
        expect(&reply, "STREAM", "STATUS", Step::StreamConnect)?;
        if reply.result() != Some("OK") {
            return Err(refused(&reply, Step::StreamConnect));
        }
        Ok(self.io)
    }

    /// Waits until the router closes this connection (for the session's control connection:
    /// the session ends with it). Whatever the router sends meanwhile is read and discarded.
    pub async fn closed(mut self) {
        let mut buf = [0u8; 1024];
        while let Ok(n) = self.io.read(&mut buf).await {
            if n == 0 {
                return;
            }
        }
    }

    async fn request(
        &mut self,
        cmd: &[u8],
        step: Step,
        timeout: Duration,
    ) -> Result<Reply, SamError> {
        let exchange = async {
            let stream = self.io.get_mut();
            stream
                .write_all(cmd)
                .await
                .map_err(|_| SamError::Closed { step })?;
            stream
                .flush()
                .await
                .map_err(|_| SamError::Closed { step })?;
            self.read_reply(step).await
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| SamError::Timeout {
                step,
                secs: timeout.as_secs(),
            })?
    }

    async fn read_reply(&mut self, step: Step) -> Result<Reply, SamError> {
        let mut line = Zeroizing::new(Vec::with_capacity(1024));
        let limit = u64::try_from(MAX_REPLY_LEN).unwrap_or(u64::MAX) + 1;
        (&mut self.io)
            .take(limit)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|_| SamError::Closed { step })?;
        if !line.ends_with(b"\n") {
            return Err(if line.len() > MAX_REPLY_LEN {
                SamError::Protocol {
                    step,
                    detail: format!("a reply longer than {MAX_REPLY_LEN} bytes"),
                }
            } else {
                SamError::Closed { step }
            });
        }
        Reply::parse(&line).map_err(|e| SamError::Protocol {
            step,
            detail: e.to_string(),
        })
    }
}

fn expect(reply: &Reply, topic: &str, kind: &str, step: Step) -> Result<(), SamError> {
    if reply.is(topic, kind) {
        Ok(())
    } else {
        Err(SamError::Protocol {
            step,
            detail: format!("expected {topic} {kind}, got {}", reply.head()),
        })
    }
}

fn refused(reply: &Reply, step: Step) -> SamError {
    SamError::Refused {
        step,
        result: reply
            .result()
            .unwrap_or("(none)")
            .chars()
            .take(64)
            .collect(),
        message: reply.message().map(|m| m.chars().take(300).collect()),
    }
}
