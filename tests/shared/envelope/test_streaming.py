"""Envelopes of hundreds of MiB: sealing, upload verification and opening never hold the file in memory."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.certificates import TrustStore
from shared.envelope import (
    BidForm,
    EnvelopeReader,
    build_plaintext_zip,
    iter_chunks,
    open_envelope,
    read_bid_form,
)
from tests.shared.envelope.conftest import LOT_ID, Sealed, seal_with
from tests.support.pki import IssuedCert

MIB = 1024 * 1024
PAYLOAD = 20 * MIB
# Far below the 20 MiB payload: reading the file whole, even once, would exceed it.
MEMORY_BUDGET = 6 * MIB


@dataclass(frozen=True)
class Big:
    plaintext: Path
    sealed: Sealed


def _measure(action: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``action`` and return its result and the peak of Python allocations made meanwhile."""
    tracemalloc.start()
    try:
        result = action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter_chunks(stream):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def big_plaintext(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("big")
    attachment = directory / "drawings.bin"
    with attachment.open("wb") as out:
        for _ in range(PAYLOAD // MIB):
            # Random bytes: deflate cannot shrink them, so the plaintext really is over 20 MiB.
            out.write(os.urandom(MIB))
    form = BidForm.model_validate(
        {
            "price_fen": 5_000_000_00,
            "duration_days": 365,
            "quality": "优良",
            "project_manager": {"name": "赵六", "certificate_no": "晋114000000002"},
        }
    )
    plaintext = build_plaintext_zip(form, [attachment], out=directory / "plain.zip")
    attachment.unlink()
    assert plaintext.stat().st_size > PAYLOAD
    return plaintext


@pytest.fixture(scope="module")
def big(big_plaintext: Path, tmp_path_factory: pytest.TempPathFactory, leaf: IssuedCert) -> Big:
    out = tmp_path_factory.mktemp("sealed") / "big.jcb"
    return Big(big_plaintext, seal_with(big_plaintext, out, leaf))


class RecordingFile(io.FileIO):
    """A file that remembers how much each ``read`` asked for."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "rb")
        self.requests: list[int | None] = []

    def read(self, size: int | None = -1, /) -> bytes:
        self.requests.append(size)
        return super().read(size)


def test_seal_streams_the_plaintext(tmp_path: Path, big_plaintext: Path, leaf: IssuedCert) -> None:
    sealed, peak = _measure(lambda: seal_with(big_plaintext, tmp_path / "bid.jcb", leaf))
    assert peak < MEMORY_BUDGET, f"sealing allocated {peak / MIB:.1f} MiB at peak"
    assert sealed.envelope.stat().st_size > big_plaintext.stat().st_size


def test_reader_never_asks_for_more_than_a_chunk(big: Big, store: TrustStore) -> None:
    chunk_size = 256 * 1024
    sizes: list[int] = []
    digest = hashlib.sha256()

    def sink(chunk: bytes) -> None:
        sizes.append(len(chunk))
        digest.update(chunk)

    with RecordingFile(big.sealed.envelope) as stream:
        reader = EnvelopeReader(
            stream, trust=store, at=datetime.now(UTC), expected_lot_id=LOT_ID, chunk_size=chunk_size
        )

        def copy_and_check() -> int:
            length = reader.copy_ciphertext(sink)
            reader.check()
            return length

        length, peak = _measure(copy_and_check)
    assert all(request is not None and 0 < request <= chunk_size for request in stream.requests), stream.requests
    assert max(sizes) <= chunk_size
    assert len(sizes) >= PAYLOAD // chunk_size
    assert length == sum(sizes) == reader.signed.ciphertext_length
    assert digest.hexdigest() == reader.signed.ciphertext_sha256
    assert peak < MEMORY_BUDGET, f"upload verification allocated {peak / MIB:.1f} MiB at peak"


def test_open_streams_the_ciphertext(tmp_path: Path, big: Big, store: TrustStore) -> None:
    with big.sealed.envelope.open("rb") as stream:
        reader = EnvelopeReader(stream, trust=store, at=datetime.now(UTC), expected_lot_id=LOT_ID)
        pieces: list[int] = []

        def chunks() -> Iterator[bytes]:
            for chunk in iter_chunks(stream):
                pieces.append(len(chunk))
                yield chunk

        out = tmp_path / "opened.zip"
        _, peak = _measure(lambda: open_envelope(chunks(), reader.signed, big.sealed.content_key, out))
    assert len(pieces) > 1
    assert peak < MEMORY_BUDGET, f"opening allocated {peak / MIB:.1f} MiB at peak"
    assert _sha256(out) == _sha256(big.plaintext) == reader.signed.plaintext_sha256
    assert read_bid_form(out).price_fen == 5_000_000_00
