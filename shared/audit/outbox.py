"""The outbox table each service creates from :class:`OutboxMixin`, and :func:`record_event`."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from shared.auth.principal import Principal
from shared.json_rows import insert_from_json, json_row
from shared.request_context import current


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON (sorted keys, no spaces, UTF-8) so a digest is reproducible anywhere."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def change_digest(change: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(change)).hexdigest()


class OutboxMixin:
    """Columns of ``<schema>.audit_outbox``. ``id`` orders events within one transaction; ``xid``
    (the writing transaction) orders transactions, see :mod:`shared.audit.relay`."""

    __tablename__ = "audit_outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True, default=uuid.uuid4)
    xid: Mapped[int] = mapped_column(BigInteger, server_default=text("(pg_current_xact_id()::text)::bigint"))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
    actor: Mapped[str | None] = mapped_column(String(128))
    actor_role: Mapped[str] = mapped_column(String(32))
    organisation: Mapped[str | None] = mapped_column(String(64))
    platform: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(128))
    project_id: Mapped[str | None] = mapped_column(String(64))
    lot_id: Mapped[str | None] = mapped_column(String(64))
    change: Mapped[dict[str, Any]] = mapped_column(JSONB)
    digest: Mapped[str] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    device_fingerprint: Mapped[str | None] = mapped_column(String(256))
    request_id: Mapped[str | None] = mapped_column(String(128))
    delivery_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        # The relay's scan touches only undelivered rows; this index keeps that cheap as history grows.
        return (Index("ix_audit_outbox_pending", "xid", "id", postgresql_where=text("delivered_at IS NULL")),)


# What :func:`event_values` sets, in the order :func:`insert_event_sql` writes it.
EVENT_COLUMNS = (
    "event_id",
    "actor",
    "actor_role",
    "organisation",
    "platform",
    "action",
    "object_type",
    "object_id",
    "project_id",
    "lot_id",
    "change",
    "digest",
    "client_ip",
    "user_agent",
    "device_fingerprint",
    "request_id",
)


class Event(TypedDict):
    """What a caller says of an audit event (:func:`record_event`, :func:`event_values`).

    ``change`` is what changed, without secrets; its SHA-256 over canonical JSON is the digest the
    ledger keeps. Actor defaults to the principal; pass ``actor``/``actor_role`` for anonymous steps
    such as a failed login."""

    principal: Principal | None
    action: str
    object_type: str
    object_id: str
    change: dict[str, Any]
    platform: str | None
    organisation: NotRequired[str | None]
    project_id: NotRequired[str | None]
    lot_id: NotRequired[str | None]
    actor: NotRequired[str | None]
    actor_role: NotRequired[str | None]


def event_values(**event: Unpack[Event]) -> dict[str, Any]:
    """The columns of one audit event that the writer sets (the rest are server defaults)."""
    ctx = current()
    principal, change = event["principal"], event["change"]
    actor, organisation = event.get("actor"), event.get("organisation")
    return {
        "event_id": uuid.uuid4(),
        "actor": actor if actor is not None else (principal.subject if principal else None),
        "actor_role": event.get("actor_role") or (principal.primary_role if principal else "anonymous"),
        "organisation": organisation if organisation is not None else (principal.org if principal else None),
        "platform": event["platform"],
        "action": event["action"],
        "object_type": event["object_type"],
        "object_id": str(event["object_id"]),
        "project_id": event.get("project_id"),
        "lot_id": event.get("lot_id"),
        "change": change,
        "digest": change_digest(change),
        "client_ip": ctx.client_ip if ctx else None,
        "user_agent": ctx.user_agent[:512] if ctx and ctx.user_agent else None,
        "device_fingerprint": ctx.device_fingerprint if ctx else None,
        "request_id": ctx.request_id if ctx else None,
    }


def record_event(session: Session, model: Callable[..., OutboxMixin], **event: Unpack[Event]) -> OutboxMixin:
    """Add an audit event to the caller's transaction: it commits or rolls back with the change."""
    row = model(**event_values(**event))
    session.add(row)
    return row


def insert_event_sql(table: str, param: str) -> str:
    """The ``insert into <table>`` of one event's :func:`event_values`, bound as the one JSON
    parameter ``param`` (:func:`event_param`), for a path that writes the event inside a larger
    statement instead of through the unit of work (the bid submission: one round trip and no flush)."""
    return insert_from_json(table, EVENT_COLUMNS, param)


def event_param(param: str, values: dict[str, Any]) -> dict[str, str]:
    """The parameter of :func:`insert_event_sql` for one event's :func:`event_values`."""
    return {param: json_row(values)}
