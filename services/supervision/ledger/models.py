"""Tables of supervision's ledger. All three are append-only (triggers in the migration) and the
application role ``supervision_writer`` may only SELECT and INSERT them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from services.supervision.db import Base
from services.supervision.ingest.models import StoredEvent


class LedgerLeaf(Base):
    """Leaf ``leaf_index`` (0-based, dense) commits to one stored audit event."""

    __tablename__ = "ledger_leaves"
    __table_args__ = (
        CheckConstraint("leaf_index >= 0", name="leaf_index_non_negative"),
        CheckConstraint("octet_length(leaf_hash) = 32", name="leaf_hash_sha256"),
        CheckConstraint("octet_length(chain_hash) = 32", name="chain_hash_sha256"),
    )

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    audit_event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey(StoredEvent.id), unique=True)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerNode(Base):
    """The hash of the complete subtree of ``2**level`` leaves starting at leaf ``index << level``.

    Stored once complete (level >= 1; level 0 is ``ledger_leaves.leaf_hash``), so any root or proof
    needs O(log² n) primary-key lookups instead of a pass over the leaves.
    """

    __tablename__ = "ledger_nodes"
    __table_args__ = (
        CheckConstraint("level between 1 and 62", name="level_range"),
        CheckConstraint('"index" >= 0', name="index_non_negative"),
        CheckConstraint("octet_length(hash) = 32", name="hash_sha256"),
    )

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerTreeHead(Base):
    """A signed tree head (STH); every one ever produced is kept. See ``tree_heads`` for the bytes signed."""

    __tablename__ = "ledger_tree_heads"
    __table_args__ = (
        CheckConstraint("tree_size >= 0", name="tree_size_non_negative"),
        CheckConstraint("octet_length(root_hash) = 32", name="root_hash_sha256"),
        CheckConstraint("octet_length(chain_head) = 32", name="chain_head_sha256"),
        CheckConstraint("octet_length(signature) = 64", name="signature_ed25519"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    chain_head: Mapped[bytes] = mapped_column(LargeBinary)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
