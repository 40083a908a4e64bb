"""Content-addressed blob store for documents: streamed in, hashed on the way, stored once.

A blob's name is the SHA-256 of its bytes, so the database row that refers to it (``sha256``,
``size``) is also the proof of what was stored, and the same tender document uploaded twice takes
the space of one. Blobs are never changed or deleted through this interface; a blob whose database
row was rolled back stays behind unreferenced (harmless, and a later sweep may collect it).

:class:`LocalBlobStore` keeps blobs on local disk under ``root/ab/cd/<sha256>``. ``put`` writes to a
temporary file in ``root/tmp`` (the same filesystem, so the final rename is an atomic
rename: a reader sees the whole blob or none), hashing while it writes and stopping as soon as the
size passes ``max_bytes``.

An S3-compatible object store plugs in by implementing the same :class:`BlobStore` protocol; no
caller changes:

- ``put``: stream the chunks into a multipart upload under a temporary key while hashing and
  counting (parts of ≥ 5 MiB), abort the multipart upload and raise :class:`PayloadTooLarge` past
  ``max_bytes``; on completion, server-side copy to the key ``ab/cd/<sha256>`` unless a ``HEAD``
  finds it already there, then delete the temporary key. (A bucket lifecycle rule expiring
  ``tmp/`` covers uploads aborted by a crash.)
- ``open``: a streamed ``GET`` of the key, yielded in chunks; ``exists``: a ``HEAD``.

Services obtain their store from ``app.state.blob_store`` (see ``services/trading/documents``), so a
deployment constructs the S3 implementation there instead of the local one.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
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


class LocalBlobStore:
    def __init__(self, root: Path, *, chunk_size: int = CHUNK_SIZE) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.chunk_size = chunk_size

    def path(self, sha256: str) -> Path:
        name = _check_name(sha256)
        return self.root / name[:2] / name[2:4] / name

    def put(self, chunks: Iterable[bytes], *, max_bytes: int) -> StoredBlob:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        handle, name = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-")
        temporary = Path(name)
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(
                            f"文件超过允许的大小（{max_bytes} 字节）", details={"max_bytes": max_bytes}
                        )
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                # The database row that names this blob commits after we return; the bytes must be
                # on disk before it can.
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            final = self.path(sha256)
            if final.exists():
                temporary.unlink()  # already stored: the same content is kept once
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                temporary.replace(final)
        except BaseException:
            # Too large, a client that went away, a full disk: leave nothing half-written behind.
            temporary.unlink(missing_ok=True)
            raise
        return StoredBlob(sha256=sha256, size=size)

    def open(self, sha256: str) -> Iterator[bytes]:
        path = self.path(sha256)
        # The file is opened on the first read and closed at the end (or when the consumer closes
        # the iterator), so an iterator handed to a response that never starts holds no descriptor.
        with path.open("rb") as handle:
            while chunk := handle.read(self.chunk_size):
                yield chunk

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()
