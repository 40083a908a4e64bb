"""The upload of a sealed bid, read on the event loop: header verified as it arrives, ciphertext
written to the store's temporary file, nothing held whole.

:class:`shared.envelope.EnvelopeFeed` takes each piece of the request body as uvicorn hands it over.
It buffers the header (at most 64 KiB) and refuses an untrusted, mis-addressed or malformed
envelope before any ciphertext is written; the ciphertext then goes piece by piece into a
:class:`shared.storage.BlobWriter`, counted against the signed length. The writer hashes what it
writes, and :meth:`ReceivedEnvelope.store` hands that digest to the envelope's final check inside
the writer's ``finish``, before the rename: a ciphertext that does not match its signed digest or
length is discarded there and never reaches a content address (bid-envelope.md §7 step 5).

Why on the event loop and not in the endpoint's worker thread, as the documents do: a worker thread
pulls every piece of the body off the loop with a hop between threads, each waiting for the
interpreter lock twice. Under a deadline surge those hops, not the hashing, were what the trading
process spent its core on (docs/adr/0007-bid-surge.md). Hashing and page-cache writes of one piece
take tens of microseconds; what blocks for longer (``fsync``, the database) runs in worker threads.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import ClientDisconnect

from shared.certificates import CertificateIdentity, TrustStore
from shared.envelope import EnvelopeFeed, EnvelopeHeader
from shared.request_body import upload_incomplete
from shared.storage import BlobWriter, PayloadTooLarge, StoredBlob


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"投标文件超过允许的大小（{max_bytes} 字节）", details={"max_bytes": max_bytes})


@dataclass(frozen=True)
class ReceivedEnvelope:
    """An envelope read to its end: header verified, ciphertext in a temporary file, counted."""

    header: EnvelopeHeader
    raw_header: bytes
    identity: CertificateIdentity
    # SHA-256 of the whole body as uploaded: the Idempotency-Key comparison and the receipt use it.
    envelope_sha256: str
    _feed: EnvelopeFeed
    _ciphertext: BlobWriter

    def store(self) -> StoredBlob:
        """Check the ciphertext's length and digest, fsync it and give it its content address; on
        a mismatch :class:`EnvelopeRejected` and the temporary file is gone. Blocks: call it in a
        worker thread."""
        return self._ciphertext.finish(check=lambda blob: self._feed.check(blob.sha256))

    def discard(self) -> None:
        self._ciphertext.discard()

    @classmethod
    def read(cls, feed: EnvelopeFeed, ciphertext: BlobWriter) -> ReceivedEnvelope:
        """What ``feed`` read, once the body is over (:class:`EnvelopeRejected` if its header never
        completed); the ciphertext went to ``ciphertext``."""
        feed.end()
        assert feed.header is not None and feed.identity is not None  # noqa: S101 - end() raises otherwise
        return cls(
            header=feed.header,
            raw_header=feed.raw_header,
            identity=feed.identity,
            envelope_sha256=feed.envelope_sha256,
            _feed=feed,
            _ciphertext=ciphertext,
        )


async def receive_envelope(
    body: AsyncIterator[bytes],
    ciphertext: BlobWriter,
    *,
    trust: TrustStore,
    at: datetime,
    lot_id: str,
    credit_code: str,
    max_bytes: int,
    stop: Callable[[], None] = lambda: None,
) -> ReceivedEnvelope:
    """Read and verify one envelope into ``ciphertext`` (a writer of the store, opened for at most
    ``max_bytes``); :class:`EnvelopeRejected` or :class:`PayloadTooLarge` otherwise. The caller
    discards the writer when this raises.

    ``at`` is the database time the certificate must be valid at; ``credit_code`` is the one the
    uploading organisation declared, which the signed header must name. ``stop`` is called before
    each piece and may raise to abandon the upload (the credit check refused the bidder meanwhile)."""
    # The store hashes the ciphertext it writes; the feed uses that digest instead of its own.
    feed = EnvelopeFeed(
        trust=trust, at=at, expected_lot_id=lot_id, expected_bidder_credit_code=credit_code, hash_ciphertext=False
    )
    announced = False
    try:
        async for piece in body:
            stop()
            data = feed.feed(piece)
            if not announced and feed.header is not None:
                # An honest tool announces the size in the signed header: refuse before reading on.
                # Past it, the feed refuses at once whatever runs beyond the signed length.
                if feed.header_size + feed.header.signed.ciphertext_length > max_bytes:
                    raise too_large(max_bytes)
                announced = True
            if data:
                try:
                    ciphertext.write(data)
                except PayloadTooLarge:
                    raise too_large(max_bytes) from None
    except ClientDisconnect:
        raise upload_incomplete() from None
    stop()
    return ReceivedEnvelope.read(feed, ciphertext)


async def digest_body(body: AsyncIterator[bytes], *, max_bytes: int) -> str:
    """SHA-256 of a body that is only compared, never stored (an idempotent retry)."""
    digest = hashlib.sha256()
    size = 0
    try:
        async for piece in body:
            size += len(piece)
            if size > max_bytes:
                raise too_large(max_bytes)
            digest.update(piece)
    except ClientDisconnect:
        raise upload_incomplete() from None
    return digest.hexdigest()
