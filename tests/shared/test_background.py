"""BackgroundLoop: the thread each background loop runs in (unit tests, no database)."""

from __future__ import annotations

import threading

import pytest

from shared.background import BackgroundLoop


class Counting(BackgroundLoop):
    def __init__(self) -> None:
        super().__init__("counting")
        self.rounds = 0
        self.round_done = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.rounds += 1
            self.round_done.set()
            self._sleep(60)


def test_a_loop_without_its_run_cannot_be_made():
    with pytest.raises(TypeError, match="_run"):
        BackgroundLoop("nothing")  # type: ignore[abstract]


def test_wake_cuts_the_idle_wait_short_and_stop_ends_the_thread():
    loop = Counting()
    loop.start()
    try:
        assert loop.round_done.wait(5) and loop.running
        loop.round_done.clear()
        loop.wake()  # without it the next round would come in 60 s
        assert loop.round_done.wait(5)
        assert loop.rounds >= 2
    finally:
        loop.stop()
    assert not loop.running
