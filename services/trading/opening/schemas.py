from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from shared.schemas import RequestModel

OpeningStatus = Literal["awaiting_start", "decrypting", "decryption_closed", "record_published", "failed"]
BidStatus = Literal["pending", "decrypted", "revoked", "withdrawn"]
Confirmation = Literal["confirmed", "objected", "deemed_accepted", "pending"]


class KeyReleaseIn(RequestModel):
    """The key-release document exactly as ``python -m tools.bidder release-key`` prints it
    (docs/bid-envelope.md §8). Its format is checked by the envelope library; a malformed release
    is a failed attempt like a wrong key."""

    lot_id: str = Field(max_length=64)
    envelope_sha256: str = Field(max_length=64, description="the envelope's signed ciphertext_sha256")
    content_key: str = Field(max_length=64, description="base64 of the 32-byte content key")


class PlatformFault(RequestModel):
    bid_id: uuid.UUID
    reason: str = Field(min_length=2, max_length=2000, description="e.g. 平台故障：解密服务中断 10:05–10:40")


class CloseIn(RequestModel):
    """Bids not decrypted are revoked (撤销, the bidder's fault) unless listed here as the
    platform's fault, which withdraws them (撤回) with the reason given (电子招标投标办法 第三十一条)."""

    platform_faults: list[PlatformFault] = Field(default_factory=list, max_length=500)


class ObjectionIn(RequestModel):
    body: str = Field(min_length=2, max_length=5000)


class AnswerIn(RequestModel):
    answer: str = Field(min_length=2, max_length=5000)


class RetenderIn(RequestModel):
    """New dates for the lot tendered again; everything else is copied from the failed lot and the
    whole is checked like any new lot (``legal_rule_violated``)."""

    documents_from: AwareDatetime
    documents_until: AwareDatetime
    bid_deadline: AwareDatetime = Field(description="bid deadline = opening time")
    name: str | None = Field(default=None, min_length=2, max_length=200, description="default: the failed lot's name")


class SignInOut(BaseModel):
    bid_id: uuid.UUID
    signed_in_at: datetime


class ConfirmationOut(BaseModel):
    bid_id: uuid.UUID
    confirmed_at: datetime


class BidFormOut(BaseModel):
    price_fen: int
    duration_days: int
    quality: str
    project_manager_name: str
    project_manager_certificate_no: str
    extra: dict[str, Any]


class DecryptionOut(BaseModel):
    """Your bid, decrypted: what the platform read from your bid form."""

    bid_id: uuid.UUID
    status: Literal["decrypted"]
    decrypted_at: datetime
    plaintext_sha256: str
    bid_form: BidFormOut


class SignInDetail(BaseModel):
    ip: str | None
    user_agent: str | None


class OpeningBidOut(BaseModel):
    bid_id: uuid.UUID
    bidder_org: str
    bidder_credit_code: str
    status: BidStatus
    signed_in_at: datetime | None
    decrypted_at: datetime | None
    fault: Literal["bidder", "platform"] | None
    fault_reason: str | None
    failed_attempts: int
    confirmation: Confirmation | None = Field(
        description="once the record is published: confirmed; objected (raised an objection, did not confirm); "
        "pending; or deemed_accepted once the period ended in silence"
    )
    confirmed_at: datetime | None
    sign_in: SignInDetail | None = Field(description="where the bidder signed in from: host and supervisors only")


class OpeningOut(BaseModel):
    lot_id: uuid.UUID
    status: OpeningStatus
    finished: bool = Field(
        description="failed, or the record published, its confirmation period over and every objection answered"
    )
    now: datetime = Field(description="the database's time, which decides every period here")
    bid_deadline: datetime
    valid_bid_count: int
    failure_reason: str | None
    started_at: datetime | None
    decryption_ends_at: datetime | None
    closed_at: datetime | None
    record_sha256: str | None
    record_published_at: datetime | None
    confirmation_ends_at: datetime | None
    retendered_as: uuid.UUID | None
    bids: list[OpeningBidOut]


class RecordOut(BaseModel):
    """The opening record (开标记录) exactly as stored: ``sha256`` is over ``canonical_json(record)``."""

    record: dict[str, Any]
    sha256: str
    published_at: datetime
    confirmation_ends_at: datetime
    confirmations: dict[str, Confirmation] = Field(description="bid id → confirmation, at the database's now")


class ObjectionOut(BaseModel):
    id: uuid.UUID
    lot_id: uuid.UUID
    bid_id: uuid.UUID
    bidder_org: str
    body: str
    raised_at: datetime
    answer: str | None
    answered_at: datetime | None
