"""Disabled clients and users, so their still-unexpired tokens stop working within seconds.

Tokens are verified offline, so disabling a client at the portal alone would leave its tokens valid
until they expire. The portal publishes the subjects it disabled and when; services cache that list
briefly. If the list cannot be refreshed for too long we refuse tokens rather than assume nobody was
disabled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import httpx

from shared.auth.keys import WouldBlock, acquire_or_would_block
from shared.errors import DependencyUnavailable

# subject -> epoch seconds at which it was disabled; tokens issued at or before that are refused.
Revoked = dict[str, int]


class RevocationSource(Protocol):
    def revoked_at(self, subject: str, *, wait: bool = True) -> int | None: ...


class StaticRevocations:
    def __init__(self, revoked: Revoked | None = None) -> None:
        self.revoked = dict(revoked or {})

    def revoked_at(self, subject: str, *, wait: bool = True) -> int | None:
        return self.revoked.get(subject)


class CallableRevocations:
    """The portal's own view, read from its tables (cached briefly)."""

    def __init__(self, load: Callable[[], Revoked], ttl: float = 1.0) -> None:
        self._load = load
        self._ttl = ttl
        self._revoked: Revoked = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def revoked_at(self, subject: str, *, wait: bool = True) -> int | None:
        acquire_or_would_block(self._lock, wait=wait)
        try:
            if time.monotonic() - self._loaded_at > self._ttl:
                if not wait:
                    raise WouldBlock
                self._revoked = self._load()
                self._loaded_at = time.monotonic()
            return self._revoked.get(subject)
        finally:
            self._lock.release()


class HttpRevocations:
    def __init__(
        self,
        url: str,
        *,
        client: httpx.Client,
        cache_seconds: float = 5.0,
        max_stale_seconds: float = 300.0,
        retry_seconds: float = 1.0,
    ) -> None:
        self._url = url
        self._client = client
        self._cache_seconds = cache_seconds
        self._max_stale = max_stale_seconds
        # While the portal is down, try again at most this often instead of on every request.
        self._retry_seconds = retry_seconds
        self._revoked: Revoked = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = threading.Lock()

    def revoked_at(self, subject: str, *, wait: bool = True) -> int | None:
        acquire_or_would_block(self._lock, wait=wait)
        try:
            now = time.monotonic()
            if now - self._fetched_at > self._cache_seconds and now - self._attempted_at >= self._retry_seconds:
                if not wait:
                    raise WouldBlock
                self._attempted_at = now
                try:
                    response = self._client.get(self._url)
                    response.raise_for_status()
                    self._revoked = {r["sub"]: int(r["revoked_at"]) for r in response.json()["revoked"]}
                    self._fetched_at = now
                except (httpx.HTTPError, KeyError, ValueError, TypeError):
                    pass
            if self._fetched_at != now and now - self._fetched_at > self._max_stale:
                raise DependencyUnavailable("无法确认令牌是否已被吊销（统一身份认证平台不可达）")
            return self._revoked.get(subject)
        finally:
            self._lock.release()
