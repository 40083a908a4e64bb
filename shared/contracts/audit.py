"""The audit event as it travels from a service's outbox to supervision."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from shared.schemas import RequestModel


class AuditEventIn(RequestModel):
    event_id: UUID
    source: str = Field(pattern=r"^(portal|trading|expert_pool|supervision)$")
    # Contiguous per source, stamped by the source's relay in delivery order: a gap means loss.
    delivery_seq: int = Field(ge=1)
    occurred_at: datetime
    actor: str | None = Field(default=None, max_length=128)
    actor_role: str = Field(max_length=32)
    organisation: str | None = Field(default=None, max_length=64)
    platform: str | None = Field(default=None, max_length=32)
    action: str = Field(max_length=64)
    object_type: str = Field(max_length=64)
    object_id: str = Field(max_length=128)
    project_id: str | None = Field(default=None, max_length=64)
    lot_id: str | None = Field(default=None, max_length=64)
    change: dict[str, Any] = Field(default_factory=dict)
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    client_ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=512)
    device_fingerprint: str | None = Field(default=None, max_length=256)
    request_id: str | None = Field(default=None, max_length=128)


class IngestBatch(RequestModel):
    events: list[AuditEventIn] = Field(min_length=1, max_length=1000)


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    last_delivery_seq: int
