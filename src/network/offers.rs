//! Offers from nicks that are not opted in. Each is announced (or, with `accept_strangers`,
//! answered) — but a server can make thousands of nicks offer at once, so at most
//! [`OFFERS_PER_WINDOW`] are announced or answered per [`OFFER_WINDOW`], the rest are
//! counted and summed up once. Answered strangers stay strangers in the account (bounded,
//! evicted first), never opted in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Net, now_ms};

/// Offers announced or answered per window.
pub const OFFERS_PER_WINDOW: usize = 8;
/// The window.
pub const OFFER_WINDOW: Duration = Duration::from_secs(60);

/// A sliding window of recent offers, and how many were passed over in it.
#[derive(Debug, Default)]
pub struct OfferWindow {
    recent: VecDeque<Instant>,
    passed_over: usize,
}

impl OfferWindow {
    /// Whether one more offer fits now; if not, it is counted. `Some(n)` when the window
    /// has just reopened after `n` offers were passed over (to tell the user once).
    pub fn admit(&mut self, now: Instant) -> (bool, Option<usize>) {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= OFFER_WINDOW)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= OFFERS_PER_WINDOW {
            self.passed_over += 1;
            return (false, None);
        }
        self.recent.push_back(now);
        let told = (self.passed_over > 0).then_some(self.passed_over);
        self.passed_over = 0;
        (true, told)
    }
}

impl Net {
    /// A nick we do not answer by itself offered (or started) an OTR session (OTRv4+ or OTRv3).
    pub(super) fn offer_received(&mut self, peer: &str) {
        let (fits, passed_over) = self.otr.offers.admit(Instant::now());
        if let Some(n) = passed_over {
            self.notify(&format!(
                "{n} more private-conversation offer(s) from other nicks came in too fast and were ignored (at most {OFFERS_PER_WINDOW} a minute are shown or answered)."
            ));
        }
        if !fits {
            return;
        }
        let nick = self.otr.display(peer);
        if !self.otr.accept_strangers {
            self.notify(&format!(
                "{nick} wants a private (OTR) conversation. To accept: enable {nick} or start {nick}"
            ));
            return;
        }
        if !self.otr.account.set_accept_offers(peer, true, now_ms()) {
            self.notify(&format!(
                "{nick} offers a private conversation; not answered: no room for more conversations with nicks you did not enable."
            ));
            return;
        }
        let mut rng = rand::rng();
        self.otr.account.start(now_ms(), &mut rng, peer);
        self.notify(&format!(
            "{nick} offers a private conversation; accepting (accept_strangers is on)."
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_offers_is_cut_to_the_window_and_summed_up_once() {
        let mut w = OfferWindow::default();
        let t0 = Instant::now();
        let admitted = (0..5000).filter(|_| w.admit(t0).0).count();
        assert_eq!(admitted, OFFERS_PER_WINDOW);
        let later = t0 + OFFER_WINDOW;
        assert_eq!(w.admit(later), (true, Some(5000 - OFFERS_PER_WINDOW)));
        assert_eq!(w.admit(later), (true, None));
    }
}
