"""Trail fixtures: events stored straight into the test transaction, as ingestion would store them."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from services.supervision.ingest.models import StoredEvent
from tests.supervision.events import make_event


def _row(source: str, seq: int, **overrides: Any) -> dict[str, Any]:
    wire = make_event(source, seq, **overrides)
    wire["event_id"] = uuid.UUID(wire["event_id"])
    if isinstance(wire["occurred_at"], str):
        wire["occurred_at"] = datetime.fromisoformat(wire["occurred_at"])
    return wire


@pytest.fixture
def store(session: Session) -> Callable[..., StoredEvent]:
    """``store(platform="gaoping", ...)``: one stored event (fields as ``make_event`` takes them).

    Each call takes the next delivery sequence number, so calls may mix sources freely; the row's
    ``id`` follows the order of the calls, as arrival order does.
    """
    seqs = itertools.count(1)

    def add(source: str = "trading", **overrides: Any) -> StoredEvent:
        row = StoredEvent(**_row(source, next(seqs), **overrides))
        session.add(row)
        session.flush()
        return row

    return add


@pytest.fixture
def store_many(session: Session) -> Callable[..., None]:
    """``store_many(n, **fields)``: n events in one INSERT (for exports and pages of thousands)."""
    seqs = itertools.count(1_000_000)

    def add(n: int, **overrides: Any) -> None:
        session.execute(insert(StoredEvent), [_row("portal", next(seqs), **overrides) for _ in range(n)])
        session.flush()

    return add
