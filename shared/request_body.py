"""Reading a request's body from a worker thread, and the error of an upload cut short.

A ``def`` endpoint (documents, CSV imports) runs in a worker thread, while the body arrives on the
event loop: :func:`request_chunks` pulls each chunk across, so nothing holds the whole body."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator

import anyio.from_thread
from starlette.requests import ClientDisconnect, Request

from shared.errors import ApiError


def upload_incomplete() -> ApiError:
    return ApiError("上传未完成：客户端断开了连接", code="upload_incomplete")


async def _next_chunk(stream: AsyncIterator[bytes]) -> bytes | None:
    try:
        return await anext(stream)
    except StopAsyncIteration:
        return None


def request_chunks(request: Request) -> Generator[bytes, None, None]:
    """The request body, chunk by chunk, for code running in a worker thread of the request;
    ``upload_incomplete`` when the client goes away."""
    stream = request.stream()
    try:
        while (chunk := anyio.from_thread.run(_next_chunk, stream)) is not None:
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise upload_incomplete() from None
    finally:
        # Stopped early (too large, refused): close the body stream on its own loop, not in GC.
        anyio.from_thread.run(stream.aclose)
