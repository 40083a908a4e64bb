"""The ledger's API: signed tree heads, the public key, inclusion and consistency proofs.

Supervisors (city and county) read tree heads and proofs; a county supervisor gets inclusion
proofs only for its own platform's events. Anyone authenticated may fetch the public key, so
county systems and bidders' tools can check what supervisors hand them.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request

from services.supervision.ledger import service
from services.supervision.ledger.schemas import ConsistencyProofOut, InclusionProofOut, PublicKeyOut, TreeHeadOut
from shared.auth import Principal, current_principal, ensure_city, require
from shared.db import BIGINT_MAX, DbSession

router = APIRouter(prefix="/ledger", tags=["ledger"])
supervisor = require("supervisor", typ="user")
tree_head_signer = require("supervisor", "admin", typ="user")


@router.get("/tree-heads/latest", response_model=TreeHeadOut)
def latest_tree_head(session: DbSession, _: Principal = Depends(supervisor)) -> TreeHeadOut:
    """The most recent signed tree head. Save it: ``tools/verify_audit.py --tree-head`` later proves
    that the ledger still extends it (nothing altered, inserted or dropped). 404 ``no_tree_head``
    before the first one."""
    return service.latest(session)


@router.post("/tree-heads", response_model=TreeHeadOut, status_code=201)
def sign_tree_head(
    session: DbSession, request: Request, principal: Principal = Depends(tree_head_signer)
) -> TreeHeadOut:
    """Sign a tree head over the ledger as it is now (city supervisors and administrators only).
    The service also signs one by itself at least every 10 s while the ledger grows."""
    ensure_city(principal)
    return service.sign_now(session, principal, request.app.state.settings.ledger_signing_key)


@router.get("/public-key", response_model=PublicKeyOut)
def public_key(request: Request, _: Principal = Depends(current_principal)) -> PublicKeyOut:
    """The Ed25519 key that signs tree heads, and the layout of the bytes it signs."""
    return service.public_key(request.app.state.settings.ledger_signing_key)


@router.get("/events/{event_id}/inclusion-proof", response_model=InclusionProofOut)
def inclusion_proof(
    session: DbSession,
    event_id: uuid.UUID,
    principal: Principal = Depends(supervisor),
    tree_size: int | None = Query(None, ge=1, le=BIGINT_MAX, description="default: the latest signed tree head"),
) -> InclusionProofOut:
    """Proof that the event is leaf ``leaf_index`` of the tree of ``tree_size`` leaves (RFC 6962
    audit path; verify with RFC 9162 §2.1.3.2 against ``root_hash`` and a signed tree head).
    Another county's event answers 404, as an absent one does; a size beyond the ledger 422
    ``tree_size_out_of_range``; an event newer than that size 422 ``event_not_in_tree``."""
    return service.inclusion_proof(session, principal, event_id, tree_size)


@router.get("/consistency-proof", response_model=ConsistencyProofOut)
def consistency_proof(
    session: DbSession,
    _: Principal = Depends(supervisor),
    first: int = Query(ge=1, le=BIGINT_MAX, description="the older tree size"),
    second: int | None = Query(None, ge=1, le=BIGINT_MAX, description="default: the latest signed tree head"),
) -> ConsistencyProofOut:
    """Proof that the tree of ``second`` leaves extends the tree of ``first`` leaves unchanged
    (RFC 6962 §2.1.2; verify with RFC 9162 §2.1.4.2). ``first`` > ``second`` answers 422
    ``invalid_consistency_range``; a size beyond the ledger 422 ``tree_size_out_of_range``."""
    return service.consistency_proof(session, first, second)
