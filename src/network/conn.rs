//! One upstream connection as a task: connect, then read lines into the network's channel
//! and write the lines the network hands it. The network task owns all state; this task owns
//! only the socket.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

use super::NetMsg;
use crate::config::Network;
use crate::irc::codec::{Frame, LineCodec, write_batch};
use crate::upstream::transport::{self, Route};

/// Lines waiting to be written to the socket (the pacer sits before this).
pub const WRITE_QUEUE: usize = 256;

/// Connects and runs until the connection ends; reports to `events` tagged with `generation`.
pub async fn run(
    net: Network,
    route: Arc<Route>,
    generation: u64,
    events: mpsc::Sender<NetMsg>,
    mut lines: mpsc::Receiver<Bytes>,
) {
    let progress_tx = events.clone();
    let mut progress = move |text: String| {
        // Progress is advisory: when the network's inbox is full it is dropped.
        let _ = progress_tx.try_send(NetMsg::UpProgress { generation, text });
    };
    let stream = match transport::connect(&net, &route, &mut progress).await {
        Ok(s) => s,
        Err(e) => {
            let _ = events
                .send(NetMsg::UpClosed {
                    generation,
                    permanent: e.is_permanent(),
                    reason: e.to_string(),
                })
                .await;
            return;
        }
    };
    if events
        .send(NetMsg::UpConnected { generation })
        .await
        .is_err()
    {
        return;
    }
    let mut framed = Framed::new(stream, LineCodec::default());
    let reason = loop {
        tokio::select! {
            frame = framed.next() => match frame {
                Some(Ok(Frame::Line(line))) => {
                    if events.send(NetMsg::UpLine { generation, line }).await.is_err() {
                        break "shutting down".to_string();
                    }
                }
                Some(Ok(Frame::Overlong(n))) => {
                    tracing::warn!(bytes = n, "dropped an overlong line from the server");
                }
                Some(Err(e)) => break format!("read error: {e}"),
                None => break "connection closed by the server".to_string(),
            },
            out = lines.recv() => match out {
                // The line and every line already waiting go out in one flush: a lone line
                // is not delayed, a burst costs one write. TLS records stay small enough for
                // a server that reads them in small pieces (see `tls::MAX_RECORD`).
                Some(line) => {
                    if let Err(e) = write_batch(&mut framed, line, &mut lines).await {
                        break format!("write error: {e}");
                    }
                }
                // The network dropped its sender: it wants this connection closed.
                None => {
                    let _ = framed.flush().await;
                    let _ = framed.close().await;
                    break "closed".to_string();
                }
            },
        }
    };
    let _ = events
        .send(NetMsg::UpClosed {
            generation,
            reason,
            permanent: false,
        })
        .await;
}
