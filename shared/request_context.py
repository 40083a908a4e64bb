"""Request id and client facts, carried in a context variable so logs, audit events and outgoing
calls of the same request share them without threading them through every function."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
DEVICE_FINGERPRINT_HEADER = "X-Device-Fingerprint"
# A caller-supplied id is echoed only if it is short and plain, so it cannot inject into logs.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    client_ip: str | None = None
    user_agent: str | None = None
    device_fingerprint: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)


def current() -> RequestContext | None:
    return _current.get()


def current_request_id() -> str | None:
    ctx = _current.get()
    return ctx.request_id if ctx else None


def set_context(ctx: RequestContext | None) -> object:
    return _current.set(ctx)


def reset_context(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Pure ASGI middleware (no response buffering, so streamed uploads stay streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        incoming = headers.get(REQUEST_ID_HEADER.lower(), "")
        request_id = incoming if _SAFE_ID.match(incoming) else new_request_id()
        client = scope.get("client")
        fingerprint = headers.get(DEVICE_FINGERPRINT_HEADER.lower())
        ctx = RequestContext(
            request_id=request_id,
            client_ip=client[0] if client else None,
            user_agent=(headers.get("user-agent") or None),
            device_fingerprint=fingerprint[:256] if fingerprint else None,
        )
        token = _current.set(ctx)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
