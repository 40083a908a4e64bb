"""The bid threads (submission._in_thread): how many run at once, in what order, with what context,
and that a cancelled request still waits for its step to end (unit tests, no database)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from types import SimpleNamespace

import pytest
from fastapi import FastAPI

from services.trading.bids import state
from services.trading.bids.submission import _in_thread

probe: contextvars.ContextVar[str] = contextvars.ContextVar("probe", default="unset")


def _app(slots: int) -> FastAPI:
    app = FastAPI()
    app.state.settings = SimpleNamespace(bid_db_slots=slots)
    app.state.bid_threads = None
    return app


def test_at_most_the_slots_run_at_once_in_arrival_order():
    app = _app(2)
    running, most, started = 0, 0, []
    lock = threading.Lock()

    def step(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            started.append(n)
        time.sleep(0.02)
        with lock:
            running -= 1
        return n

    async def main() -> list[int]:
        return await asyncio.gather(*(_in_thread(app, step, n) for n in range(8)))

    try:
        assert asyncio.run(main()) == list(range(8))
    finally:
        state.stop(app)
    assert most == 2
    assert sorted(started[:2]) == [0, 1]  # the first two at once
    assert started[2:] == list(range(2, 8))  # the rest as slots free up, in arrival order


def test_the_request_context_goes_along():
    app = _app(1)

    async def main() -> str:
        probe.set("request-42")
        return await _in_thread(app, probe.get)

    try:
        assert asyncio.run(main()) == "request-42"
    finally:
        state.stop(app)


def test_a_cancelled_request_waits_for_its_step_to_end():
    app = _app(1)
    ended = threading.Event()

    def step() -> None:
        time.sleep(0.2)
        ended.set()

    async def main() -> bool:
        task = asyncio.create_task(_in_thread(app, step))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0)
        task.cancel()  # cancelled again while it waits: still waits
        with pytest.raises(asyncio.CancelledError):
            await task
        return ended.is_set()

    try:
        assert asyncio.run(main()) is True  # the cancellation came only after the step had ended
    finally:
        state.stop(app)


def test_the_threads_stop_with_the_app_and_come_back_if_it_starts_again():
    app = _app(1)
    first = state.bid_threads(app)
    assert state.bid_threads(app) is first
    state.stop(app)
    with pytest.raises(RuntimeError):
        first.submit(lambda: None)  # shut down
    again = state.bid_threads(app)
    assert again is not first and again.submit(lambda: 7).result() == 7
    state.stop(app)
