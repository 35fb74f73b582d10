//! libotr's key and fingerprint files (`otr.private_key`, irssi-otr's `otr.key`, `otr.fingerprints`).
