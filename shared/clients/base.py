"""The transport every typed client shares: timeouts, request-id propagation, careful retries.

Only idempotent calls are retried (GET/HEAD/PUT/DELETE, or a POST the callee de-duplicates and the
caller marks ``idempotent=True``); retrying a plain POST could do the thing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from shared.errors import ApiError, DependencyUnavailable
from shared.request_context import REQUEST_ID_HEADER, current_request_id, new_request_id

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})


class ServiceCallError(ApiError):
    """The callee answered with an error body; its code and status are kept."""


class ServiceClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        token_provider: Callable[[], str] | None = None,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = "jincheng-service",
    ) -> None:
        self.http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            transport=transport,
            headers={"User-Agent": user_agent},
        )
        self.retries = retries
        self.token_provider = token_provider

    def close(self) -> None:
        self.http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        authenticated: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        retryable = method.upper() in IDEMPOTENT_METHODS if idempotent is None else idempotent
        all_headers = {REQUEST_ID_HEADER: current_request_id() or new_request_id(), **(headers or {})}
        if authenticated and self.token_provider is not None:
            all_headers["Authorization"] = f"Bearer {self.token_provider()}"
        attempts = self.retries + 1 if retryable else 1
        for attempt in range(attempts):
            try:
                response = self.http.request(method, path, headers=all_headers, **kwargs)
            except httpx.TransportError:
                if attempt + 1 >= attempts:
                    raise
            else:
                if response.status_code not in RETRY_STATUSES or attempt + 1 >= attempts:
                    return response
            time.sleep(min(0.2 * 2**attempt, 2.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def call_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call and decode; an error answer becomes :class:`ServiceCallError`, no answer a 503."""
        try:
            response = self.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise DependencyUnavailable(f"依赖服务不可达: {self.http.base_url}") from exc
        if response.is_success:
            return response.json() if response.content else None
        try:
            err = response.json()["error"]
            raise ServiceCallError(
                err.get("message", ""),
                code=err.get("code") or "upstream_error",
                status_code=response.status_code,
                details=err.get("details"),
            )
        except (ValueError, KeyError, TypeError):
            raise ServiceCallError(
                f"unexpected answer {response.status_code}", code="upstream_error", status_code=502
            ) from None
