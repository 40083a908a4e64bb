"""Bids (投标): sealed envelopes streamed into the store, accepted by the database clock under the
lot's lock strictly before the deadline, signed receipts (回执), modify and withdraw, idempotent
retries, deposits (投标保证金), and the collusion signals recorded with every version."""
