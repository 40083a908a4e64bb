"""Where verification keys come from.

Services fetch the portal's JWKS from a URL fixed in their settings (never one named by a token),
cache it, and refetch when a token names a ``kid`` they have not seen, so a key rotation needs no
restart. Refetches on unknown kids are rate-limited so random kids cannot make us hammer the portal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from shared.errors import DependencyUnavailable

Jwk = dict[str, Any]


class WouldBlock(Exception):
    """Raised by a key or revocation source asked to answer without waiting (``wait=False``, on an
    event loop) when the answer needs a fetch, or a lock another thread holds while it fetches: ask
    again where blocking is allowed, in a worker thread."""


def acquire_or_would_block(lock: threading.Lock, *, wait: bool) -> None:
    if not lock.acquire(blocking=wait):
        raise WouldBlock


class KeySource(Protocol):
    def get_key(self, kid: str, *, wait: bool = True) -> Jwk | None: ...


class StaticKeySource:
    """A fixed key set: the portal's own view of its keys, and unit tests."""

    def __init__(self, keys: list[Jwk]) -> None:
        self._keys = {k["kid"]: k for k in keys}

    def get_key(self, kid: str, *, wait: bool = True) -> Jwk | None:
        return self._keys.get(kid)


class CallableKeySource:
    """Keys loaded by a function (the portal reads its own table), cached for ``ttl`` seconds."""

    def __init__(self, load: Callable[[], list[Jwk]], ttl: float = 5.0) -> None:
        self._load = load
        self._ttl = ttl
        self._keys: dict[str, Jwk] = {}
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def get_key(self, kid: str, *, wait: bool = True) -> Jwk | None:
        acquire_or_would_block(self._lock, wait=wait)
        try:
            if kid not in self._keys or time.monotonic() - self._loaded_at > self._ttl:
                if not wait:
                    raise WouldBlock
                self._keys = {k["kid"]: k for k in self._load()}
                self._loaded_at = time.monotonic()
            return self._keys.get(kid)
        finally:
            self._lock.release()


class JwksKeySource:
    def __init__(
        self, url: str, *, client: httpx.Client, cache_seconds: float = 300.0, min_refetch_interval: float = 1.0
    ) -> None:
        self._url = url
        self._client = client
        self._cache_seconds = cache_seconds
        self._min_refetch_interval = min_refetch_interval
        self._keys: dict[str, Jwk] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        # Counted as an attempt even if it fails, so an outage is retried at the refetch interval
        # rather than by every request.
        self._fetched_at = time.monotonic()
        try:
            response = self._client.get(self._url)
            response.raise_for_status()
            keys = response.json().get("keys", [])
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            if not self._keys:
                raise DependencyUnavailable("无法获取令牌验证公钥（统一身份认证平台不可达）") from exc
            return  # keep verifying with the keys we have; they were valid when fetched
        self._keys = {k["kid"]: k for k in keys if isinstance(k, dict) and "kid" in k}

    def get_key(self, kid: str, *, wait: bool = True) -> Jwk | None:
        acquire_or_would_block(self._lock, wait=wait)
        try:
            age = time.monotonic() - self._fetched_at
            stale = age > self._cache_seconds
            unknown = kid not in self._keys and age > self._min_refetch_interval
            if stale or unknown:
                if not wait:
                    raise WouldBlock
                self._fetch()
            return self._keys.get(kid)
        finally:
            self._lock.release()
