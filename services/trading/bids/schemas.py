from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from shared.schemas import RequestModel

DepositForm = Literal["waived", "guarantee_letter", "e_guarantee", "bank_transfer", "cheque", "draft", "cash"]
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class ReceiptBody(BaseModel):
    """The signed fields of a receipt, exactly as signed (docs/bid-receipt.md)."""

    format: Literal["JCRECEIPT1"]
    kind: Literal["bid_accepted", "bid_withdrawn"]
    receipt_no: str
    platform: str
    lot_id: str
    bid_id: str
    version: int
    bidder_org: str
    bidder_credit_code: str
    recorded_at: str = Field(description="database time, UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ")
    ciphertext_sha256: str
    ciphertext_length: int
    plaintext_sha256: str
    envelope_sha256: str = Field(description="SHA-256 of the whole uploaded envelope file")
    key_id: str


class ReceiptOut(BaseModel):
    """A receipt (回执) and the platform's Ed25519 signature over ``canonical_json(receipt)``."""

    receipt: ReceiptBody
    signature: str = Field(description="base64 of the 64-byte Ed25519 signature")
    algorithm: Literal["Ed25519"] = "Ed25519"


class ReceiptKeyOut(BaseModel):
    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str
    public_key: str = Field(description="the 32 raw public key bytes, base64")
    public_key_pem: str
    receipt_format: str = Field(description="what is signed, and how")


class DepositIn(RequestModel):
    """The bid deposit (投标保证金) as the bidder provided it, in a form the lot allows."""

    form: DepositForm = Field(description="waived only where the lot requires no deposit")
    reference: str | None = Field(
        default=None, min_length=1, max_length=200, description="guarantee or transfer number; required unless waived"
    )
    document_sha256: str | None = Field(
        default=None, pattern=SHA256_PATTERN, description="SHA-256 of the guarantee letter or transfer slip"
    )
    payer_account: str | None = Field(
        default=None, min_length=1, max_length=64, description="account the deposit was paid from"
    )

    @model_validator(mode="after")
    def _evidence(self) -> Self:
        if self.form != "waived" and self.reference is None:
            raise ValueError("reference is required for a deposit that was provided")
        return self


class DepositOut(BaseModel):
    form: DepositForm
    amount_fen: int
    reference: str | None
    document_sha256: str | None
    payer_account: str | None
    recorded_at: datetime
    refund_due_on: date | None = Field(description="5 days after the withdrawal or the result (条例 第三十五/五十七条)")
    refund_basis: Literal["withdrawal", "result"] | None
    refunded_at: datetime | None
    refund_reference: str | None
    overdue: bool = Field(description="not refunded by the due date, or refunded after it")


class LotDepositOut(DepositOut):
    bid_id: uuid.UUID
    bidder_org: str
    bidder_credit_code: str
    bid_status: Literal["submitted", "withdrawn"]


class RefundDueIn(RequestModel):
    result_on: date = Field(description="the date of the result (中标通知 or the end of the procedure), local date")


class RefundIn(RequestModel):
    reference: str | None = Field(default=None, min_length=1, max_length=200, description="refund transfer number")


class VersionOut(BaseModel):
    version: int
    current: bool = Field(description="only the latest version counts")
    receipt_no: str
    accepted_at: datetime
    ciphertext_sha256: str
    ciphertext_length: int
    plaintext_sha256: str
    envelope_sha256: str
    sealed_at: datetime
    tool: str


class BidOut(BaseModel):
    id: uuid.UUID
    lot_id: uuid.UUID
    bidder_org: str
    bidder_credit_code: str
    status: Literal["submitted", "withdrawn"]
    latest_version: int
    created_at: datetime
    updated_at: datetime
    withdrawn_at: datetime | None
    versions: list[VersionOut]
    deposit: DepositOut | None
