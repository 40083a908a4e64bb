"""Who may see or act on a lot's opening, and the one decision taken once the deadline has passed.

Every opening endpoint goes through :func:`enter`, in this order: the lot must be announced by a
published notice; the caller must be a host of it (its tenderee or agency, or trading-centre staff
of its platform), a supervisor of its platform, a bidder, or (for the result) a service of its
platform — anyone else, a person of another county included, gets 404 as everywhere in trading;
then the database clock must have reached the deadline. Until it has, every caller gets the same
``opening_not_due`` whatever the lot's bids, because whether a bidder is a participant is decided
only after that check (电子招标投标办法 第二十一条).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.trading.audit import emit
from services.trading.bids.models import Bid, BidVersion
from services.trading.bids.service import open_lot
from services.trading.lots import service as lots
from services.trading.lots.models import Lot
from services.trading.notices.service import is_organiser
from services.trading.opening import errors
from services.trading.opening.models import Opening, OpeningBid, OpeningEvent
from services.trading.projects import service as projects
from services.trading.projects.models import Project
from shared.auth import Principal
from shared.db import db_now
from shared.errors import NotFound
from shared.platforms import can_access

Role = Literal["host", "supervisor", "bidder", "service"]
# 招标投标法实施条例 第四十四条: fewer than three bidders, no opening.
MIN_BIDS = 3
FEWER_THAN_THREE = "fewer_than_three_bids"
SYSTEM_ACTOR = "system:opening"


def stamp(moment: datetime) -> str:
    """UTC with microseconds and a Z, the form of every time in the record and the feed."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def role_of(principal: Principal, project: Project) -> Role | None:
    """The caller's part in the opening of the project's lots, or None (answered 404)."""
    if principal.typ == "service":
        return "service" if can_access(principal.platform, project.platform) else None
    # The opening is hosted by the tenderee (招标投标法 第三十五条) or its agency; the trading
    # centre's staff run the hall for them.
    if projects.can_see(principal, project) and is_organiser(principal, project):
        return "host"
    if principal.has_role("operator", "admin") and can_access(principal.platform, project.platform):
        return "host"
    if principal.has_role("supervisor") and can_access(principal.platform, project.platform):
        return "supervisor"
    # Bidders of every platform may bid (no regional barriers); whether this one did is asked
    # only after the deadline.
    if principal.has_role("bidder"):
        return "bidder"
    return None


@dataclass(frozen=True)
class Entry:
    lot: Lot
    project: Project
    opening: Opening
    role: Role
    now: datetime
    # The caller's bid in the opening: bidders only, and None when the lot failed (a failed lot
    # fixes no bids, but its valid bidders still read the failure).
    own: OpeningBid | None


def enter(session: Session, principal: Principal, lot_id: uuid.UUID, *, roles: tuple[Role, ...]) -> Entry:
    lot, project = open_lot(session, lot_id)
    role = role_of(principal, project)
    if role is None or role not in roles:
        raise NotFound("标段不存在")
    now = db_now(session)
    if now < lot.bid_deadline:
        raise errors.not_due(lot.bid_deadline)
    opening = settle(session, principal, lot, project)
    own: OpeningBid | None = None
    if role == "bidder":
        if principal.org is None:
            raise errors.not_a_participant()
        valid = session.scalars(
            select(Bid).where(Bid.lot_id == lot.id, Bid.bidder_org == principal.org, Bid.status == "submitted")
        ).first()
        if valid is None:
            raise errors.not_a_participant()
        own = session.get(OpeningBid, valid.id)
    return Entry(lot=lot, project=project, opening=opening, role=role, now=db_now(session), own=own)


def settle(session: Session, principal: Principal, lot: Lot, project: Project) -> Opening:
    """The lot's opening row, created by the first request after the deadline.

    Under the lot's lock, which every bid submission and withdrawal also takes and which refuses
    them from the deadline on, so the bids counted here are final: the lot fails (流标) if fewer
    than three are valid, otherwise the valid ones are fixed as the bids of the opening. Decided
    once: a concurrent request waits for the lock and then finds the row."""
    opening = session.get(Opening, lot.id)
    if opening is not None:
        return opening
    locked = lots.lock(session, lot.id)
    opening = session.scalars(
        select(Opening).where(Opening.lot_id == lot.id).execution_options(populate_existing=True)
    ).first()
    if opening is not None:
        return opening
    now = db_now(session)
    if now < locked.bid_deadline:  # the deadline was moved while this request was on its way
        raise errors.not_due(locked.bid_deadline)
    rows = session.execute(
        select(Bid, BidVersion)
        .join(BidVersion, (BidVersion.bid_id == Bid.id) & (BidVersion.version == Bid.latest_version))
        .where(Bid.lot_id == lot.id, Bid.status == "submitted")
        .order_by(Bid.bidder_credit_code)
    ).tuples()
    valid = list(rows)
    failed = len(valid) < MIN_BIDS
    opening = Opening(
        lot_id=lot.id,
        status="failed" if failed else "awaiting_start",
        decided_at=now,
        valid_bid_count=len(valid),
        failure_reason=FEWER_THAN_THREE if failed else None,
        last_event_seq=0,
    )
    session.add(opening)
    if not failed:
        session.add_all(
            OpeningBid(
                bid_id=bid.id,
                lot_id=lot.id,
                bidder_org=bid.bidder_org,
                bidder_credit_code=bid.bidder_credit_code,
                version=version.version,
                ciphertext_sha256=version.ciphertext_sha256,
                plaintext_sha256=version.plaintext_sha256,
                status="pending",
                failed_attempts=0,
            )
            for bid, version in valid
        )
    session.flush()
    bids = [
        {"bid_id": str(b.id), "bidder_org": b.bidder_org, "bidder_credit_code": b.bidder_credit_code} for b, _ in valid
    ]
    if failed:
        append(session, lot.id, "opening.failed", {"failure_reason": FEWER_THAN_THREE, "valid_bid_count": len(valid)})
    else:
        append(session, lot.id, "opening.due", {"bid_deadline": stamp(locked.bid_deadline), "bids": bids})
    # Decided by the deadline, not by whoever happened to ask first: the system is the actor.
    emit(
        session,
        principal=None,
        actor=SYSTEM_ACTOR,
        actor_role="system",
        action="opening.failed" if failed else "opening.bids_fixed",
        object_type="lot",
        object_id=str(lot.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change={
            "decided_at": now.isoformat(),
            "bid_deadline": locked.bid_deadline.isoformat(),
            "valid_bid_count": len(valid),
            "failure_reason": FEWER_THAN_THREE if failed else None,
            "basis": "招标投标法实施条例 第四十四条" if failed else "招标投标法 第三十四条",
            "bids": [
                {**b, "version": v.version, "ciphertext_sha256": v.ciphertext_sha256}
                for b, (_, v) in zip(bids, valid, strict=True)
            ],
            "triggered_by": principal.subject,
        },
    )
    return opening


def append(session: Session, lot_id: uuid.UUID, kind: str, data: dict[str, Any]) -> int:
    """Add an event to the lot's feed in the caller's transaction; returns its number.

    The number comes from the opening row, updated (and so locked) until the transaction ends:
    a second writer waits, and gets the next number only once the first has committed or rolled
    back. Readers polling "after n" therefore never see n + 1 before n."""
    session.flush()
    seq = session.execute(
        update(Opening)
        .where(Opening.lot_id == lot_id)
        .values(last_event_seq=Opening.last_event_seq + 1)
        .returning(Opening.last_event_seq)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    session.add(OpeningEvent(lot_id=lot_id, seq=seq, kind=kind, data=data))
    return int(seq)


def lock_opening(session: Session, lot_id: uuid.UUID) -> Opening:
    return session.scalars(
        select(Opening).where(Opening.lot_id == lot_id).with_for_update().execution_options(populate_existing=True)
    ).one()


def lock_bid(session: Session, bid_id: uuid.UUID) -> OpeningBid:
    return session.scalars(
        select(OpeningBid)
        .where(OpeningBid.bid_id == bid_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def ensure_failed_not(opening: Opening) -> None:
    if opening.status == "failed":
        assert opening.failure_reason is not None  # noqa: S101 - table constraint failure
        raise errors.failed(opening.failure_reason, opening.valid_bid_count)
