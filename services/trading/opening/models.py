"""The opening of a lot (开标), its bids as opened, objections raised at it, and its live feed.

A lot's ``Opening`` row is created once, under the lot's lock, by the first request that finds the
bid deadline passed: it fixes which bids take part (the valid ones at the deadline, which no later
request can change) or records that the lot failed (流标) for want of three bids (招标投标法
第二十八条; 招标投标法实施条例 第四十四条).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.trading.db import Base

OPENING_STATUSES = ("awaiting_start", "decrypting", "decryption_closed", "record_published", "failed")
OPENING_BID_STATUSES = ("pending", "decrypted", "revoked", "withdrawn")
_HEX64 = "~ '^[0-9a-f]{64}$'"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class Opening(Base):
    __tablename__ = "openings"
    __table_args__ = (
        CheckConstraint(_in("status", OPENING_STATUSES), name="status"),
        CheckConstraint("(status = 'failed') = (failure_reason is not null)", name="failure"),
        CheckConstraint("(started_at is null) = (status in ('awaiting_start','failed'))", name="started"),
        CheckConstraint("(started_at is null) = (decryption_ends_at is null)", name="decryption_window"),
        CheckConstraint("(closed_at is null) = (status in ('awaiting_start','decrypting','failed'))", name="closed"),
        CheckConstraint("(record is null) = (status <> 'record_published')", name="record"),
        CheckConstraint(
            "(record is null) = (record_sha256 is null) and (record is null) = (record_published_at is null) "
            "and (record is null) = (confirmation_ends_at is null)",
            name="record_fields",
        ),
        CheckConstraint(f"record_sha256 is null or record_sha256 {_HEX64}", name="record_sha256_hex"),
        CheckConstraint("retendered_as is null or status = 'failed'", name="retender_failed_only"),
        CheckConstraint("last_event_seq >= 0", name="last_event_seq"),
    )

    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    # When the deadline was found passed and the bids taking part were fixed (database clock).
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Bids submitted and not withdrawn at the deadline: the count the three-bid rule is about.
    valid_bid_count: Mapped[int] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_by: Mapped[str | None] = mapped_column(String(128))
    # started_at + the lot's decryption window (电子招标投标办法 第三十条): keys count until then.
    decryption_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(128))
    # The opening record (开标记录) as canonical JSON: the exact bytes ``record_sha256`` is over.
    record: Mapped[str | None] = mapped_column(Text)
    record_sha256: Mapped[str | None] = mapped_column(String(64))
    record_published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    record_published_by: Mapped[str | None] = mapped_column(String(128))
    # Bidders silent by then are deemed to accept the record (电子招标投标办法 第三十二条).
    confirmation_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retendered_as: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lots.id"))
    retendered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retendered_by: Mapped[str | None] = mapped_column(String(128))
    # The feed's cursor: each event takes the next number while holding this row's lock, so the
    # numbers of a lot's events commit in order and a reader polling "after n" never skips one.
    last_event_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))


class OpeningBid(Base):
    """A bid as it takes part in the opening: copied from its latest version at the deadline, then
    signed in, decrypted (with the bid form read out) or, when decryption closes, revoked (撤销, the
    bidder's fault) or withdrawn (撤回, the platform's fault) (电子招标投标办法 第三十一条)."""

    __tablename__ = "opening_bids"
    __table_args__ = (
        CheckConstraint(_in("status", OPENING_BID_STATUSES), name="status"),
        CheckConstraint(
            "(status = 'decrypted') = (decrypted_at is not null and key_sha256 is not null "
            "and price_fen is not null and duration_days is not null and quality is not null "
            "and project_manager_name is not null and project_manager_certificate_no is not null "
            "and extra is not null)",
            name="decrypted",
        ),
        CheckConstraint("(status in ('revoked','withdrawn')) = (fault is not null)", name="fault_status"),
        CheckConstraint(
            "fault is null or (fault = 'bidder' and status = 'revoked') "
            "or (fault = 'platform' and status = 'withdrawn')",
            name="fault",
        ),
        CheckConstraint("(fault is null) = (fault_reason is null)", name="fault_reason"),
        CheckConstraint("(signed_in_at is null) = (signed_in_by is null)", name="signed_in"),
        CheckConstraint("status <> 'decrypted' or signed_in_at is not null", name="decrypted_after_sign_in"),
        CheckConstraint("(confirmed_at is null) = (confirmed_by is null)", name="confirmed"),
        CheckConstraint("failed_attempts >= 0", name="failed_attempts"),
        CheckConstraint(f"ciphertext_sha256 {_HEX64}", name="ciphertext_sha256_hex"),
        CheckConstraint(f"plaintext_sha256 {_HEX64}", name="plaintext_sha256_hex"),
        CheckConstraint(f"key_sha256 is null or key_sha256 {_HEX64}", name="key_sha256_hex"),
    )

    bid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bids.id"), primary_key=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"), index=True)
    bidder_org: Mapped[str] = mapped_column(String(64))
    bidder_credit_code: Mapped[str] = mapped_column(String(18))
    # The version that counts (the latest at the deadline) and the digests its bidder signed.
    version: Mapped[int] = mapped_column(Integer)
    ciphertext_sha256: Mapped[str] = mapped_column(String(64))
    plaintext_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default=text("'pending'"))
    signed_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_in_by: Mapped[str | None] = mapped_column(String(128))
    sign_in_ip: Mapped[str | None] = mapped_column(String(64))
    sign_in_user_agent: Mapped[str | None] = mapped_column(String(512))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_failure_reason: Mapped[str | None] = mapped_column(String(40))
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decrypted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decrypted_by: Mapped[str | None] = mapped_column(String(128))
    # Where the key came from: the IP of decryption is one of the collusion signals (domain §4).
    decrypt_ip: Mapped[str | None] = mapped_column(String(64), index=True)
    decrypt_user_agent: Mapped[str | None] = mapped_column(String(512))
    # SHA-256 of the released content key, never the key: enough to tell a repeated release from
    # another key, and the key itself is not needed once the plaintext is stored.
    key_sha256: Mapped[str | None] = mapped_column(String(64))
    price_fen: Mapped[int | None] = mapped_column(BigInteger)
    duration_days: Mapped[int | None] = mapped_column(Integer)
    quality: Mapped[str | None] = mapped_column(String(200))
    project_manager_name: Mapped[str | None] = mapped_column(String(100))
    project_manager_certificate_no: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    fault: Mapped[str | None] = mapped_column(String(16))
    fault_reason: Mapped[str | None] = mapped_column(String(2000))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by: Mapped[str | None] = mapped_column(String(128))


class OpeningObjection(Base):
    """An objection raised at the opening (开标异议), answered on the spot and recorded
    (招标投标法实施条例 第四十四条)."""

    __tablename__ = "opening_objections"
    __table_args__ = (
        CheckConstraint(
            "(answer is null) = (answered_at is null) and (answer is null) = (answered_by is null)", name="answered"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"), index=True)
    bid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bids.id"))
    bidder_org: Mapped[str] = mapped_column(String(64))
    raised_by: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[str | None] = mapped_column(String(128))


class OpeningEvent(Base):
    """One entry of the opening hall's live feed, numbered per lot (see ``Opening.last_event_seq``).

    Kept in the database rather than in a process, so every replica serves the same feed and a
    client reconnecting to another replica resumes from its ``Last-Event-ID``."""

    __tablename__ = "opening_events"
    __table_args__ = (CheckConstraint("seq >= 1", name="seq"),)

    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))
