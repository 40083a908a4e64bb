"""Querying the audit trail: search, cursor pages, CSV export, per-project timelines."""
