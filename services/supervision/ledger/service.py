"""The ledger operations behind the API: tree heads on demand, inclusion and consistency proofs."""

from __future__ import annotations

import base64
import uuid
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.supervision.audit import emit
from services.supervision.ingest.models import StoredEvent
from services.supervision.ledger import merkle
from services.supervision.ledger.models import LedgerLeaf, LedgerTreeHead
from services.supervision.ledger.schemas import ConsistencyProofOut, InclusionProofOut, PublicKeyOut, TreeHeadOut
from services.supervision.ledger.store import ledger_head, lookup
from services.supervision.ledger.tree_heads import (
    LAYOUT,
    SignedTreeHead,
    latest_tree_head,
    sign_tree_head,
    tree_head_of_size,
)
from shared import ed25519_keys as keys
from shared.auth import Principal, ensure_platform_access
from shared.errors import NotFound, Unprocessable


@lru_cache(maxsize=4)
def signing_key(setting: str) -> Ed25519PrivateKey:
    return keys.signing_key(setting)


def tree_head_out(row: LedgerTreeHead) -> TreeHeadOut:
    return TreeHeadOut(**SignedTreeHead.from_row(row).to_json())


def public_key(setting: str) -> PublicKeyOut:
    public = signing_key(setting).public_key()
    return PublicKeyOut(
        key_id=keys.key_id(public),
        public_key=base64.b64encode(keys.public_key_bytes(public)).decode(),
        public_key_pem=keys.public_key_pem(public),
        tree_head_format=LAYOUT,
    )


def latest(session: Session) -> TreeHeadOut:
    row = latest_tree_head(session)
    if row is None:
        raise NotFound("尚无签名树头", code="no_tree_head")
    return tree_head_out(row)


def sign_now(session: Session, principal: Principal, setting: str) -> TreeHeadOut:
    row = sign_tree_head(session, signing_key(setting))
    emit(
        session,
        principal=principal,
        action="ledger.tree_head_signed",
        object_type="ledger_tree_head",
        object_id=str(row.id),
        change={"tree_size": row.tree_size, "root_hash": row.root_hash.hex()},
        platform=principal.platform,
    )
    return tree_head_out(row)


def inclusion_proof(
    session: Session, principal: Principal, event_id: uuid.UUID, tree_size: int | None
) -> InclusionProofOut:
    found = session.execute(
        select(StoredEvent.platform, LedgerLeaf.leaf_index, LedgerLeaf.leaf_hash)
        .join(LedgerLeaf, LedgerLeaf.audit_event_id == StoredEvent.id)
        .where(StoredEvent.event_id == event_id)
    ).first()
    if found is None:
        raise NotFound("事件不存在")
    ensure_platform_access(principal, found.platform or "", what="事件")
    size = _tree_size(session, tree_size)
    if found.leaf_index >= size:
        raise Unprocessable(
            "该事件晚于所请求的树头，尚未纳入",
            code="event_not_in_tree",
            details={"leaf_index": found.leaf_index, "tree_size": size},
        )
    # The root and the path in one resolve: one round of primary-key lookups for the whole answer.
    root, *path = merkle.resolve([(0, size), *merkle.inclusion_ranges(found.leaf_index, size)], lookup(session))
    head = tree_head_of_size(session, size)
    return InclusionProofOut(
        event_id=str(event_id),
        leaf_index=found.leaf_index,
        leaf_hash=found.leaf_hash.hex(),
        tree_size=size,
        root_hash=root.hex(),
        audit_path=[h.hex() for h in path],
        tree_head=tree_head_out(head) if head is not None else None,
    )


def consistency_proof(session: Session, first: int, second: int | None) -> ConsistencyProofOut:
    size = _tree_size(session, second)
    if first > size:
        raise Unprocessable(
            "first 不能大于 second", code="invalid_consistency_range", details={"first": first, "second": size}
        )
    ranges = merkle.consistency_ranges(first, size) if first < size else []
    first_root, second_root, *proof = merkle.resolve([(0, first), (0, size), *ranges], lookup(session))
    return ConsistencyProofOut(
        first=first,
        second=size,
        first_root=first_root.hex(),
        second_root=second_root.hex(),
        proof=[h.hex() for h in proof],
    )


def _tree_size(session: Session, requested: int | None) -> int:
    """The requested size if the ledger has that many leaves; by default the latest signed size."""
    if requested is None:
        head = latest_tree_head(session)
        if head is None:
            raise NotFound("尚无签名树头", code="no_tree_head")
        return head.tree_size
    ledger_size, _ = ledger_head(session)
    if requested > ledger_size:
        raise Unprocessable(
            "账本尚无这么多条目",
            code="tree_size_out_of_range",
            details={"tree_size": requested, "ledger_size": ledger_size},
        )
    return requested
