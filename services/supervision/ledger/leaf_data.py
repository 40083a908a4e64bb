"""What a ledger leaf commits to: the event's wire content (the fields of ``AuditEventIn``) as stored.

leaf data = canonical JSON (``shared.audit.outbox.canonical_json``: sorted keys, no spaces, UTF-8) of
an object holding every ``AuditEventIn`` field, with two spellings fixed so that anyone recomputing
it from a stored row gets the same bytes whatever their database session's time zone:

- ``event_id``: the lowercase hyphenated UUID;
- ``occurred_at``: ISO 8601 in UTC as Python writes it (``2026-11-01T09:01:00.250000+00:00``, the
  fraction only when non-zero).

Other values are the stored JSON values (``change`` as PostgreSQL's JSONB returns it).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.supervision.ingest.models import StoredEvent
from shared.audit.outbox import canonical_json
from shared.contracts.audit import AuditEventIn

# Derived from the contract, so a field added to the wire format is covered without a second list.
WIRE_FIELDS: tuple[str, ...] = tuple(AuditEventIn.model_fields)
WIRE_COLUMNS = tuple(StoredEvent.__table__.c[name] for name in WIRE_FIELDS)


def leaf_data(row: Mapping[Any, Any]) -> bytes:
    """``row``: the wire columns of an ``audit_events`` row as the database returns them."""
    wire = {name: row[name] for name in WIRE_FIELDS}
    # Only these two are not JSON values already; converting them by name keeps this loop, run
    # once per event when appending and when verifying, free of per-field type checks.
    event_id: uuid.UUID = wire["event_id"]
    occurred_at: datetime = wire["occurred_at"]
    wire["event_id"] = str(event_id)
    wire["occurred_at"] = occurred_at.astimezone(UTC).isoformat()
    return canonical_json(wire)
