"""The opening hall's live feed: server-sent events from the ``opening_events`` table, numbered per
lot, resumable with ``Last-Event-ID``, ending when the opening is over or the stream's time is up;
read with the TestClient's streaming API."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker


def parse(lines: list[str]) -> list[dict[str, Any]]:
    """SSE messages as dicts: ``id``, ``event``, ``data`` (decoded), or ``comment`` / ``retry``."""
    messages: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in [*lines, ""]:
        if not line:
            if current:
                messages.append(current)
            current = {}
        elif line.startswith(":"):
            current["comment"] = line[1:].strip()
        else:
            field, _, value = line.partition(": ")
            current[field] = json.loads(value) if field == "data" else value
    return messages


def read(hall, headers=None, **extra_headers: str) -> tuple[Any, list[dict[str, Any]]]:
    with hall.client.stream("GET", hall.url("/feed"), headers={**(headers or hall.host), **extra_headers}) as response:
        lines = list(response.iter_lines())
    return response, parse(lines)


def events(messages):
    return [m for m in messages if "event" in m and m["event"] != "end"]


@pytest.fixture
def quick(hall, monkeypatch):
    """Short polls and a short stream, so an unfinished opening's stream ends within the test."""
    settings = hall.client.app.state.settings
    monkeypatch.setattr(settings, "opening_feed_poll_seconds", 0.05)
    monkeypatch.setattr(settings, "opening_feed_max_seconds", 1.0)
    monkeypatch.setattr(settings, "opening_feed_heartbeat_seconds", 0.1)
    return settings


def test_a_finished_opening_streams_everything_then_ends(hall):
    hall.opened("a", "b", "c")
    hall.close()
    hall.publish()
    raised = hall.client.post(hall.url("/objections"), json={"body": "请复核"}, headers=hall.bidder("a")).json()
    hall.client.post(hall.url(f"/objections/{raised['id']}/answer"), json={"answer": "已复核"}, headers=hall.host)
    hall.end_confirmation()

    response, messages = read(hall, hall.bidder("b"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    assert "retry" in messages[0]  # how long to wait before reconnecting
    feed = events(messages)
    assert [int(m["id"]) for m in feed] == list(range(1, len(feed) + 1))
    assert [m["data"]["seq"] for m in feed] == [int(m["id"]) for m in feed]
    kinds = [m["event"] for m in feed]
    assert kinds == [
        "opening.due",
        "opening.started",
        *["bidder.signed_in"] * 3,
        *["bid.decrypted"] * 3,
        "decryption.closed",
        "record.published",
        "objection.raised",
        "objection.answered",
    ]
    assert messages[-1] == {"event": "end", "data": {"reason": "finished"}}
    # Decryptions say who and when; the prices come with the record, for everyone at once.
    decrypted = [m["data"] for m in feed if m["event"] == "bid.decrypted"]
    assert all(set(d) == {"seq", "bid_id", "bidder_org", "bidder_credit_code", "decrypted_at"} for d in decrypted)
    record = next(m["data"] for m in feed if m["event"] == "record.published")
    assert record["sha256"] == hall.state()["record_sha256"] and len(record["record"]["bids"]) == 3
    # No key, no IP address in the hall.
    text = json.dumps(messages, ensure_ascii=False)
    assert "testclient" not in text
    assert not any(hall.sealed[n].release()["content_key"] in text for n in "abc")

    # Reconnecting with Last-Event-ID continues after that event.
    _, resumed = read(hall, hall.bidder("c"), **{"Last-Event-ID": "9"})
    assert [m["event"] for m in events(resumed)] == kinds[9:]
    assert [int(m["id"]) for m in events(resumed)] == list(range(10, len(feed) + 1))


def test_a_failed_lot_streams_its_failure_and_ends(hall):
    hall.bid("a", "b")
    hall.pass_deadline()
    _, messages = read(hall, hall.bidder("a"))
    assert [(m["event"], m["data"]) for m in messages if "event" in m] == [
        ("opening.failed", {"seq": 1, "failure_reason": "fewer_than_three_bids", "valid_bid_count": 2}),
        ("end", {"reason": "finished"}),
    ]


def test_an_unfinished_opening_streams_until_the_time_is_up(hall, quick):
    hall.bid("a", "b", "c")
    hall.pass_deadline()
    hall.start()
    _, messages = read(hall)
    assert [m["event"] for m in events(messages)] == ["opening.due", "opening.started"]
    assert messages[-1] == {"event": "end", "data": {"reason": "max_duration", "last_event_id": 2}}
    # A quiet stream sends keep-alive comments, which clients ignore.
    assert any(m.get("comment") == "keep-alive" for m in messages)


def test_last_event_id_must_be_an_event_number(hall, expect_error):
    hall.bid("a", "b", "c")
    hall.pass_deadline()
    for bad in ("abc", "-1", "1.5", "99999999999999999999"):
        response = hall.client.get(hall.url("/feed"), headers={**hall.host, "Last-Event-ID": bad})
        expect_error(response, 422, "invalid_last_event_id")


class OneSessionAtATime:
    """The tests run on one database connection; once the feed polls while other requests are
    served, their sessions must take turns on it (in production each has its own connection)."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.lock = threading.Lock()

    def __call__(self) -> Session:
        self.lock.acquire()
        session = self.factory()
        close = session.close
        released = False

        def close_and_release() -> None:
            nonlocal released
            try:
                close()
            finally:
                if not released:
                    released = True
                    self.lock.release()

        session.close = close_and_release  # type: ignore[method-assign]
        return session


def test_events_arrive_while_the_stream_is_open(hall, monkeypatch):
    settings = hall.client.app.state.settings
    monkeypatch.setattr(settings, "opening_feed_poll_seconds", 0.05)
    monkeypatch.setattr(settings, "opening_feed_max_seconds", 20.0)
    app_state = hall.client.app.state
    monkeypatch.setattr(app_state, "session_factory", OneSessionAtATime(app_state.session_factory))
    hall.bid("a", "b", "c")
    hall.pass_deadline()
    hall.start()

    seen: list[str] = []
    with hall.client.stream("GET", hall.url("/feed"), headers=hall.bidder("a")) as response:
        lines = response.iter_lines()
        for line in lines:
            seen.append(line)
            if line == "event: opening.started":
                break
        # Written by other requests after the stream began: delivered by its next polls.
        hall.sign_in("b")
        hall.client.post(hall.url("/objections"), json={"body": "现场异议"}, headers=hall.bidder("c"))
        for line in lines:
            seen.append(line)
            if line == "event: objection.raised":
                break
    kinds = [m["event"] for m in parse(seen) if "event" in m]
    assert kinds == ["opening.due", "opening.started", "bidder.signed_in", "objection.raised"]
    assert [int(m["id"]) for m in parse(seen) if "id" in m] == [1, 2, 3, 4]


def test_the_feed_is_for_the_hall_only(hall, expect_error):
    hall.bid("a", "b", "c")
    expect_error(hall.client.get(hall.url("/feed"), headers=hall.bidder("a")), 409, "opening_not_due")
    hall.pass_deadline()
    expect_error(hall.client.get(hall.url("/feed"), headers=hall.bidder("stranger")), 403, "not_a_participant")
