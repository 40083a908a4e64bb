"""Upload bodies go from the socket to the blob store chunk by chunk, never whole into memory.

Endpoints stay synchronous (the service's database style); FastAPI runs them in a worker thread,
from which :func:`shared.request_body.request_chunks` pulls each chunk of ``request.stream()`` off the event loop with
``anyio.from_thread``. Nothing in the app reads the body first: upload endpoints declare no body
parameter, and the middleware is pure ASGI.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass

from fastapi import Request

from services.trading.settings import TradingSettings
from shared.errors import Unprocessable
from shared.request_body import request_chunks
from shared.storage import BlobStore, LocalBlobStore, PayloadTooLarge

DEFAULT_CONTENT_TYPE = "application/octet-stream"
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_FILENAME_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    # A generator: whoever consumes it closes it, in the request's worker thread.
    chunks: Generator[bytes, None, None]
    max_bytes: int


def blob_store(request: Request) -> BlobStore:
    """The app's store: ``app.state.blob_store`` if a deployment (or a test) set one, else the local
    disk store under ``TRADING_STORAGE_DIR``."""
    store: BlobStore | None = getattr(request.app.state, "blob_store", None)
    if store is None:
        settings: TradingSettings = request.app.state.settings
        store = LocalBlobStore(settings.storage_dir)
        request.app.state.blob_store = store
    return store


def clean_filename(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 255 or _FILENAME_FORBIDDEN.search(name) or set(name) == {"."}:
        raise Unprocessable(
            '文件名不合法：不能为空、超过255个字符，或含路径分隔符、控制字符及 :*?"<>|',
            code="invalid_filename",
        )
    return name


def media_type(header: str | None) -> str:
    """The media type of ``Content-Type`` without parameters; octet-stream when none is given."""
    if not header:
        return DEFAULT_CONTENT_TYPE
    value = header.split(";", 1)[0].strip().lower()
    if not _MEDIA_TYPE.match(value):
        raise Unprocessable("Content-Type 不合法", code="invalid_content_type")
    return value


def upload_from(request: Request, filename: str) -> Upload:
    """The upload in ``request``: its body as chunks, its name, its media type, the size cap."""
    settings: TradingSettings = request.app.state.settings
    max_bytes = settings.max_document_bytes
    declared = request.headers.get("content-length")
    # An honest client that announces too much is refused before a byte is read; a client that
    # lies or sends chunked is stopped by the store as soon as it passes the cap.
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"文件超过允许的大小（{max_bytes} 字节）", details={"max_bytes": max_bytes})
    return Upload(
        filename=clean_filename(filename),
        content_type=media_type(request.headers.get("content-type")),
        chunks=request_chunks(request),
        max_bytes=max_bytes,
    )
