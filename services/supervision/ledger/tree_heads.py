"""Signed tree heads (STH): what is signed, how it travels as JSON, and how one is made.

The signature is Ed25519 over these bytes (integers big-endian, 102 bytes in all):

    b"JINCHENG-AUDIT-STH-V1\\x00"   22 bytes, names the format (domain separation)
    tree_size                       uint64
    timestamp                       int64, microseconds since 1970-01-01T00:00:00Z (database clock)
    root_hash                       32 bytes, RFC 6962 MTH of the first tree_size leaves
    chain_head                      32 bytes, chain hash of leaf tree_size - 1 (32 zero bytes if empty)

As JSON (GET /ledger/tree-heads/latest, and the file ``tools/verify_audit.py --tree-head`` reads):
``{"tree_size", "root_hash" (hex), "chain_head" (hex), "timestamp" (ISO 8601 UTC, microseconds),
"key_id", "signature" (base64)}``.
"""

from __future__ import annotations

import base64
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.supervision.ledger import merkle
from services.supervision.ledger.models import LedgerTreeHead
from services.supervision.ledger.store import ledger_head, root_at
from shared.db import db_now
from shared.ed25519_keys import key_id

FORMAT = b"JINCHENG-AUDIT-STH-V1\x00"
LAYOUT = (
    'Ed25519 over "JINCHENG-AUDIT-STH-V1" 0x00 || uint64 tree_size || int64 timestamp (microseconds since '
    "1970-01-01T00:00:00Z) || root_hash (32 bytes) || chain_head (32 bytes); integers big-endian"
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Signing is serialised so concurrent signers (replicas, the API) never sign sizes out of order.
SIGN_LOCK = zlib.crc32(b"supervision:ledger:sign")


def timestamp_micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class SignedTreeHead:
    tree_size: int
    root_hash: bytes
    chain_head: bytes
    timestamp: datetime
    key_id: str
    signature: bytes

    def signed_bytes(self) -> bytes:
        return tree_head_bytes(self.tree_size, timestamp_micros(self.timestamp), self.root_hash, self.chain_head)

    def signature_valid(self, public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(self.signature, self.signed_bytes())
        except InvalidSignature:
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "chain_head": self.chain_head.hex(),
            "timestamp": self.timestamp.astimezone(UTC).isoformat(timespec="microseconds"),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
        }

    @classmethod
    def from_json(cls, data: Any) -> SignedTreeHead:
        """Parse a saved tree head; ValueError says what is malformed."""
        if not isinstance(data, dict):
            raise ValueError("a tree head is a JSON object")
        try:
            size, moment = data["tree_size"], datetime.fromisoformat(data["timestamp"])
            head = cls(
                tree_size=size,
                root_hash=bytes.fromhex(data["root_hash"]),
                chain_head=bytes.fromhex(data["chain_head"]),
                timestamp=moment,
                key_id=str(data.get("key_id", "")),
                signature=base64.b64decode(data["signature"], validate=True),
            )
        except KeyError as missing:
            raise ValueError(f"tree head lacks {missing}") from None
        except (TypeError, ValueError) as exc:  # bad hex, base64 (binascii.Error) or ISO 8601
            raise ValueError(f"tree head is malformed: {exc}") from None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("tree_size must be a non-negative integer")
        if moment.tzinfo is None:
            raise ValueError("timestamp must carry its UTC offset")
        if len(head.root_hash) != merkle.HASH_SIZE or len(head.chain_head) != merkle.HASH_SIZE:
            raise ValueError("root_hash and chain_head must be 32 bytes (64 hex digits)")
        return head

    @classmethod
    def from_row(cls, row: LedgerTreeHead) -> SignedTreeHead:
        return cls(row.tree_size, row.root_hash, row.chain_head, row.timestamp, row.key_id, row.signature)


def tree_head_bytes(tree_size: int, timestamp_us: int, root_hash: bytes, chain_head: bytes) -> bytes:
    return FORMAT + struct.pack(">Qq", tree_size, timestamp_us) + root_hash + chain_head


def sign(
    key: Ed25519PrivateKey, tree_size: int, root_hash: bytes, chain_head: bytes, moment: datetime
) -> SignedTreeHead:
    signature = key.sign(tree_head_bytes(tree_size, timestamp_micros(moment), root_hash, chain_head))
    return SignedTreeHead(tree_size, root_hash, chain_head, moment, key_id(key.public_key()), signature)


def latest_tree_head(session: Session) -> LedgerTreeHead | None:
    return session.scalars(select(LedgerTreeHead).order_by(LedgerTreeHead.id.desc()).limit(1)).first()


def tree_head_of_size(session: Session, tree_size: int) -> LedgerTreeHead | None:
    return session.scalars(
        select(LedgerTreeHead).where(LedgerTreeHead.tree_size == tree_size).order_by(LedgerTreeHead.id.desc()).limit(1)
    ).first()


def sign_tree_head(session: Session, key: Ed25519PrivateKey) -> LedgerTreeHead:
    """Sign the ledger as committed now and store the tree head."""
    session.execute(select(func.pg_advisory_xact_lock(SIGN_LOCK)))
    return _sign_locked(session, key, *ledger_head(session))


def sign_if_grown(session: Session, key: Ed25519PrivateKey) -> LedgerTreeHead | None:
    """Sign only if the ledger has grown since the latest tree head (what the background signer does)."""
    session.execute(select(func.pg_advisory_xact_lock(SIGN_LOCK)))
    size, chain = ledger_head(session)
    latest = latest_tree_head(session)
    if size == 0 or (latest is not None and latest.tree_size >= size):
        return None
    return _sign_locked(session, key, size, chain)


def _sign_locked(session: Session, key: Ed25519PrivateKey, size: int, chain: bytes) -> LedgerTreeHead:
    head = sign(key, size, root_at(session, size), chain, db_now(session))
    row = LedgerTreeHead(
        tree_size=head.tree_size,
        root_hash=head.root_hash,
        chain_head=head.chain_head,
        timestamp=head.timestamp,
        key_id=head.key_id,
        signature=head.signature,
    )
    session.add(row)
    session.flush()
    return row
