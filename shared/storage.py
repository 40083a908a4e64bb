"""Content-addressed blob store for documents: streamed in, hashed on the way, stored once.

A blob's name is the SHA-256 of its bytes, so the database row that refers to it (``sha256``,
``size``) is also the proof of what was stored, and the same tender document uploaded twice takes
the space of one. Blobs are never changed or deleted through this interface; a blob whose database
row was rolled back stays behind unreferenced (harmless, and a later sweep may collect it).

:class:`LocalBlobStore` keeps blobs on local disk under ``root/ab/cd/<sha256>``. ``put`` writes to a
temporary file in ``root/tmp`` (the same filesystem, so the final rename is an atomic
rename: a reader sees the whole blob or none), hashing while it writes and stopping as soon as the
size passes ``max_bytes``.

``writer`` is the same thing pushed rather than pulled, for an ``async`` endpoint that reads the body
on its event loop (bids): bytes are written as they arrive, and ``finish`` (blocking: fsync, rename)
first hands the digest and size to a check that can still refuse them, so a caller verifying the
content against a signed digest keeps unverified bytes away from any content address.
:func:`writer_for` gives a writer on any store.

An S3-compatible object store plugs in by implementing the same :class:`BlobStore` protocol; no
caller changes:

- ``put``: stream the chunks into a multipart upload under a temporary key while hashing and
  counting (parts of ≥ 5 MiB), abort the multipart upload and raise :class:`PayloadTooLarge` past
  ``max_bytes``; on completion, server-side copy to the key ``ab/cd/<sha256>`` unless a ``HEAD``
  finds it already there, then delete the temporary key. (A bucket lifecycle rule expiring
  ``tmp/`` covers uploads aborted by a crash.)
- ``open``: a streamed ``GET`` of the key, yielded in chunks; ``exists``: a ``HEAD``.
- ``writer`` (optional): the multipart upload, fed part by part; without it, :func:`writer_for`
  spools to a local temporary file and calls ``put`` from ``finish``.

Services obtain their store from ``app.state.blob_store`` (see ``services/trading/documents``), so a
deployment constructs the S3 implementation there instead of the local one.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shared.errors import ApiError

CHUNK_SIZE = 64 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int


class BlobStore(Protocol):
    def put(self, chunks: Iterable[bytes], *, max_bytes: int) -> StoredBlob:
        """Store the bytes of ``chunks``; raise :class:`PayloadTooLarge` past ``max_bytes``."""
        ...

    def open(self, sha256: str) -> Iterator[bytes]:
        """The blob's bytes in chunks; :class:`FileNotFoundError` on the first read if it is missing
        (check :meth:`exists` first when the answer must come before a response starts)."""
        ...

    def exists(self, sha256: str) -> bool: ...


def _check_name(sha256: str) -> str:
    # The name becomes a path: only a lowercase hex SHA-256 may, so nothing can climb out of root.
    if not _SHA256.match(sha256):
        raise ValueError("not a lowercase hex SHA-256")
    return sha256


class BlobWriter(Protocol):
    """One blob being written, its bytes pushed in as they arrive (an ``async`` endpoint reading the
    body on the event loop) instead of pulled by :meth:`BlobStore.put`.

    Nothing is visible under a content address until :meth:`finish`; :meth:`discard` (or a failed
    ``finish``) leaves nothing behind."""

    @property
    def size(self) -> int: ...

    def write(self, chunk: bytes | memoryview) -> None:
        """Append ``chunk``; :class:`PayloadTooLarge` past ``max_bytes`` (the caller discards)."""
        ...

    def finish(self, check: Callable[[StoredBlob], None] | None = None) -> StoredBlob:
        """Make the blob durable and visible. ``check`` sees its digest and size first; whatever it
        raises discards the blob, so bytes it refuses never reach a content address. May block
        (fsync): call it from a worker thread when on an event loop."""
        ...

    def discard(self) -> None: ...


class StreamingBlobStore(BlobStore, Protocol):
    def writer(self, *, max_bytes: int) -> BlobWriter: ...


def writer_for(store: BlobStore, *, max_bytes: int) -> BlobWriter:
    """A :class:`BlobWriter` on any store: its own if it has one, else a local spool file handed to
    :meth:`BlobStore.put` by ``finish`` (one more copy, for stores that only take a pull)."""
    own = getattr(store, "writer", None)
    if own is not None:
        writer: BlobWriter = own(max_bytes=max_bytes)
        return writer
    return _SpooledWriter(store, max_bytes=max_bytes)


class _SpooledWriter:
    def __init__(self, store: BlobStore, *, max_bytes: int) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish or discard
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes | memoryview) -> None:
        self.size += len(chunk)
        if self.size > self._max_bytes:
            raise _too_large(self._max_bytes)
        self._digest.update(chunk)
        self._spool.write(chunk)

    def finish(self, check: Callable[[StoredBlob], None] | None = None) -> StoredBlob:
        try:
            if check is not None:
                check(StoredBlob(sha256=self._digest.hexdigest(), size=self.size))
            self._spool.seek(0)
            return self._store.put(iter(lambda: self._spool.read(CHUNK_SIZE), b""), max_bytes=self._max_bytes)
        finally:
            self._spool.close()

    def discard(self) -> None:
        self._spool.close()


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"文件超过允许的大小（{max_bytes} 字节）", details={"max_bytes": max_bytes})


class LocalBlobWriter:
    """A temporary file in ``root/tmp``, hashed as it is written; ``finish`` fsyncs it and renames it
    to its address (the same filesystem, so the rename is atomic: a reader sees all or nothing)."""

    def __init__(self, store: LocalBlobStore, *, max_bytes: int) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._digest = hashlib.sha256()
        self.size = 0
        try:
            handle, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="upload-")
        except FileNotFoundError:  # the first upload into a new store
            store.tmp_dir.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="upload-")
        self._path = Path(name)
        self._out = os.fdopen(handle, "wb")
        self._finished = False

    def write(self, chunk: bytes | memoryview) -> None:
        self.size += len(chunk)
        if self.size > self._max_bytes:
            raise _too_large(self._max_bytes)
        self._digest.update(chunk)
        self._out.write(chunk)

    def finish(self, check: Callable[[StoredBlob], None] | None = None) -> StoredBlob:
        try:
            blob = StoredBlob(sha256=self._digest.hexdigest(), size=self.size)
            if check is not None:
                check(blob)
            self._out.flush()
            # The database row that names this blob commits after we return; the bytes must be on
            # disk before it can.
            os.fsync(self._out.fileno())
            self._out.close()
            final = self._store.path(blob.sha256)
            if final.exists():
                self._path.unlink()  # already stored: the same content is kept once
            else:
                # The directory is made only when missing: under a bid surge, a mkdir per upload
                # (failing with EEXIST nearly always) was a syscall and an exception per bid.
                try:
                    self._path.replace(final)
                except FileNotFoundError:
                    final.parent.mkdir(parents=True, exist_ok=True)
                    self._path.replace(final)
        except BaseException:
            self.discard()
            raise
        self._finished = True
        return blob

    def discard(self) -> None:
        """Remove the temporary file; nothing once finished (its name may belong to another upload by then)."""
        if self._finished:
            return
        self._out.close()
        self._path.unlink(missing_ok=True)


class LocalBlobStore:
    def __init__(self, root: Path, *, chunk_size: int = CHUNK_SIZE) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.chunk_size = chunk_size

    def path(self, sha256: str) -> Path:
        name = _check_name(sha256)
        return self.root / name[:2] / name[2:4] / name

    def put(self, chunks: Iterable[bytes], *, max_bytes: int) -> StoredBlob:
        writer = self.writer(max_bytes=max_bytes)
        try:
            for chunk in chunks:
                writer.write(chunk)
        except BaseException:
            # Too large, a client that went away, a refused upload: leave nothing half-written behind.
            writer.discard()
            raise
        return writer.finish()

    def writer(self, *, max_bytes: int) -> LocalBlobWriter:
        return LocalBlobWriter(self, max_bytes=max_bytes)

    def open(self, sha256: str) -> Iterator[bytes]:
        path = self.path(sha256)
        # The file is opened on the first read and closed at the end (or when the consumer closes
        # the iterator), so an iterator handed to a response that never starts holds no descriptor.
        with path.open("rb") as handle:
            while chunk := handle.read(self.chunk_size):
                yield chunk

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()
