"""Organisations and users (with roles, platform binding, passwords, lockout and certificates)."""
