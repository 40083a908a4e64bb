"""Reading the stored tree: its size, chain head, and node hashes by (level, index)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from services.supervision.ledger import merkle
from services.supervision.ledger.merkle import NodeKey, NodeLookup
from services.supervision.ledger.models import LedgerLeaf, LedgerNode


class LedgerCorrupt(RuntimeError):
    """A node that must exist for a tree of the current size is missing: the store is damaged."""


def ledger_head(session: Session) -> tuple[int, bytes]:
    """(number of leaves, chain hash of the last leaf); one backward primary-key step, not a count."""
    row = session.execute(
        select(LedgerLeaf.leaf_index, LedgerLeaf.chain_hash).order_by(LedgerLeaf.leaf_index.desc()).limit(1)
    ).first()
    if row is None:
        return 0, merkle.CHAIN_START
    return row.leaf_index + 1, row.chain_hash


def chain_head_at(session: Session, size: int) -> bytes:
    if size == 0:
        return merkle.CHAIN_START
    chain = session.scalar(select(LedgerLeaf.chain_hash).where(LedgerLeaf.leaf_index == size - 1))
    if chain is None:
        raise LedgerCorrupt(f"leaf {size - 1} is missing")
    return chain


def node_hashes(session: Session, keys: set[NodeKey]) -> dict[NodeKey, bytes]:
    """Hashes of complete subtrees; level 0 from the leaves, the rest from ``ledger_nodes``."""
    found: dict[NodeKey, bytes] = {}
    leaves = sorted(index for level, index in keys if level == 0)
    inner = sorted(key for key in keys if key[0] > 0)
    if leaves:
        leaf_rows = session.execute(
            select(LedgerLeaf.leaf_index, LedgerLeaf.leaf_hash).where(LedgerLeaf.leaf_index.in_(leaves))
        )
        found.update(((0, index), leaf) for index, leaf in leaf_rows.tuples())
    if inner:
        node_rows = session.execute(
            select(LedgerNode.level, LedgerNode.index, LedgerNode.hash).where(
                tuple_(LedgerNode.level, LedgerNode.index).in_(inner)
            )
        )
        found.update(((level, index), node) for level, index, node in node_rows.tuples())
    missing = keys - found.keys()
    if missing:
        raise LedgerCorrupt(f"ledger nodes missing: {sorted(missing)[:5]}")
    return found


def lookup(session: Session) -> NodeLookup:
    def fetch(keys: set[NodeKey]) -> Mapping[NodeKey, bytes]:
        return node_hashes(session, keys)

    return fetch


def root_at(session: Session, size: int) -> bytes:
    return merkle.root_hash(size, lookup(session))
