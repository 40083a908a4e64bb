"""Chunked I/O helpers: envelopes reach hundreds of MiB, so nothing here holds a whole file in memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

# 1 MiB: large enough that per-call overhead (hashing, AES-GCM, syscalls) is negligible, small enough that a
# few concurrent uploads per worker stay within a modest memory budget.
CHUNK_SIZE = 1024 * 1024


def read_exact(stream: BinaryIO, size: int) -> bytes:
    """Read up to ``size`` bytes, looping because raw and network streams may return short reads.

    Returns fewer bytes only at end of stream.
    """
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def iter_chunks(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield the rest of ``stream`` in pieces of at most ``chunk_size`` bytes."""
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            return
        yield chunk
