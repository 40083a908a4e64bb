"""Small helpers the end-to-end tests share."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from shared.credit_code import make_credit_code

T = TypeVar("T")

POLL_TIMEOUT = 20.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_request_id() -> str:
    return f"e2e-{uuid.uuid4().hex}"


def new_credit_code() -> str:
    # Registration authority 9 (companies), category 1, Jincheng's region code, then a random sequence.
    return make_credit_code("91140500MA" + "".join(secrets.choice("0123456789") for _ in range(7)))


def wait_for(check: Callable[[], T | None], *, what: str, timeout: float = POLL_TIMEOUT, interval: float = 0.1) -> T:
    """Call ``check`` until it returns something other than None, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def all_audit_events(
    http: httpx.Client, supervision_url: str, headers: dict[str, str], *, page_size: int = 10
) -> list[dict[str, Any]]:
    """Every stored event supervision shows the caller, page by page through the ``after`` cursor."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        response = http.get(
            f"{supervision_url}/audit/events", params={"after": after, "limit": page_size}, headers=headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        events.extend(page["events"])
        if page["next_after"] is None:
            return events
        assert page["next_after"] == page["events"][-1]["id"]
        after = page["next_after"]
