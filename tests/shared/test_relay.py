"""The outbox relay against real PostgreSQL: order by writing transaction, at least once, retries.

The relay works on committed data in its own transactions, so these tests use a database of their
own instead of the rolled-back per-test transaction.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from services.trading.db import OutboxEvent
from shared.audit.outbox import EVENT_COLUMNS, change_digest, event_param, event_values, insert_event_sql, record_event
from shared.audit.relay import OutboxRelay
from tools import migrate


@pytest.fixture(scope="module")
def relay_engine(database_server):
    name = f"jincheng_relay_{uuid.uuid4().hex[:8]}"
    url = database_server.create(name)
    migrate.upgrade_all(url, services=("trading",))
    engine = create_engine(url)
    yield engine
    engine.dispose()
    database_server.drop(name)


@pytest.fixture
def outbox(relay_engine):
    with relay_engine.begin() as conn:
        conn.execute(text("delete from trading.audit_outbox"))
    return relay_engine


def _write(engine, action: str) -> None:
    with Session(engine) as session, session.begin():
        record_event(
            session,
            OutboxEvent,
            principal=None,
            action=action,
            object_type="t",
            object_id=action,
            change={"a": action},
            platform="jincheng",
            actor_role="operator",
        )


class Recorder:
    def __init__(self, fail_times: int = 0) -> None:
        self.batches: list[list[dict]] = []
        self.fail_times = fail_times

    def __call__(self, events: list[dict]) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise httpx.ConnectError("supervision is down")
        self.batches.append(events)

    @property
    def events(self) -> list[dict]:
        return [e for batch in self.batches for e in batch]


def _relay(engine, post) -> OutboxRelay:
    return OutboxRelay(engine=engine, schema="trading", source="trading", post_batch=post, interval=0.05)


def test_delivers_in_order_with_contiguous_sequence(outbox):
    for i in range(5):
        _write(outbox, f"a{i}")
    sink = Recorder()
    assert _relay(outbox, sink).deliver_once() == 5
    assert [e["action"] for e in sink.events] == [f"a{i}" for i in range(5)]
    assert [e["delivery_seq"] for e in sink.events] == [1, 2, 3, 4, 5]
    assert all(e["source"] == "trading" for e in sink.events)
    with outbox.connect() as conn:
        assert conn.execute(text("select count(*) from trading.audit_outbox where delivered_at is null")).scalar() == 0
    assert _relay(outbox, sink).deliver_once() == 0


def test_a_late_committing_transaction_is_never_overtaken(outbox):
    """A transaction that took its row earlier but commits later must still come first."""
    slow = Session(outbox)
    slow.begin()
    record_event(
        slow,
        OutboxEvent,
        principal=None,
        action="slow",
        object_type="t",
        object_id="slow",
        change={},
        platform="jincheng",
        actor_role="operator",
    )
    slow.flush()  # the row (and its xid) exists, uncommitted
    _write(outbox, "fast")  # a later transaction commits first
    sink = Recorder()
    relay = _relay(outbox, sink)
    assert relay.deliver_once() == 0  # "fast" must wait: "slow" is older and still running
    slow.commit()
    slow.close()
    assert relay.deliver_once() == 2
    assert [e["action"] for e in sink.events] == ["slow", "fast"]


def test_failed_delivery_is_retried_with_the_same_sequence(outbox):
    _write(outbox, "x1")
    _write(outbox, "x2")
    sink = Recorder(fail_times=1)
    relay = _relay(outbox, sink)
    with pytest.raises(httpx.ConnectError):
        relay.deliver_once()
    with outbox.connect() as conn:
        row = conn.execute(
            text("select attempts, last_error, delivery_seq from trading.audit_outbox where action = 'x1'")
        ).one()
    assert row.attempts == 1 and "down" in row.last_error and row.delivery_seq == 1
    _write(outbox, "x3")
    assert relay.deliver_once() == 3
    assert [(e["action"], e["delivery_seq"]) for e in sink.events] == [("x1", 1), ("x2", 2), ("x3", 3)]


def test_background_relay_delivers_and_only_one_holds_the_lock(outbox):
    first, second = Recorder(), Recorder()
    relays = [_relay(outbox, first), _relay(outbox, second)]
    for relay in relays:
        relay.start()
    try:
        for i in range(20):
            _write(outbox, f"b{i}")
            relays[i % 2].wake()
        deadline = time.monotonic() + 10
        while len(first.events) + len(second.events) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stoppers = [threading.Thread(target=r.stop) for r in relays]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
    delivered = first.events + second.events
    assert sorted(e["delivery_seq"] for e in delivered) == list(range(1, 21))
    assert len({e["event_id"] for e in delivered}) == 20
    assert not (first.events and second.events), "two relays delivered for the same service at once"


def test_a_failure_to_get_a_token_is_recorded_too(outbox):
    from shared.errors import DependencyUnavailable

    def no_token(_events: list[dict]) -> None:
        raise DependencyUnavailable("portal unreachable")

    _write(outbox, "t1")
    with pytest.raises(DependencyUnavailable):
        _relay(outbox, no_token).deliver_once()
    with outbox.connect() as conn:
        row = conn.execute(text("select attempts, last_error from trading.audit_outbox where action = 't1'")).one()
    assert row.attempts == 1 and "portal unreachable" in row.last_error


def test_backoff_is_not_cut_short_by_busy_requests(outbox):
    attempts: list[float] = []

    def down(_events: list[dict]) -> None:
        attempts.append(time.monotonic())
        raise httpx.ConnectError("supervision is down")

    _write(outbox, "w1")
    relay = OutboxRelay(
        engine=outbox, schema="trading", source="trading", post_batch=down, interval=0.2, max_backoff=5.0
    )
    relay.start()
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            relay.wake()  # what every committed request does
            time.sleep(0.01)
    finally:
        relay.stop()
    # Backing off 0.2, 0.4, 0.8 s: at most four attempts in a second, not one per wake (~100).
    assert 1 <= len(attempts) <= 4, attempts


def test_an_event_written_as_sql_is_the_row_record_event_writes(outbox):
    """The bid submission writes its event inside its own statement (insert_event_sql); the relay
    and the ledger must not be able to tell it from one added through the unit of work."""
    event: dict[str, Any] = {
        "principal": None,
        "action": "a.b",
        "object_type": "t",
        "object_id": "x",
        "change": {"b": [1, "二"], "a": {"z": None}},
        "platform": "gaoping",
        "actor_role": "operator",
        "lot_id": "lot",
    }
    values = event_values(**event)
    assert tuple(values) == EVENT_COLUMNS
    with outbox.begin() as conn:
        conn.execute(text(insert_event_sql("trading.audit_outbox", "event")), event_param("event", values))
    with Session(outbox) as session, session.begin():
        record_event(session, OutboxEvent, **event)
    compared = [c for c in EVENT_COLUMNS if c != "event_id"]
    query = f"select {', '.join(compared)}, xid, occurred_at from trading.audit_outbox order by id"  # noqa: S608
    with outbox.connect() as conn:
        as_sql, as_orm = conn.execute(text(query)).mappings().all()
    assert {c: as_sql[c] for c in compared} == {c: as_orm[c] for c in compared}
    assert as_sql["change"] == event["change"] and as_sql["digest"] == change_digest(event["change"])
    assert as_sql["xid"] > 0 and as_sql["occurred_at"] is not None  # the server's defaults, as for the ORM
