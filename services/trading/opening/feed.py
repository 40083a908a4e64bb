"""The opening hall's live feed: server-sent events read from ``opening_events``.

The feed lives in the database, not in a process: any replica serves any client, and a client
that reconnects (to whichever replica) sends ``Last-Event-ID`` and gets what it missed, in order.
Each connection polls the table with its cursor; between polls it holds no connection, no
transaction and no worker thread (the waits are ``anyio.sleep`` on the event loop, and each poll
borrows a thread only for its query). A stream ends when the opening is finished, or after
``TRADING_OPENING_FEED_MAX_SECONDS``, with a last ``end`` event saying which; after
``max_duration`` the client reconnects with its ``Last-Event-ID``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.trading.opening.models import Opening, OpeningEvent
from services.trading.opening.service import finished
from shared.db import BIGINT_MAX, db_now
from shared.errors import Unprocessable

# Events per poll; a client far behind gets the rest at once in the following polls.
BATCH = 200
MEDIA_TYPE = "text/event-stream"


@dataclass(frozen=True)
class FeedTiming:
    poll_seconds: float
    max_seconds: float
    heartbeat_seconds: float


def cursor_from(last_event_id: str | None) -> int:
    """The event number to continue after: ``Last-Event-ID`` as the browser sends it back."""
    if last_event_id is None or not last_event_id.strip():
        return 0
    value = last_event_id.strip()
    if not value.isdigit() or int(value) > BIGINT_MAX:
        raise Unprocessable("Last-Event-ID 须为此前收到的事件编号（非负整数）", code="invalid_last_event_id")
    return int(value)


def message(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    """One SSE message; the JSON is on one line (JSON escapes every newline inside strings)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {event}\ndata: {body}\n\n"


def poll(factory: Callable[[], Session], lot_id: uuid.UUID, after: int) -> tuple[list[tuple[int, str, Any]], bool]:
    """Events after ``after`` and whether the stream may end after them.

    "Finished" is read before the events: nothing is added to a finished opening, so when it was
    finished before the events were read, a short batch is the whole rest of the feed."""
    with factory() as session:
        opening = session.get(Opening, lot_id)
        done = opening is not None and finished(session, opening, db_now(session))
        rows = session.execute(
            select(OpeningEvent.seq, OpeningEvent.kind, OpeningEvent.data)
            .where(OpeningEvent.lot_id == lot_id, OpeningEvent.seq > after)
            .order_by(OpeningEvent.seq)
            .limit(BATCH)
        ).tuples()
        events = [(int(seq), kind, data) for seq, kind, data in rows]
        session.rollback()
    return events, done and len(events) < BATCH


async def stream(
    factory: Callable[[], Session], lot_id: uuid.UUID, after: int, timing: FeedTiming
) -> AsyncIterator[str]:
    started = anyio.current_time()
    quiet_since = started
    cursor = after
    # How long a client should wait before reconnecting after a dropped connection.
    yield f"retry: {int(timing.poll_seconds * 1000) + 1000}\n\n"
    while True:
        events, done = await anyio.to_thread.run_sync(poll, factory, lot_id, cursor)
        for seq, kind, data in events:
            yield message(kind, {"seq": seq, **data}, seq)
            cursor = seq
        now = anyio.current_time()
        if events:
            quiet_since = now
        if done:
            yield message("end", {"reason": "finished"})
            return
        if now - started >= timing.max_seconds:
            yield message("end", {"reason": "max_duration", "last_event_id": cursor})
            return
        if len(events) == BATCH:
            continue  # more are waiting: no pause
        if now - quiet_since >= timing.heartbeat_seconds:
            # A comment line: keeps proxies from closing an idle connection, ignored by clients.
            yield ": keep-alive\n\n"
            quiet_since = now
        await anyio.sleep(timing.poll_seconds)
