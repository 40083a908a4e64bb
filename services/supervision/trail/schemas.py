"""What the audit-trail endpoints accept (query parameters) and answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from shared.db import BIGINT_MAX
from shared.platforms import is_known_platform
from shared.schemas import RequestModel

# Stored in UTC, shown to people in China's civil time (the architecture's rule for time).
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

MAX_PAGE = 1000


def _iso_8601_only(value: Any) -> Any:
    # Pydantic would also take "1700000000" as Unix time; the API promises ISO 8601, so one form only.
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        raise ValueError("expected an ISO 8601 date-time with a time zone, e.g. 2026-11-01T09:00:00+08:00")
    return value


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError("date-time out of range") from None


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_8601_only)]
Cursor = Annotated[
    int,
    Field(
        ge=0,
        le=BIGINT_MAX,
        description="Cursor: pass the `next_after` of the previous page unchanged; 0 (the default) starts at the "
        "beginning. Treat it as opaque.",
    ),
]
Limit = Annotated[int, Field(ge=1, le=MAX_PAGE, description="Page size, 1 to 1000.")]


def _text(max_length: int, description: str) -> Any:
    return Field(None, min_length=1, max_length=max_length, description=description)


class EventFilters(RequestModel):
    """Filters shared by the list and the CSV export; all optional, combined with AND."""

    project_id: str | None = _text(64, "Events of this project.")
    lot_id: str | None = _text(64, "Events of this lot (标段).")
    organisation: str | None = _text(64, "Events done on behalf of this organisation (统一社会信用代码).")
    actor: str | None = _text(128, "Events done by this user or client.")
    action: str | None = _text(64, "e.g. `bid.submitted`.")
    platform: str | None = _text(
        32, "City supervisors may narrow to one platform; county supervisors always see their own only."
    )
    source: str | None = _text(32, "The emitting service: `portal`, `trading`, `expert_pool`, `supervision`.")
    object_type: str | None = _text(64, "With `object_id`: events about one object, e.g. `bid`.")
    object_id: str | None = _text(128, "With `object_type`.")
    since: Instant | None = Field(None, description="occurred_at >= since; ISO 8601 with a time zone.")
    until: Instant | None = Field(None, description="occurred_at < until; ISO 8601 with a time zone.")

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str | None) -> str | None:
        if value is not None and not is_known_platform(value):
            raise ValueError("unknown platform")
        return value

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)

    @field_validator("until")
    @classmethod
    def _after_since(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if value is not None and since is not None and since >= value:
            raise ValueError("until must be later than since")
        return value

    @model_validator(mode="after")
    def _whole_object(self) -> EventFilters:
        # Object ids are unique only within their type, and (object_type, object_id, id) is the index.
        if (self.object_type is None) != (self.object_id is None):
            raise ValueError("object_type and object_id go together")
        return self


class EventQuery(EventFilters):
    after: Cursor = 0
    limit: Limit = 100


class ExportQuery(EventFilters):
    after: Cursor = 0


class TimelineQuery(RequestModel):
    after: Cursor = 0
    limit: Limit = 100


class EventLinks(BaseModel):
    inclusion_proof: str = Field(
        description="Path, relative to this service's base URL, of the event's inclusion proof in the ledger."
    )


class EventOut(BaseModel):
    id: int
    event_id: uuid.UUID
    source: str
    delivery_seq: int
    occurred_at: datetime
    received_at: datetime
    actor: str | None
    actor_role: str
    organisation: str | None
    platform: str | None
    action: str
    object_type: str
    object_id: str
    project_id: str | None
    lot_id: str | None
    change: dict[str, Any]
    digest: str
    client_ip: str | None
    user_agent: str | None
    device_fingerprint: str | None
    request_id: str | None
    links: EventLinks


class EventPage(BaseModel):
    events: list[EventOut]
    next_after: int | None = Field(description="Cursor of the next page; null when there is none (yet).")


class Who(BaseModel):
    actor: str | None
    role: str
    organisation: str | None


class What(BaseModel):
    action: str
    object_type: str
    object_id: str
    lot_id: str | None


class When(BaseModel):
    occurred_at: datetime = Field(description="UTC.")
    occurred_at_local: datetime = Field(description="The same instant in Asia/Shanghai time (+08:00).")


class Where(BaseModel):
    client_ip: str | None
    device_fingerprint: str | None
    user_agent: str | None


class TimelineLinks(EventLinks):
    event: str = Field(description="Path of the full event (with its change) relative to this service.")


class TimelineEntry(BaseModel):
    id: int
    event_id: uuid.UUID
    who: Who
    what: What
    when: When
    where: Where
    request_id: str | None
    source: str
    platform: str | None
    links: TimelineLinks


class Timeline(BaseModel):
    project_id: str
    entries: list[TimelineEntry]
    next_after: int | None = Field(description="Cursor of the next page; null when there is none (yet).")
