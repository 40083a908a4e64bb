"""The refusals of the opening, each with its stable code (docs/errors.md, "Opening")."""

from __future__ import annotations

from datetime import datetime

from shared.envelope import EnvelopeRejected
from shared.errors import ApiError, Conflict, Forbidden, Unprocessable


def not_due(deadline: datetime) -> Conflict:
    """Before the deadline every opening endpoint answers this, to every caller alike, whatever
    the lot's bids: nothing about who or how many bid may leak (电子招标投标办法 第二十一条)."""
    return Conflict(
        "投标截止时间（即开标时间）未到，开标尚未开始",
        code="opening_not_due",
        details={"bid_deadline": deadline.isoformat(), "basis": "招标投标法 第三十四条"},
    )


def not_a_participant() -> Forbidden:
    return Forbidden("本单位在该标段没有有效投标，不是开标的参加人", code="not_a_participant")


def failed(reason: str, valid_bids: int) -> Conflict:
    return Conflict(
        "投标人少于3个，不得开标，本标段流标；招标人应当依法重新招标",
        code="opening_failed",
        details={"failure_reason": reason, "valid_bid_count": valid_bids, "basis": "招标投标法实施条例 第四十四条"},
    )


def wrong_status(message: str, code: str, status: str) -> Conflict:
    return Conflict(message, code=code, details={"opening_status": status})


def decryption_failed(exc: EnvelopeRejected, attempts: int) -> Unprocessable:
    """The key did not open the bid. The bidder may try again while the window lasts."""
    return Unprocessable(
        exc.message, code="decryption_failed", details={"reason": exc.reason, "failed_attempts": attempts}
    )


class CiphertextUnavailable(ApiError):
    """The stored ciphertext cannot be read: the platform's fault, never the bidder's. The host may
    record the bid as withdrawn (撤回) for it when closing decryption."""

    status_code = 500
    code = "ciphertext_unavailable"
