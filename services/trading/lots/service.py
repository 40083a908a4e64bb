from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session

from services.trading.audit import emit
from services.trading.catalogue import service as catalogue
from services.trading.lots.models import Lot, LotHold
from services.trading.lots.rules import check_lot
from services.trading.lots.schemas import LotCreate
from services.trading.projects import service as projects
from services.trading.projects.models import Project
from shared.auth import Principal
from shared.db import db_now
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.workdays import default_calendar

_lots = cast(Table, Lot.__table__)


def _ensure_organiser(principal: Principal, project: Project) -> None:
    if principal.org is None or principal.org not in (project.tenderee_org, project.agency_org):
        raise Forbidden("只有本项目的招标人或代理机构可以设置标段", code="not_your_organisation")


def create(session: Session, principal: Principal, project_id: uuid.UUID, data: LotCreate) -> Lot:
    project = projects.get(session, principal, project_id)
    _ensure_organiser(principal, project)
    # The catalogue version the project was registered under decides, so a later catalogue edit
    # cannot retroactively change the rules of a project already under way.
    category = catalogue.category(catalogue.get_version(session, project.catalogue_version), project.category_code)
    violations = check_lot(category, data, now=db_now(session), calendar=default_calendar())
    if violations:
        raise Unprocessable(
            "标段设置违反法定要求：" + "；".join(v.message for v in violations),
            code="legal_rule_violated",
            details={"violations": [v.as_dict() for v in violations]},
        )
    # Lock the project row so two organisers adding lots at once cannot both take the same number.
    session.execute(select(Project.id).where(Project.id == project.id).with_for_update())
    number = (session.scalar(select(func.max(Lot.lot_no)).where(Lot.project_id == project.id)) or 0) + 1
    lot = Lot(
        project_id=project.id,
        lot_no=number,
        name=data.name,
        estimated_price_fen=data.estimated_price_fen,
        ceiling_price_fen=data.ceiling_price_fen,
        procurement_method=data.procurement_method,
        evaluation=data.evaluation.model_dump(mode="json"),
        documents_from=data.documents_from,
        documents_until=data.documents_until,
        bid_deadline=data.bid_deadline,
        decryption_window_minutes=data.decryption_window_minutes,
        deposit=data.deposit.model_dump(mode="json"),
        price_adjustments=data.price_adjustments.model_dump(mode="json") if data.price_adjustments else None,
        created_by=principal.subject,
    )
    session.add(lot)
    session.flush()
    emit(
        session,
        principal=principal,
        action="lot.created",
        object_type="lot",
        object_id=str(lot.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change={"lot_no": number, **data.model_dump(mode="json")},
    )
    return lot


def get(session: Session, principal: Principal, lot_id: uuid.UUID) -> tuple[Lot, Project]:
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise NotFound("标段不存在")
    try:
        project = projects.get(session, principal, lot.project_id)
    except NotFound:
        raise NotFound("标段不存在") from None
    return lot, project


def of_project(session: Session, principal: Principal, project_id: uuid.UUID) -> list[Lot]:
    project = projects.get(session, principal, project_id)
    return list(session.scalars(select(Lot).where(Lot.project_id == project.id).order_by(Lot.lot_no)))


def lock(session: Session, lot_id: uuid.UUID) -> Lot:
    """The lot, re-read and locked until the transaction ends: status and deadline changes (and
    the decisions that depend on them) serialise on this row."""
    return session.scalars(
        select(Lot).where(Lot.id == lot_id).with_for_update().execution_options(populate_existing=True)
    ).one()


def lock_for_bids(session: Session, lot_id: uuid.UUID) -> Lot:
    """The lot, re-read and share-locked (``FOR SHARE``) until the transaction ends: for a bidder's
    change to its own bid (submit, withdraw, deposit), decided against the deadline and status read here.

    ``FOR SHARE`` conflicts with ``FOR UPDATE`` (:func:`lock`) and with every ``UPDATE`` of the row,
    but not with itself. So bids on one lot are recorded in parallel, while a deadline change, a
    suspension or the opening, which take :func:`lock`, wait for every bid transaction holding the
    share lock to end, and bids arriving after them wait for them and then read what they decided.
    Deadline decisions and bids serialise exactly as with :func:`lock`; bids no longer serialise with
    each other (two bids of one organisation still do, on their bid's row). ``FOR KEY SHARE`` would
    not do: it does not conflict with a plain ``UPDATE`` of the deadline.

    Share lockers do not queue behind a waiting :func:`lock`: while bid transactions overlap without
    a gap, a writer waits for one. Each holds the lock for milliseconds (the upload is done before),
    so the wait is short (docs/adr/0007-bid-surge.md gives the figure measured under a surge)."""
    return session.scalars(_LOCK_FOR_BIDS, {"lot_id": lot_id}).one()


@dataclass(frozen=True)
class LotState:
    """What a bid's decisions read of its lot: whether it is suspended, and its deadline."""

    id: uuid.UUID
    status: str
    bid_deadline: datetime


# Built once: they run in every bid's transaction.
_LOCK_FOR_BIDS = (
    select(Lot)
    .where(Lot.id == bindparam("lot_id"))
    .with_for_update(read=True)
    .execution_options(populate_existing=True)
)
# The lot share-locked (as :func:`lock_for_bids`) in a ``MATERIALIZED`` CTE, bound by ``lot_id``, for
# a statement that reads the database clock over it in the same round trip (Core: it runs in every
# bid's transaction, and loading an ORM object cost more than the query). A row reaches the outer
# query only after the CTE's ``LockRows`` has locked it, so a clock read there cannot be older than
# the lock. (Read in the locking ``SELECT`` itself, it would be evaluated when the scan finds the row,
# before a wait for the lock, and again after it only if the row had been updated.) The bid
# submission's lock (services/trading/bids/service.py) is the one that reads it.
LOCKED_FOR_BIDS = (
    select(_lots.c.id, _lots.c.status, _lots.c.bid_deadline)
    .where(_lots.c.id == bindparam("lot_id"))
    .with_for_update(read=True)
    .cte("locked")
    .prefix_with("MATERIALIZED")
)


def ensure_not_suspended(lot: Lot | LotState) -> None:
    if lot.status == "suspended":
        raise Conflict(
            "标段已暂停（异议待答复或监管部门暂停），暂不能进行此操作",
            code="lot_suspended",
            details={"lot_id": str(lot.id), "basis": "招标投标法实施条例 第二十二条"},
        )


def hold(session: Session, principal: Principal, lot: Lot, project: Project, reference: str, reason: str) -> bool:
    """Suspend a locked lot for ``reference`` (idempotent). Returns whether a new hold was placed."""
    if session.get(LotHold, (lot.id, reference)) is not None:
        return False
    session.add(LotHold(lot_id=lot.id, reference=reference, reason=reason, placed_by=principal.subject))
    was = lot.status
    lot.status = "suspended"
    session.flush()
    emit(
        session,
        principal=principal,
        action="lot.suspended",
        object_type="lot",
        object_id=str(lot.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change={"reference": reference, "reason": reason, "from": was, "to": lot.status},
    )
    return True


def release(session: Session, principal: Principal, lot: Lot, project: Project, reference: str) -> bool:
    """Lift the hold ``reference`` of a locked lot (idempotent); the lot resumes when none is left."""
    existing = session.get(LotHold, (lot.id, reference))
    if existing is None:
        return False
    session.delete(existing)
    session.flush()
    remaining = session.scalar(select(func.count()).select_from(LotHold).where(LotHold.lot_id == lot.id)) or 0
    was = lot.status
    lot.status = "suspended" if remaining else "active"
    emit(
        session,
        principal=principal,
        action="lot.resumed" if lot.status == "active" else "lot.hold_released",
        object_type="lot",
        object_id=str(lot.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change={"reference": reference, "remaining_holds": remaining, "from": was, "to": lot.status},
    )
    return True


def move_deadline(
    session: Session,
    principal: Principal,
    lot: Lot,
    project: Project,
    new_deadline: datetime,
    *,
    reason: dict[str, Any],
) -> datetime:
    """Put the bid deadline (= opening time) of a locked lot at ``new_deadline``; returns the old one."""
    previous, lot.bid_deadline = lot.bid_deadline, new_deadline
    session.flush()
    emit(
        session,
        principal=principal,
        action="lot.deadline_moved",
        object_type="lot",
        object_id=str(lot.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change={"from": previous.isoformat(), "to": new_deadline.isoformat(), **reason},
    )
    return previous
