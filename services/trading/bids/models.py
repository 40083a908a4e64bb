from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.trading.db import Base

BID_STATUSES = ("submitted", "withdrawn")
DEPOSIT_FORMS = ("waived", "guarantee_letter", "e_guarantee", "bank_transfer", "cheque", "draft", "cash")
_HEX64 = "~ '^[0-9a-f]{64}$'"


class Bid(Base):
    """One organisation's bid for one lot. Its versions are the envelopes it uploaded; only the
    latest counts (投标人在投标截止时间前可以补充、修改或者撤回, 招标投标法 第二十九条)."""

    __tablename__ = "bids"
    __table_args__ = (
        UniqueConstraint("lot_id", "bidder_org"),
        # One company, one bid per lot, even if it held two accounts: the credit code is the company.
        UniqueConstraint("lot_id", "bidder_credit_code"),
        CheckConstraint("status in ('submitted','withdrawn')", name="status"),
        CheckConstraint("(status = 'withdrawn') = (withdrawn_at is not null)", name="withdrawn_at"),
        CheckConstraint("latest_version >= 1", name="latest_version"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id"))
    bidder_org: Mapped[str] = mapped_column(String(64), index=True)
    # The organisation's 统一社会信用代码 as its certificate names it (the token carries only the org id).
    bidder_credit_code: Mapped[str] = mapped_column(String(18))
    status: Mapped[str] = mapped_column(String(16))
    latest_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BidReceipt(Base):
    """A signed receipt (回执), kept verbatim: the bytes signed are ``body`` exactly."""

    __tablename__ = "bid_receipts"
    __table_args__ = (CheckConstraint("kind in ('bid_accepted','bid_withdrawn')", name="kind"),)

    receipt_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    bid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bids.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    # canonical_json of the receipt: what the signature is over, never re-encoded.
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BidVersion(Base):
    """One accepted envelope, with what it was checked against and where it came from.

    The ciphertext is the blob ``ciphertext_sha256`` in the content-addressed store; the header is
    kept verbatim for the opening (nonce, tag, plaintext digest, certificate). The ``client_ip`` …
    ``deposit_payer_account`` columns are the signals supervisors compare across bidders for
    collusion (domain §4; 条例 第四十条): evidence to look at, never a finding by themselves."""

    __tablename__ = "bid_versions"
    __table_args__ = (
        UniqueConstraint("bid_id", "version"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint(f"ciphertext_sha256 {_HEX64}", name="ciphertext_sha256_hex"),
        CheckConstraint(f"plaintext_sha256 {_HEX64}", name="plaintext_sha256_hex"),
        CheckConstraint(f"envelope_sha256 {_HEX64}", name="envelope_sha256_hex"),
        CheckConstraint("ciphertext_length >= 0", name="ciphertext_length"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    bid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bids.id"))
    version: Mapped[int] = mapped_column(Integer)
    receipt_no: Mapped[str] = mapped_column(ForeignKey("bid_receipts.receipt_no"), unique=True)
    # clock_timestamp() under the lot's lock, strictly before the deadline (招标投标法 第二十八条).
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_by: Mapped[str] = mapped_column(String(128))
    ciphertext_sha256: Mapped[str] = mapped_column(String(64), index=True)
    ciphertext_length: Mapped[int] = mapped_column(BigInteger)
    plaintext_sha256: Mapped[str] = mapped_column(String(64), index=True)
    # SHA-256 of the whole uploaded file, what `sha256sum bid.jcb` prints.
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    header: Mapped[str] = mapped_column(Text)
    sealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    certificate_fingerprint: Mapped[str] = mapped_column(String(64))
    certificate_issuer: Mapped[str] = mapped_column(String(500))
    certificate_serial: Mapped[str] = mapped_column(String(64))
    certificate_not_after: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    client_ip: Mapped[str | None] = mapped_column(String(64), index=True)
    user_agent: Mapped[str | None] = mapped_column(String(512))
    device_fingerprint: Mapped[str | None] = mapped_column(String(256))
    declared_device_fingerprint: Mapped[str | None] = mapped_column(String(256), index=True)
    declared_document_author: Mapped[str | None] = mapped_column(String(256))
    tool: Mapped[str] = mapped_column(String(80))
    deposit_payer_account: Mapped[str | None] = mapped_column(String(64), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    request_id: Mapped[str | None] = mapped_column(String(128))


class BidSubmissionKey(Base):
    """An ``Idempotency-Key`` of a bidder organisation: claimed while its submission is in flight,
    bound to the receipt once accepted. A failed submission frees its key."""

    __tablename__ = "bid_submission_keys"
    __table_args__ = (
        CheckConstraint("(receipt_no is null) = (completed_at is null)", name="completed"),
        CheckConstraint("(receipt_no is null) = (body_sha256 is null)", name="body_digest"),
    )

    bidder_org: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    # No foreign key on purpose: the claim is written before the upload, and a reference to the lot
    # would take a share lock on the lot's row, queueing every new upload behind the bids being
    # recorded under the lot's lock.
    lot_id: Mapped[uuid.UUID] = mapped_column()
    # Which request holds the claim: a request that lost its claim (it was taken over as abandoned)
    # must not complete it.
    claim_token: Mapped[uuid.UUID] = mapped_column()
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    receipt_no: Mapped[str | None] = mapped_column(ForeignKey("bid_receipts.receipt_no"))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BidDeposit(Base):
    """The bid deposit (投标保证金) as the bidder declares it, and its refund.

    Refunds are due within 5 days: of the withdrawal notice (招标投标法实施条例 第三十五条) or of the
    result (第五十七条; the trading centre records the result date)."""

    __tablename__ = "bid_deposits"
    __table_args__ = (
        CheckConstraint(f"form in ({', '.join(repr(f) for f in DEPOSIT_FORMS)})", name="form"),
        CheckConstraint("amount_fen >= 0", name="amount"),
        CheckConstraint(f"document_sha256 is null or document_sha256 {_HEX64}", name="document_sha256_hex"),
        CheckConstraint("refund_basis is null or refund_basis in ('withdrawal','result')", name="refund_basis"),
        CheckConstraint("(refund_due_on is null) = (refund_basis is null)", name="refund_due"),
    )

    bid_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bids.id"), primary_key=True)
    form: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str | None] = mapped_column(String(200))
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    # The account the deposit was paid from: deposits from one account are a collusion signal (条例 第四十条).
    payer_account: Mapped[str | None] = mapped_column(String(64), index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(128))
    refund_due_on: Mapped[date | None] = mapped_column(Date)
    refund_basis: Mapped[str | None] = mapped_column(String(16))
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refunded_by: Mapped[str | None] = mapped_column(String(128))
    refund_reference: Mapped[str | None] = mapped_column(String(200))
