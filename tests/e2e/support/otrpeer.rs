//! A scripted OTRv4+ peer without a bouncer: a plain IRC client on ngircd that runs
//! `otr_core::Account` itself. It lets a test play a peer that sends what no honest bouncer
//! would (for example a decrypted text containing CR/LF).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use otr_core::profile::LongTermKeys;
use otr_core::session::{Account, Event, Policy, Received};
use rand::rngs::StdRng;

use super::client::Client;
use super::unix_ms;

/// A plain IRC client with its own OTRv4+ account.
pub struct OtrPeer {
    /// The IRC connection (directly on the server).
    pub client: Client,
    account: Account,
    rng: StdRng,
    events: Vec<Event>,
    messages: Vec<(String, String)>,
    errors: Vec<(String, String)>,
}

fn peer_id(nick: &str) -> String {
    nick.to_ascii_lowercase()
}

impl OtrPeer {
    /// Connects as `nick` (no password, no capabilities) with fresh long-term keys.
    pub async fn connect(addr: SocketAddr, nick: &str) -> OtrPeer {
        let client = Client::connect(addr, None, nick, nick, &[]).await;
        let mut rng: StdRng = rand::make_rng();
        let keys = LongTermKeys::generate(&mut rng).expect("generate long-term keys");
        let tag = 0x1000 + u32::from(rand::random::<u16>());
        let account =
            Account::new(keys, tag, Policy::default(), unix_ms()).expect("create OTR account");
        OtrPeer {
            client,
            account,
            rng,
            events: Vec::new(),
            messages: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Answer offers from `nick` automatically (as a bouncer does for opted-in nicks).
    pub fn auto_respond(&mut self, nick: &str) {
        self.account.set_auto_respond(&peer_id(nick), true);
    }

    /// Sends `text` privately to `nick` (queued until private).
    pub async fn send(&mut self, nick: &str, text: &str) {
        let now = unix_ms();
        self.account
            .send(now, &mut self.rng, &peer_id(nick), text)
            .unwrap_or_else(|e| panic!("otr peer: send to {nick}: {e}"));
        self.flush().await;
    }

    /// Starts a session with `nick`.
    pub async fn start(&mut self, nick: &str) {
        let now = unix_ms();
        self.account.start(now, &mut self.rng, &peer_id(nick));
        self.flush().await;
    }

    async fn flush(&mut self) {
        while let Some(t) = self.account.poll_transmit() {
            self.client.privmsg(&t.peer, &t.line).await;
        }
        while let Some(e) = self.account.poll_event() {
            self.events.push(e);
        }
    }

    /// Runs the account (received lines, timers, transmits) until `until` holds or `limit`
    /// passes. Returns whether `until` held.
    pub async fn pump(&mut self, limit: Duration, mut until: impl FnMut(&OtrPeer) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            self.flush().await;
            if until(self) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let mut wait = deadline - now;
            if let Some(t) = self.account.poll_timeout() {
                let ms = t.saturating_sub(unix_ms());
                wait = wait.min(Duration::from_millis(ms));
            }
            let wait = wait.min(Duration::from_millis(200));
            if let Some(m) = self
                .client
                .try_expect(wait, |m| m.command == "PRIVMSG")
                .await
            {
                let Some(from) = m.nick().map(peer_id) else {
                    continue;
                };
                let got = self
                    .account
                    .handle_incoming(unix_ms(), &mut self.rng, &from, m.text());
                match got {
                    Received::Message { text } => self.messages.push((from, text)),
                    Received::Error { text } => self.errors.push((from, text)),
                    Received::Plain | Received::Tagged { .. } | Received::Protocol => {}
                }
            }
            if self.account.poll_timeout().is_some_and(|t| t <= unix_ms()) {
                self.account.handle_timeout(unix_ms(), &mut self.rng);
            }
        }
    }

    /// Pumps until a private session with `nick` is established; panics after `limit`.
    pub async fn wait_private(&mut self, nick: &str, limit: Duration) {
        let id = peer_id(nick);
        let ok = self
            .pump(limit, |p| {
                p.events
                    .iter()
                    .any(|e| matches!(e, Event::Private { peer, .. } if *peer == id))
            })
            .await;
        assert!(
            ok,
            "otr peer {}: no private session with {nick} after {limit:?}; events: {:?}\nlast lines:\n{}",
            self.client.nick(),
            self.events,
            self.client.tail(20)
        );
    }

    /// Pumps until a decrypted message `text` from `nick` arrived; panics after `limit`.
    pub async fn expect_message(&mut self, nick: &str, text: &str, limit: Duration) {
        let id = peer_id(nick);
        let ok = self
            .pump(limit, |p| {
                p.messages.iter().any(|(f, t)| *f == id && t == text)
            })
            .await;
        assert!(
            ok,
            "otr peer {}: message {text:?} from {nick} not received after {limit:?}; got {:?}; events {:?}",
            self.client.nick(),
            self.messages,
            self.events
        );
    }

    /// Decrypted messages so far: (peer, text).
    pub fn messages(&self) -> &[(String, String)] {
        &self.messages
    }

    /// Events so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// OTR error messages received: (peer, text).
    pub fn errors(&self) -> &[(String, String)] {
        &self.errors
    }
}
