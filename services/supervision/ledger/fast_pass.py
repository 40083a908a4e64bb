"""The verifier's fast path: a run of leaves in which nothing is wrong, re-derived at full speed.

A full verification spends nearly all of its time on leaves that are fine. ``check_run`` repeats,
for a run of consecutive leaves, every per-leaf check the detailed pass in ``verify`` makes (leaf
recomputed from its event row, chain link, delivery_seq contiguity, the tree nodes the run
completes), but only to answer "is all of this right?": it builds no problem and changes no state.
At the first thing that is off it gives up, and the caller walks the same run with the detailed
checks, which locate and report it. So the fast path never decides anything on its own; it only
skips work whose outcome it has shown to be "no problem".

It reads leaves as plain tuples (``LEAF_ROW_COLUMNS``, straight from the database driver), as
building a named row or a dict per leaf would cost as much as the checks. The leaf hashes
recomputed from the events come separately, from ``leaf_hashes`` (helper processes on a large
ledger).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Text, cast

from services.supervision.ingest.models import StoredEvent
from services.supervision.ledger import merkle
from services.supervision.ledger.models import LedgerLeaf

Node = tuple[int, int, bytes]  # (level, index, hash), as the verifier reads ledger_nodes

# A leaf with what the pass needs of its event besides the content (all NULL when the event row
# is gone, which ``row_id`` being NULL tells apart from NULL values). Leaf index first: see leaf_hashes.
LEAF_ROW_COLUMNS = (
    LedgerLeaf.leaf_index,
    LedgerLeaf.audit_event_id,
    LedgerLeaf.leaf_hash,
    LedgerLeaf.chain_hash,
    StoredEvent.id.label("row_id"),
    StoredEvent.source,
    StoredEvent.delivery_seq,
    cast(StoredEvent.event_id, Text).label("event_id"),  # only for messages; as text, as leaf data spells it
)
LEAF_INDEX, AUDIT_EVENT_ID, LEAF_HASH, CHAIN_HASH, ROW_ID, SOURCE, DELIVERY_SEQ, EVENT_ID = range(8)


class LeafRow(NamedTuple):
    """One leaf row with names, and its recomputed hash, for the detailed checks (run only where something is off)."""

    leaf_index: int
    audit_event_id: int
    leaf_hash: bytes
    chain_hash: bytes
    row_id: int | None
    source: str | None
    delivery_seq: int | None
    event_id: str | None
    content: bytes | None  # the leaf hash recomputed from the event row; None if the row is gone

    @classmethod
    def of(cls, row: Sequence[Any], content: bytes | None) -> LeafRow:
        return cls._make((*row, content))


@dataclass
class Tree:
    """The right edge of the tree being rebuilt: ``merkle.Frontier`` with its hashes in the open,
    so that a run can be tried on a copy and kept only if it passes."""

    size: int = 0
    edge: list[bytes] = field(default_factory=list)  # roots of the complete subtrees, largest first

    def append(self, leaf: bytes) -> list[Node]:
        """Add a leaf hash; return the nodes it completes, lowest first (as ``merkle.Frontier.append``)."""
        completed: list[Node] = []
        self.size = _append(self.edge, self.size, leaf, completed)
        return completed

    def root(self) -> bytes:
        return merkle.fold(self.edge)


def _append(edge: list[bytes], size: int, leaf: bytes, completed: list[Node]) -> int:
    """Push leaf number ``size`` onto ``edge``, adding the nodes it completes to ``completed``; the new size."""
    edge.append(leaf)
    index, level = size, 0
    while index & 1:  # a right child: its left sibling is complete, so their parent is too
        right = edge.pop()
        parent = merkle.node_hash(edge.pop(), right)
        edge.append(parent)
        index >>= 1
        level += 1
        completed.append((level, index, parent))
    return size + 1


@dataclass(frozen=True)
class Run:
    """Where a clean run leaves the pass, and the nodes it completed (for comparison with the stored ones)."""

    tree: Tree
    chain: bytes
    last_seq: dict[str, int]
    nodes: list[Node]


def check_run(
    rows: Sequence[Sequence[Any]], contents: Sequence[bytes | None], tree: Tree, chain: bytes, last_seq: dict[str, int]
) -> Run | None:
    """Re-derive ``rows`` (the leaves after ``tree``, in order, each with its recomputed hash in
    ``contents``); None at the first thing that is off.

    Assumes the pass is clean so far: the chain recomputed from the events equals the stored one
    (so one hash per leaf checks both) and no leaf index was skipped.
    """
    size, edge, last_seq = tree.size, tree.edge.copy(), last_seq.copy()
    nodes: list[Node] = []
    for row, leaf in zip(rows, contents, strict=True):
        if row[LEAF_INDEX] != size or leaf is None or row[ROW_ID] is None or leaf != row[LEAF_HASH]:
            return None  # a leaf missing, its event row gone, or its content altered
        chain = merkle.chain_hash(chain, leaf)
        if chain != row[CHAIN_HASH]:
            return None
        source, seq = row[SOURCE], row[DELIVERY_SEQ]
        if source is None or seq != last_seq.get(source, 0) + 1:
            return None
        last_seq[source] = seq
        size = _append(edge, size, leaf, nodes)
    return Run(Tree(size, edge), chain, last_seq, nodes)
