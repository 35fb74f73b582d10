//! Bounded store of message keys for messages not yet received.

use std::collections::VecDeque;

use super::keys::MessageKey;
use crate::crypto::x448::X448Public;
use crate::limits::MAX_SKIPPED_KEYS_TOTAL;

/// Keys by (sender ratchet key, message number), oldest first.
#[derive(Default)]
pub(crate) struct SkippedKeys {
    entries: VecDeque<(X448Public, u32, MessageKey)>,
}

impl SkippedKeys {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// A digest of which keys are stored (for state-equality checks in tests).
    #[cfg(any(test, feature = "test-utils"))]
    pub(crate) fn digest(&self) -> [u8; 32] {
        use crate::crypto::kdf::{Usage, hash};
        let mut ids = Vec::with_capacity(self.entries.len() * 60);
        for (k, n, _) in &self.entries {
            ids.extend_from_slice(k);
            ids.extend_from_slice(&n.to_be_bytes());
        }
        hash(Usage::Fingerprint, &[&ids])
    }

    /// Finds a key without removing it.
    pub(crate) fn get(&self, ratchet_key: &X448Public, n: u32) -> Option<&MessageKey> {
        self.entries
            .iter()
            .find(|(k, i, _)| *i == n && k == ratchet_key)
            .map(|(_, _, mk)| mk)
    }

    /// Removes a key once its message authenticated: each key decrypts at most once.
    pub(crate) fn remove(&mut self, ratchet_key: &X448Public, n: u32) {
        if let Some(pos) = self
            .entries
            .iter()
            .position(|(k, i, _)| *i == n && k == ratchet_key)
        {
            self.entries.remove(pos);
        }
    }

    /// Adds keys, evicting the oldest beyond the global cap.
    pub(crate) fn extend(&mut self, new: Vec<(X448Public, u32, MessageKey)>) {
        for e in new {
            if self.entries.len() >= MAX_SKIPPED_KEYS_TOTAL {
                self.entries.pop_front();
            }
            self.entries.push_back(e);
        }
    }
}
