"""Valid wire audit events (as a service's relay sends them), for the ingestion and query tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.audit.outbox import change_digest

# Event ``seq`` of any source occurred ``seq`` minutes after this instant, unless overridden.
BASE_TIME = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def make_event(source: str = "trading", seq: int = 1, **overrides: Any) -> dict[str, Any]:
    """One valid event; its digest is over ``change`` (given or default) unless ``digest`` is given."""
    change = overrides.pop("change", {"name": "开标大厅", "capacity": 80})
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "source": source,
        "delivery_seq": seq,
        "occurred_at": (BASE_TIME + timedelta(minutes=seq)).isoformat(),
        "actor": "op-1",
        "actor_role": "operator",
        "organisation": None,
        "platform": "jincheng",
        "action": "venue.created",
        "object_type": "venue",
        "object_id": f"obj-{seq}",
        "project_id": None,
        "lot_id": None,
        "change": change,
        "digest": change_digest(change),
        "client_ip": "10.0.0.7",
        "user_agent": "testclient",
        "device_fingerprint": None,
        "request_id": f"req-{seq}",
    }
    event.update(overrides)
    return event
