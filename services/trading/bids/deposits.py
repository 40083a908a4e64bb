"""Bid deposits (投标保证金): declared by the bidder per the lot's rule, refunds tracked by the centre.

The bidder chooses the form among those the lot allows (GP: never cash and never restricted,
政府采购法实施条例 第三十三条; 财库〔2019〕38号 — the lot's rule was checked when it was set). Refunds
are due within 5 days of the withdrawal (条例 第三十五条) or of the result (第五十七条). Who paid a
deposit is part of who bid, so the centre's view opens only at the deadline (电子招标投标办法 第二十一条).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.trading.audit import emit
from services.trading.bids.models import Bid, BidDeposit
from services.trading.bids.schemas import DepositIn
from services.trading.bids.service import REFUND_DAYS, lock_own_active_bid
from services.trading.lots import service as lots
from services.trading.lots.models import Lot
from services.trading.lots.schemas import NON_CASH_FORMS
from services.trading.projects.models import Project
from shared.auth import Principal
from shared.db import db_now, db_today
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable

SHANGHAI = ZoneInfo("Asia/Shanghai")


def allowed_forms(rule: dict[str, Any]) -> tuple[str, ...]:
    """The forms a bidder may choose under the lot's deposit rule: the lot's list if it has one,
    otherwise every non-cash form (cash only where the lot names it)."""
    if not rule.get("required"):
        return ("waived",)
    forms = rule.get("forms")
    return tuple(forms) if forms else NON_CASH_FORMS


def check_form(rule: dict[str, Any], form: str) -> None:
    allowed = allowed_forms(rule)
    if form in allowed:
        return
    if form == "waived":
        raise Unprocessable("本标段要求提交投标保证金", code="deposit_required", details={"allowed": list(allowed)})
    if allowed == ("waived",):
        raise Unprocessable("本标段不收取投标保证金", code="deposit_not_required", details={"allowed": ["waived"]})
    raise Unprocessable(
        "本标段不接受该形式的投标保证金", code="deposit_form_not_allowed", details={"allowed": list(allowed)}
    )


def is_overdue(deposit: BidDeposit, today: date) -> bool:
    """Not refunded by its due date, or refunded after it (a late refund stays on the record)."""
    due = deposit.refund_due_on
    if due is None:
        return False
    if deposit.refunded_at is None:
        return today > due
    return deposit.refunded_at.astimezone(SHANGHAI).date() > due


# --- the bidder ----------------------------------------------------------------------------------


def record(session: Session, principal: Principal, lot_id: uuid.UUID, data: DepositIn) -> BidDeposit:
    """Declare (or correct) the deposit of the caller's bid, before the deadline."""
    own = lock_own_active_bid(session, principal, lot_id)
    lot, project, now, bid = own.lot, own.project, own.now, own.bid
    check_form(lot.deposit, data.form)
    amount = 0 if data.form == "waived" else int(lot.deposit.get("amount_fen", 0))
    deposit = session.get(BidDeposit, bid.id)
    if deposit is None:
        deposit = BidDeposit(bid_id=bid.id)
        session.add(deposit)
    deposit.form, deposit.amount_fen = data.form, amount
    deposit.reference, deposit.document_sha256, deposit.payer_account = (
        data.reference,
        data.document_sha256,
        data.payer_account,
    )
    deposit.recorded_at, deposit.recorded_by = now, principal.subject
    session.flush()
    emit(
        session,
        principal=principal,
        action="bid.deposit_recorded",
        object_type="bid",
        object_id=str(bid.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change={"amount_fen": amount, **data.model_dump(mode="json")},
    )
    return deposit


# --- the trading centre (after the deadline) ------------------------------------------------------


def _after_deadline(session: Session, principal: Principal, lot_id: uuid.UUID) -> tuple[Lot, Project, datetime]:
    lot, project = lots.get(session, principal, lot_id)
    now = db_now(session)
    if now < lot.bid_deadline:
        raise Forbidden(
            "投标截止时间前不得披露投标人名称、数量及保证金情况",
            code="secret_until_deadline",
            details={"bid_deadline": lot.bid_deadline.isoformat(), "basis": "电子招标投标办法 第二十一条"},
        )
    return lot, project, now


def of_lot(session: Session, principal: Principal, lot_id: uuid.UUID) -> tuple[list[tuple[Bid, BidDeposit]], date]:
    lot, _, _ = _after_deadline(session, principal, lot_id)
    query = select(Bid, BidDeposit).join(BidDeposit, BidDeposit.bid_id == Bid.id).where(Bid.lot_id == lot.id)
    rows = session.execute(query.order_by(Bid.id))
    return [(bid, deposit) for bid, deposit in rows.tuples()], db_today(session)


def set_result_date(
    session: Session, principal: Principal, lot_id: uuid.UUID, result_on: date
) -> tuple[list[tuple[Bid, BidDeposit]], date]:
    """Record when the lot's result was given: every deposit not yet refunded (nor already due
    because of a withdrawal) is due 5 days later (条例 第五十七条)."""
    lot, project, _ = _after_deadline(session, principal, lot_id)
    lots.lock(session, lot.id)
    today = db_today(session)
    deadline_day = lot.bid_deadline.astimezone(SHANGHAI).date()
    if not deadline_day <= result_on <= today:
        raise Unprocessable(
            "结果日期须在投标截止日之后且不晚于今天",
            code="invalid_result_date",
            details={"earliest": deadline_day.isoformat(), "latest": today.isoformat()},
        )
    due = result_on + timedelta(days=REFUND_DAYS)
    rows = session.execute(
        select(Bid, BidDeposit)
        .join(BidDeposit, BidDeposit.bid_id == Bid.id)
        .where(Bid.lot_id == lot.id)
        .order_by(Bid.id)
        .with_for_update(of=BidDeposit)
    ).tuples()
    found = list(rows)
    changed = []
    for bid, deposit in found:
        if deposit.form == "waived" or deposit.refunded_at is not None or deposit.refund_basis == "withdrawal":
            continue
        deposit.refund_due_on, deposit.refund_basis = due, "result"
        changed.append(str(bid.id))
    session.flush()
    emit(
        session,
        principal=principal,
        action="lot.deposit_refunds_due",
        object_type="lot",
        object_id=str(lot.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change={"result_on": result_on.isoformat(), "refund_due_on": due.isoformat(), "bid_ids": changed},
    )
    return found, today


def mark_refunded(
    session: Session, principal: Principal, lot_id: uuid.UUID, bid_id: uuid.UUID, reference: str | None
) -> tuple[Bid, BidDeposit, date]:
    """The centre refunded the deposit: recorded with the database's time."""
    lot, project, now = _after_deadline(session, principal, lot_id)
    bid = session.get(Bid, bid_id)
    if bid is None or bid.lot_id != lot.id:
        raise NotFound("投标不存在")
    deposit = session.get(BidDeposit, bid.id, with_for_update=True)
    if deposit is None:
        raise NotFound("该投标没有登记投标保证金", code="deposit_not_found")
    if deposit.form == "waived":
        raise Conflict("该投标未交投标保证金，无需退还", code="deposit_waived")
    if deposit.refunded_at is not None:
        raise Conflict("投标保证金已退还", code="deposit_already_refunded")
    deposit.refunded_at, deposit.refunded_by, deposit.refund_reference = now, principal.subject, reference
    session.flush()
    today = db_today(session)
    emit(
        session,
        principal=principal,
        action="bid.deposit_refunded",
        object_type="bid",
        object_id=str(bid.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change={
            "bidder_org": bid.bidder_org,
            "refunded_at": now.isoformat(),
            "reference": reference,
            "refund_due_on": deposit.refund_due_on.isoformat() if deposit.refund_due_on else None,
            "overdue": is_overdue(deposit, today),
        },
    )
    return bid, deposit, today
