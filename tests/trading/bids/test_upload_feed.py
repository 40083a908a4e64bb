"""The push-style upload path (EnvelopeFeed into a BlobWriter) against the pull-style reader it
replaces for bids: the same verdict, the same refusal, however the body is cut into pieces, and no
byte of a refused ciphertext at a content address."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.certificates import TrustStore
from shared.envelope import MAGIC, EnvelopeFeed, EnvelopeReader, EnvelopeRejected
from shared.storage import LocalBlobStore, StoredBlob, writer_for
from tests.shared.envelope.conftest import (  # noqa: F401 - fixtures re-used from the envelope tests
    CREDIT_CODE,
    LOT_ID,
    OTHER_LOT_ID,
    Sealed,
    attachment,
    ca,
    form,
    leaf,
    plaintext,
    sealed,
    store,
)


def _reader_verdict(data: bytes, trust: TrustStore, **expected: Any) -> str:
    try:
        reader = EnvelopeReader(io.BytesIO(data), trust=trust, at=datetime.now(UTC), **expected)
        reader.copy_ciphertext(lambda _: None)
        reader.check()
    except EnvelopeRejected as exc:
        return exc.reason
    return "accepted"


def _feed(data: bytes, trust: TrustStore, piece: int, blobs: LocalBlobStore, **expected: Any) -> tuple[str, Any]:
    """The bids endpoint's path: pieces into the feed, ciphertext into a writer, checked in finish."""
    feed = EnvelopeFeed(trust=trust, at=datetime.now(UTC), hash_ciphertext=False, **expected)
    writer = blobs.writer(max_bytes=len(data))
    try:
        for start in range(0, len(data), piece):
            ciphertext = feed.feed(data[start : start + piece])
            if ciphertext:
                writer.write(ciphertext)
        feed.end()
        blob = writer.finish(check=lambda blob: feed.check(blob.sha256))
    except EnvelopeRejected as exc:
        writer.discard()
        return exc.reason, None
    return "accepted", (blob, feed)


def _cases(sealed: Sealed) -> dict[str, Callable[[bytes], bytes]]:  # noqa: F811
    return {
        "as sealed": lambda data: data,
        "empty": lambda _: b"",
        "a zip": lambda _: b"PK\x03\x04" + b"\0" * 100,
        "magic only": lambda _: MAGIC,
        "truncated header": lambda data: data[:40],
        "header too large": lambda _: MAGIC + (1 << 20).to_bytes(4, "big") + b"{}",
        "zero-length header": lambda _: MAGIC + bytes(4),
        "ciphertext cut short": lambda data: data[:-10],
        "ciphertext too long": lambda data: data + b"x",
        "ciphertext altered": lambda data: data[:-1] + bytes([data[-1] ^ 1]),
    }


@pytest.mark.parametrize("piece", [1, 7, 11, 4096, 1 << 20])
def test_the_feed_and_the_reader_agree(
    sealed: Sealed,  # noqa: F811
    store: TrustStore,  # noqa: F811
    tmp_path: Path,
    piece: int,
):
    blobs = LocalBlobStore(tmp_path / "blobs")
    original = sealed.envelope.read_bytes()
    for name, change in _cases(sealed).items():
        data = change(original)
        for expected in (
            {"expected_lot_id": LOT_ID, "expected_bidder_credit_code": CREDIT_CODE},
            {"expected_lot_id": OTHER_LOT_ID},
        ):
            verdict, stored = _feed(data, store, piece, blobs, **expected)
            assert verdict == _reader_verdict(data, store, **expected), (name, expected)
            if stored is not None:
                blob, feed = stored
                assert feed.envelope_sha256 == hashlib.sha256(data).hexdigest()
                assert blob.sha256 == feed.header.signed.ciphertext_sha256
    # Only the accepted ciphertext reached a content address (once); the temporary area is empty.
    kept = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert [p.name for p in kept] == [hashlib.sha256(original[-len(kept[0].read_bytes()) :]).hexdigest()]


def refuse(_: StoredBlob) -> None:
    raise EnvelopeRejected("digest_mismatch", "no")


def test_a_refused_check_leaves_nothing_behind(tmp_path: Path):
    blobs = LocalBlobStore(tmp_path)
    writer = blobs.writer(max_bytes=100)
    writer.write(b"unverified")
    with pytest.raises(EnvelopeRejected):
        writer.finish(check=refuse)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_discarding_a_finished_writer_keeps_the_blob(tmp_path: Path):
    blobs = LocalBlobStore(tmp_path)
    writer = blobs.writer(max_bytes=100)
    writer.write(b"verified")
    blob = writer.finish()
    writer.discard()  # what a failed transaction after the store does
    assert blobs.exists(blob.sha256)


class PullOnlyStore:
    """A store with ``put`` only (as an S3 store might be): bids still reach it, through a spool."""

    def __init__(self, inner: LocalBlobStore) -> None:
        self.inner = inner

    def put(self, chunks: Any, *, max_bytes: int) -> StoredBlob:
        return self.inner.put(chunks, max_bytes=max_bytes)

    def open(self, sha256: str) -> Any:
        return self.inner.open(sha256)

    def exists(self, sha256: str) -> bool:
        return self.inner.exists(sha256)


def test_a_store_without_a_writer_gets_the_checked_bytes_through_put(tmp_path: Path):
    inner = LocalBlobStore(tmp_path)
    writer = writer_for(PullOnlyStore(inner), max_bytes=100)
    writer.write(b"ciphertext")
    seen: list[StoredBlob] = []
    blob = writer.finish(check=seen.append)
    assert seen == [blob] and inner.exists(blob.sha256)

    refused = writer_for(PullOnlyStore(inner), max_bytes=100)
    refused.write(b"tampered")
    with pytest.raises(EnvelopeRejected):
        refused.finish(check=refuse)
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1
