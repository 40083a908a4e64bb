"""The selection of a draw as a pure function (docs/draw.md §3): no database, no clock, standard
library only, so the service, the verifier endpoint and the fairness tests run the very same code.

In short: for each specialty line, a deterministic random bit generator keyed by the seed
(HMAC-SHA256 in counter mode) drives a partial Fisher–Yates shuffle of the line's snapshot (the
eligible ids, sorted); the shuffle is walked in order, skipping experts already taken for an earlier
line and experts set aside during the draw (credit bans, changes), members first, then reserves.
Indices are drawn by rejection sampling, so there is no modulo bias. Only as many random numbers
are drawn as the walk needs: a few dozen HMACs per draw, whatever the size of the pool.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LABEL = b"jincheng-draw/1"
SEED_BYTES = 32
_SPACE = 1 << 256  # one HMAC-SHA256 block read as a big-endian integer


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON with keys sorted by code point, no whitespace, non-ASCII unescaped; the documents
    hashed here hold only objects, arrays, strings, integers, booleans and null."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def commitment_of(seed: bytes) -> str:
    """What is published before the selection: SHA-256 of the 32 seed bytes, lower-case hex."""
    if len(seed) != SEED_BYTES:
        raise ValueError("a draw seed is 32 bytes")
    return sha256_hex(seed)


def document_digest(document: Any) -> str:
    return sha256_hex(canonical_json(document))


@dataclass(frozen=True)
class Want:
    """One line of the request: how many members and reserves of a specialty."""

    specialty: str
    count: int
    reserves: int

    @property
    def total(self) -> int:
        return self.count + self.reserves


@dataclass(frozen=True)
class Pick:
    """What the selection took for one specialty, in draw order."""

    specialty: str
    members: tuple[str, ...]
    reserves: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"specialty": self.specialty, "members": list(self.members), "reserves": list(self.reserves)}


def wants_of(request_document: Mapping[str, Any]) -> list[Want]:
    """The specialty lines of a canonical request document, in request order."""
    return [
        Want(str(line["specialty"]), int(line["count"]), int(line["reserves"]))
        for line in request_document["request"]["specialties"]
    ]


def block(seed: bytes, request_digest: str, specialty: str, counter: int) -> bytes:
    """The line's ``counter``-th random block: HMAC-SHA256(seed, label 0 digest 0 specialty 0 counter),
    the counter as 8 bytes big-endian."""
    message = b"\x00".join((LABEL, request_digest.encode("ascii"), specialty.encode(), counter.to_bytes(8, "big")))
    return hmac.digest(seed, message, "sha256")


class Stream:
    """A line's random numbers: blocks 0, 1, 2, … each read as a 256-bit integer."""

    def __init__(self, seed: bytes, request_digest: str, specialty: str) -> None:
        self.seed, self.request_digest, self.specialty = seed, request_digest, specialty
        self.counter = 0

    def below(self, bound: int) -> int:
        """Uniform in [0, bound): blocks at or above the largest multiple of ``bound`` that fits in
        2^256 are rejected and the next block is read (for a pool this size, practically never)."""
        if bound < 1:
            raise ValueError("bound must be positive")
        limit = _SPACE - _SPACE % bound
        while True:
            value = int.from_bytes(block(self.seed, self.request_digest, self.specialty, self.counter), "big")
            self.counter += 1
            if value < limit:
                return value % bound


class Shuffle:
    """The partial Fisher–Yates shuffle of a line's snapshot, produced lazily and remembered, so that
    walking it again (the service walks it several times as the draw settles) costs nothing new.

    Step j (from 0) swaps position j with position j + below(n − j) and yields what lands at j."""

    def __init__(self, seed: bytes, request_digest: str, specialty: str, snapshot: Sequence[str]) -> None:
        self._stream = Stream(seed, request_digest, specialty)
        self._items = list(snapshot)
        self._done = 0

    def __iter__(self) -> Iterator[str]:
        position = 0
        while position < len(self._items):
            if position == self._done:
                chosen = position + self._stream.below(len(self._items) - position)
                self._items[position], self._items[chosen] = self._items[chosen], self._items[position]
                self._done += 1
            yield self._items[position]
            position += 1


def choose(
    wants: Sequence[Want], orders: Sequence[Iterable[str]], *, skip: Callable[[str], bool] | None = None
) -> list[Pick]:
    """Walk each line's order, taking the first ``count + reserves`` experts not taken for an
    earlier line and not ``skip``-ped. A line with too few experts gets what there is: the caller
    decides whether that is enough."""
    if len(wants) != len(orders):
        raise ValueError("one order per specialty line")
    taken: set[str] = set()
    picks: list[Pick] = []
    for want, order in zip(wants, orders, strict=True):
        chosen: list[str] = []
        if want.total:
            for expert_id in order:
                if expert_id in taken or (skip is not None and skip(expert_id)):
                    continue
                chosen.append(expert_id)
                taken.add(expert_id)
                if len(chosen) == want.total:
                    break
        picks.append(Pick(want.specialty, tuple(chosen[: want.count]), tuple(chosen[want.count :])))
    return picks


def shuffles(
    seed: bytes, request_digest: str, wants: Sequence[Want], snapshot: Sequence[Sequence[str]]
) -> list[Shuffle]:
    return [Shuffle(seed, request_digest, w.specialty, ids) for w, ids in zip(wants, snapshot, strict=True)]


def select(
    seed: bytes,
    request_digest: str,
    wants: Sequence[Want],
    snapshot: Sequence[Sequence[str]],
    skipped: Collection[str] = (),
) -> list[Pick]:
    """The selection of docs/draw.md §3 from the seed, the request digest, the snapshot (one sorted
    list of eligible expert ids per line, in request order) and the experts set aside during the draw."""
    return choose(wants, shuffles(seed, request_digest, wants, snapshot), skip=skipped.__contains__)


def result_json(picks: Sequence[Pick]) -> list[dict[str, Any]]:
    return [pick.as_json() for pick in picks]


def snapshot_json(wants: Sequence[Want], snapshot: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
    """The snapshot as hashed and published: per specialty line, the ids sorted ascending."""
    return [{"specialty": want.specialty, "expert_ids": list(ids)} for want, ids in zip(wants, snapshot, strict=True)]
