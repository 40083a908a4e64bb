"""``Idempotency-Key`` for bid submission, per bidder organisation.

A submission streams for a long time without a database transaction, so "in flight" cannot be an
open transaction or a lock: it is a claim row committed before the upload starts (the one write
outside the request's final transaction, and it records no business fact). The final transaction
binds the claim to the receipt; any failure deletes the claim, so a refused or interrupted attempt
does not burn the key. A claim left behind by a process that died mid-upload is taken over once it
is older than ``TRADING_IDEMPOTENCY_CLAIM_SECONDS``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import String, Table, column, delete, select, text
from sqlalchemy.orm import Session

from services.trading.bids.models import BidSubmissionKey
from shared.errors import Conflict, Unprocessable

_keys = cast(Table, BidSubmissionKey.__table__)
# Built once, run once per bid (Core, not the ORM: a surge pays every statement's overhead per bid).
# As text: SQLAlchemy does not cache the PostgreSQL INSERT … ON CONFLICT construct (its dialect
# Insert opts out of statement caching), so built from Core it would be compiled again for every bid.
_CLAIM = text(
    "insert into trading.bid_submission_keys (bidder_org, key, lot_id, claim_token, claimed_at)"
    " values (:bidder_org, :key, :lot_id, :claim_token, :claimed_at) on conflict do nothing returning key"
)
# The claim of a fresh key as a CTE of a submission's first statement (services/trading/bids/service.py),
# so that the common case takes no round trip of its own; :func:`claim` does the rest (a key in use or
# done). Only for a lot that exists: the lot's own checks in that statement decide the rest, and a
# refusal rolls the claim back with them.
CLAIM_FRESH = (
    text(
        "insert into trading.bid_submission_keys (bidder_org, key, lot_id, claim_token, claimed_at)"
        " select :bidder_org, :key, id, :claim_token, clock_timestamp() from trading.lots where id = :lot_id"
        " on conflict do nothing returning key"
    )
    .columns(column("key", String))
    .cte("claimed")
)

# Binding a claim to its receipt: the last part of the statement that records a bid
# (services/trading/bids/service.py), so that the receipt, the version and the claim take one round
# trip. Only a claim still held by this attempt and not bound yet is bound; no row back means the
# claim was taken over as abandoned while the upload ran.
BIND_CLAIM = (
    "update trading.bid_submission_keys set body_sha256 = :k_body, receipt_no = :k_receipt, completed_at = :k_at"
    " where bidder_org = :k_org and key = :k_key and claim_token = :k_token and receipt_no is null returning key"
)


def bind_params(held: Claim, *, body_sha256: str, receipt_no: str, now: datetime) -> dict[str, object]:
    return {
        "k_org": held.org,
        "k_key": held.key,
        "k_token": held.token,
        "k_body": body_sha256,
        "k_receipt": receipt_no,
        "k_at": now,
    }


KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class Claim:
    org: str
    key: str
    token: uuid.UUID


@dataclass(frozen=True)
class Replay:
    """The key already produced a receipt; the retry's body decides between replay and misuse."""

    lot_id: uuid.UUID
    body_sha256: str
    receipt_no: str


def check_key(value: str) -> str:
    if not KEY_PATTERN.match(value):
        raise Unprocessable(
            "Idempotency-Key 须为 1–128 个字母、数字或 . _ : - 字符（建议使用 UUID）", code="invalid_idempotency_key"
        )
    return value


def in_progress() -> Conflict:
    return Conflict(
        "使用同一 Idempotency-Key 的上一次提交仍在进行中，请等待其完成后再重试", code="idempotency_in_progress"
    )


def key_reused() -> Unprocessable:
    return Unprocessable(
        "该 Idempotency-Key 已用于另一份投标文件；新的提交请使用新的 Idempotency-Key", code="idempotency_key_reused"
    )


def claim(
    session: Session, org: str, key: str, lot_id: uuid.UUID, *, now: datetime, stale_after: timedelta
) -> Claim | Replay:
    """Claim ``key`` for a new submission, or say it already has a receipt (the caller commits)."""
    for _ in range(_CLAIM_ATTEMPTS):
        token = uuid.uuid4()
        inserted = (
            session.connection()
            .execute(_CLAIM, {"bidder_org": org, "key": key, "lot_id": lot_id, "claim_token": token, "claimed_at": now})
            .first()
        )
        if inserted is not None:
            return Claim(org, key, token)
        row = session.scalars(
            select(BidSubmissionKey)
            .where(BidSubmissionKey.bidder_org == org, BidSubmissionKey.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()
        if row is None:
            continue  # released between our insert and our read: try again
        if row.receipt_no is not None:
            assert row.body_sha256 is not None  # noqa: S101 - table constraint body_digest
            return Replay(lot_id=row.lot_id, body_sha256=row.body_sha256, receipt_no=row.receipt_no)
        if now - row.claimed_at < stale_after:
            raise in_progress()
        row.claim_token, row.claimed_at, row.lot_id = token, now, lot_id
        session.flush()
        return Claim(org, key, token)
    raise in_progress()


def release(session: Session, held: Claim) -> None:
    """Free the key after a failed attempt (only if it is still this attempt's, and unbound)."""
    session.execute(
        delete(BidSubmissionKey).where(
            BidSubmissionKey.bidder_org == held.org,
            BidSubmissionKey.key == held.key,
            BidSubmissionKey.claim_token == held.token,
            BidSubmissionKey.receipt_no.is_(None),
        )
    )
