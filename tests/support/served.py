"""Real apps for concurrency tests: a uvicorn server in a thread, and a migrated database of the
test's own (the apps commit, so the per-test rollback cannot hold their data)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from tools import migrate


class Served:
    """An app on a free loopback port, in a thread, for the duration of a ``with``."""

    def __init__(self, app: FastAPI) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        # No websockets: nothing here uses them, and importing them only adds deprecation noise.
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", ws="none", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@contextmanager
def migrated_database(database_server: Any, prefix: str, services: tuple[str, ...]) -> Iterator[str]:
    """A new database with ``services``' migrations applied; its URL, dropped afterwards."""
    name = f"jincheng_{prefix}_{uuid.uuid4().hex[:8]}"
    url = database_server.create(name)
    try:
        migrate.upgrade_all(url, services=services)
        yield url
    finally:
        database_server.drop(name)
