"""Ingestion of audit events from every service's outbox: de-duplicated, append-only, gap-checked."""
