"""Audit outbox: every state change writes its event in the same transaction; a relay ships it."""
