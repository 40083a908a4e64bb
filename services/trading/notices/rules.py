"""The deadlines of 条例 第二十一条 and 第二十二条 as pure functions of the times involved.

Pure (the caller passes the database's *now*) so each boundary is tested directly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from shared.errors import Unprocessable

CLARIFICATION_BASIS = "招标投标法实施条例 第二十一条"
OBJECTION_BASIS = "招标投标法实施条例 第二十二条"
# A clarification that may affect the preparation of bids must be issued at least 15 days before
# the bid deadline; otherwise the deadline moves so that 15 days remain.
MIN_CLARIFICATION_NOTICE = timedelta(days=15)
# Objections to the tender documents are raised at least 10 days before the bid deadline …
MIN_OBJECTION_NOTICE = timedelta(days=10)
# … and answered within 3 days of receipt; tendering is suspended meanwhile.
OBJECTION_REPLY_PERIOD = timedelta(days=3)

TenderStatus = Literal["open", "suspended", "closed"]


def deadline_after_clarification(
    *, issued_at: datetime, bid_deadline: datetime, requested: datetime | None
) -> datetime:
    """The bid deadline once a clarification is issued at ``issued_at``: the current one if it is
    still at least 15 days away and no move is requested, else ``requested``, which must then be at
    least 15 days after issue. Deadlines only move later, never earlier."""
    target = bid_deadline if requested is None else requested
    if target < bid_deadline:
        raise Unprocessable(
            "投标截止时间只能顺延，不能提前",
            code="deadline_not_later",
            details={"bid_deadline": bid_deadline.isoformat()},
        )
    earliest = issued_at + MIN_CLARIFICATION_NOTICE
    if target < earliest:
        raise Unprocessable(
            "澄清或者修改发出之日至投标截止时间不足15日，须同时将投标截止时间顺延至发出之日起15日以后",
            code="clarification_requires_deadline_move",
            details={
                "basis": CLARIFICATION_BASIS,
                "bid_deadline": bid_deadline.isoformat(),
                "earliest_new_deadline": earliest.isoformat(),
            },
        )
    return target


def check_objection_in_time(*, filed_at: datetime, bid_deadline: datetime) -> None:
    latest = bid_deadline - MIN_OBJECTION_NOTICE
    if filed_at > latest:
        raise Unprocessable(
            "对招标文件有异议的，应当在投标截止时间10日前提出",
            code="objection_too_late",
            details={"basis": OBJECTION_BASIS, "latest": latest.isoformat(), "bid_deadline": bid_deadline.isoformat()},
        )


def reply_due(filed_at: datetime) -> datetime:
    return filed_at + OBJECTION_REPLY_PERIOD


def tender_status(lots: list[tuple[str, datetime]], now: datetime) -> TenderStatus:
    """What a notice's tender is doing, from its lots' (status, bid deadline): a suspended lot
    makes it ``suspended``; otherwise ``open`` while any lot's deadline is ahead, then ``closed``."""
    if any(status == "suspended" for status, _ in lots):
        return "suspended"
    if any(deadline > now for _, deadline in lots):
        return "open"
    return "closed"
