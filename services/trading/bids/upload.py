"""The upload of a sealed bid: header verified as it arrives, ciphertext streamed into the store.

The body is never held whole: :class:`shared.envelope.EnvelopeReader` reads the header (at most
64 KiB) from a file-like view of the request's chunks and refuses an untrusted, mis-addressed or
malformed envelope before any ciphertext is read; the ciphertext then goes chunk by chunk through
the digest and length checks into the store's temporary file. The final check runs inside the
store's loop, so a ciphertext that does not match its signed digest or length raises there and the
store discards the temporary file: unverified bytes never reach a content address (bid-envelope.md
§7 step 5).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from datetime import datetime

import anyio.from_thread
from fastapi import Request
from starlette.requests import ClientDisconnect

from shared.certificates import CertificateIdentity, TrustStore
from shared.envelope import CHUNK_SIZE, MAGIC, CiphertextCounter, EnvelopeHeader, EnvelopeReader, iter_chunks
from shared.errors import ApiError
from shared.storage import BlobStore, PayloadTooLarge, StoredBlob

# What the reader pulls from the socket at a time while looking for the header.
_READ_BUFFER = 64 * 1024
# The body is pulled off the event loop in batches of about this size: one hop between threads per
# batch instead of one per network read (64 KiB or less each). Under a deadline surge those hops,
# each waiting for the interpreter lock twice, cost more than hashing the bytes.
BATCH_BYTES = 256 * 1024


async def _next_batch(stream: AsyncIterator[bytes], limit: int) -> bytes | None:
    parts: list[bytes] = []
    size = 0
    while size < limit:
        try:
            chunk = await anext(stream)
        except StopAsyncIteration:
            break
        if chunk:
            parts.append(chunk)
            size += len(chunk)
    return b"".join(parts) if parts else None


def request_body(request: Request) -> Generator[bytes, None, None]:
    """The request body in batches, for the endpoint's worker thread (the documents' pattern,
    services/trading/documents/streaming.py, with fewer hops to the event loop)."""
    stream = request.stream()
    try:
        while (batch := anyio.from_thread.run(_next_batch, stream, BATCH_BYTES)) is not None:
            yield batch
    except ClientDisconnect:
        raise ApiError("上传未完成：客户端断开了连接", code="upload_incomplete") from None
    finally:
        # Stopped early (refused, too large): close the body stream on its own loop, not in GC.
        anyio.from_thread.run(stream.aclose)


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"投标文件超过允许的大小（{max_bytes} 字节）", details={"max_bytes": max_bytes})


class _ChunkSource(io.RawIOBase):
    """The request's chunks as a raw stream, so the envelope reader can read exact sizes from it."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # typeshed: WriteableBuffer
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


@dataclass(frozen=True)
class ReceivedEnvelope:
    header: EnvelopeHeader
    raw_header: bytes
    identity: CertificateIdentity
    blob: StoredBlob
    # SHA-256 of the whole body as uploaded: the Idempotency-Key comparison and the receipt use it.
    envelope_sha256: str


def receive_envelope(
    chunks: Generator[bytes, None, None],
    store: BlobStore,
    *,
    trust: TrustStore,
    at: datetime,
    lot_id: str,
    credit_code: str,
    max_bytes: int,
) -> ReceivedEnvelope:
    """Verify and store one envelope; :class:`EnvelopeRejected` or :class:`PayloadTooLarge` otherwise.

    ``at`` is the database time the certificate must be valid at; ``credit_code`` is the one the
    uploading organisation declared, which the signed header must name."""
    try:
        stream = io.BufferedReader(_ChunkSource(chunks), buffer_size=_READ_BUFFER)
        reader = EnvelopeReader(
            stream, trust=trust, at=at, expected_lot_id=lot_id, expected_bidder_credit_code=credit_code
        )
        prefix = MAGIC + len(reader.raw_header).to_bytes(4, "big")
        header_size = len(prefix) + len(reader.raw_header)
        # An honest tool announces the size in the signed header: refuse before reading on.
        if header_size + reader.signed.ciphertext_length > max_bytes:
            raise too_large(max_bytes)
        whole = hashlib.sha256(prefix)
        whole.update(reader.raw_header)
        # The store pulls chunks while EnvelopeReader.copy_ciphertext pushes them, so the ciphertext
        # is checked here with the reader's own counter rather than through copy_ciphertext.
        counter = CiphertextCounter(reader.signed)

        def ciphertext() -> Iterator[bytes]:
            for chunk in iter_chunks(stream, CHUNK_SIZE):
                counter.update(chunk)  # stops at once past the signed length
                whole.update(chunk)
                yield chunk
            counter.check()

        try:
            blob = store.put(ciphertext(), max_bytes=max_bytes - header_size)
        except PayloadTooLarge:
            raise too_large(max_bytes) from None
        return ReceivedEnvelope(
            header=reader.header,
            raw_header=reader.raw_header,
            identity=reader.identity,
            blob=blob,
            envelope_sha256=whole.hexdigest(),
        )
    finally:
        chunks.close()  # in the request's thread, where the body stream can be closed


def digest_body(chunks: Generator[bytes, None, None], *, max_bytes: int) -> str:
    """SHA-256 of a body that is only compared, never stored (an idempotent retry)."""
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise too_large(max_bytes)
            digest.update(chunk)
    finally:
        chunks.close()
    return digest.hexdigest()
