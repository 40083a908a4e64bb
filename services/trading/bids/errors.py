"""The refusals of bid submission, withdrawal and deposits, each with its stable code."""

from __future__ import annotations

from datetime import datetime

from shared.envelope import EnvelopeRejected
from shared.errors import ApiError, Conflict, Forbidden, NotFound, Unprocessable


def envelope_rejected(exc: EnvelopeRejected) -> Unprocessable:
    """Anything that is not a well-formed, trusted envelope for this lot and bidder: the platform
    takes only encrypted bids (电子招标投标办法 第二十六条)."""
    return Unprocessable(
        exc.message,
        code="envelope_rejected",
        details={"reason": exc.reason, "certificate_reason": exc.certificate_reason},
    )


def deadline_passed(lot_id: object, deadline: datetime) -> Conflict:
    return Conflict(
        "投标截止时间已过，不再接收投标文件，也不能修改或撤回",
        code="bid_deadline_passed",
        details={"lot_id": str(lot_id), "bid_deadline": deadline.isoformat(), "basis": "招标投标法 第二十八条"},
    )


def no_organisation() -> Forbidden:
    return Forbidden("投标须以投标单位身份登录", code="no_organisation")


def bid_not_found() -> NotFound:
    return NotFound("本单位在该标段没有投标", code="bid_not_found")


def bidder_banned(records: list[dict[str, object]]) -> Forbidden:
    return Forbidden(
        "该投标人因不良行为记录被禁止参加投标",
        code="bidder_banned",
        details={"active_records": records},
    )


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "unsupported_media_type"
