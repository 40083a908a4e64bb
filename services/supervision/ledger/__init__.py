"""Tamper-evident ledger of audit events: hash chain, RFC 6962 Merkle tree, signed tree heads."""
