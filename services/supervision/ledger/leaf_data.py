"""What a ledger leaf commits to: the event's wire content (the fields of ``AuditEventIn``) as stored.

leaf data = canonical JSON (``shared.audit.outbox.canonical_json``: sorted keys, no spaces, UTF-8) of
an object holding every ``AuditEventIn`` field, with two spellings fixed so that anyone recomputing
it from a stored row gets the same bytes whatever their database session's time zone:

- ``event_id``: the lowercase hyphenated UUID;
- ``occurred_at``: ISO 8601 in UTC as Python writes it (``2026-11-01T09:01:00.250000+00:00``, the
  fraction only when non-zero).

Other values are the stored JSON values (``change`` as PostgreSQL's JSONB returns it).

Two spellings of the same function: :func:`leaf_data` (the definition, used when appending) and
:func:`leaf_data_of_values` (the verifier's, byte-identical, for a million rows a run; the tests
compare the two on varied content).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import ColumnElement, Text, cast

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


# --- The verifier's spelling -------------------------------------------------------------------
#
# canonical_json sorts the keys, so the object's shape is known in advance: a fixed template with
# each value spelled as json.dumps spells it (strings by the same ``encode_basestring``, None as
# null, ints by repr) replaces building, sorting and walking a dict per row. ``change`` is arbitrary
# JSON, so it stays with the json module, under canonical_json's options.

VALUE_FIELDS: tuple[str, ...] = tuple(sorted(WIRE_FIELDS))
# The one line that names every field: a field added to the contract must be added here, by hand,
# or importing this module fails (below) instead of leaves silently losing it.
_SPELLED = ("action", "actor", "actor_role", "change", "client_ip", "delivery_seq", "device_fingerprint", "digest",
            "event_id", "lot_id", "object_id", "object_type", "occurred_at", "organisation", "platform", "project_id",
            "request_id", "source", "user_agent")  # fmt: skip
if _SPELLED != VALUE_FIELDS:
    raise RuntimeError(f"leaf_data_of_values spells {_SPELLED}, the wire format has {VALUE_FIELDS}")
_TEMPLATE = "{" + ",".join(f"{json.dumps(name)}:%s" for name in VALUE_FIELDS) + "}"
# What canonical_json passes to json.dumps, built once instead of per call (json.dumps builds it per call).
_CHANGE_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _value_column(name: str) -> ColumnElement[Any]:
    column: ColumnElement[Any] = StoredEvent.__table__.c[name]
    # As text, PostgreSQL spells a UUID exactly as str(uuid.UUID) does, and hands JSONB over
    # without psycopg's per-row JSON loader (4x slower than json.loads here); both are the same
    # output functions the default text protocol would use.
    if name in ("event_id", "change"):
        return cast(column, Text).label(name)
    return column


# What leaf_data_of_values takes, in this order (the wire fields sorted by name).
VALUE_COLUMNS = tuple(_value_column(name) for name in VALUE_FIELDS)


def leaf_data_of_values(values: Sequence[Any]) -> bytes:
    """``values``: the ``VALUE_COLUMNS`` of an ``audit_events`` row as fetched. Same bytes as ``leaf_data``."""
    try:
        return _spell(values)
    except (TypeError, AttributeError):
        # A value of a type the template does not expect (a column retyped behind our back):
        # spell it as the definition does, so a tampered row reads as altered, not as a crash.
        return leaf_data(_as_wire(values))


def _spell(values: Sequence[Any]) -> bytes:
    (action, actor, actor_role, change, client_ip, delivery_seq, device_fingerprint, digest, event_id, lot_id,
     object_id, object_type, occurred_at, organisation, platform, project_id, request_id, source, user_agent,
     ) = values  # fmt: skip
    return (
        _TEMPLATE
        % (
            _str(action),
            _str(actor),
            _str(actor_role),
            _CHANGE_ENCODER.encode(json.loads(change)),
            _str(client_ip),
            "null" if delivery_seq is None else int.__repr__(delivery_seq),
            _str(device_fingerprint),
            _str(digest),
            _str(event_id),
            _str(lot_id),
            _str(object_id),
            _str(object_type),
            _str(occurred_at.astimezone(UTC).isoformat()),
            _str(organisation),
            _str(platform),
            _str(project_id),
            _str(request_id),
            _str(source),
            _str(user_agent),
        )
    ).encode()


def _str(value: str | None) -> str:
    """A string column as json.dumps spells it (NOT NULL columns too: a dropped constraint must not crash us)."""
    return "null" if value is None else encode_basestring(value)


def _as_wire(values: Sequence[Any]) -> dict[str, Any]:
    wire = dict(zip(VALUE_FIELDS, values, strict=True))
    change = wire["change"]
    wire["change"] = None if change is None else json.loads(change)  # what psycopg's JSONB loader returns
    return wire
