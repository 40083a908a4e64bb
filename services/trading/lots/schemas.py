from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from shared.schemas import RequestModel

DepositForm = Literal["guarantee_letter", "e_guarantee", "bank_transfer", "cheque", "draft", "cash"]
NON_CASH_FORMS: tuple[str, ...] = ("guarantee_letter", "e_guarantee", "bank_transfer", "cheque", "draft")


class Criterion(RequestModel):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["price", "technical", "commercial"]
    weight_pct: Decimal = Field(gt=0, le=100, decimal_places=2)


class ComprehensiveScoring(RequestModel):
    """综合评分法: criteria with weights summing to 100, exactly one of them the price."""

    method: Literal["comprehensive_scoring"]
    criteria: list[Criterion] = Field(min_length=2, max_length=50)

    @model_validator(mode="after")
    def _weights(self) -> ComprehensiveScoring:
        if sum(c.weight_pct for c in self.criteria) != 100:
            raise ValueError("criteria weights must sum to 100")
        if sum(1 for c in self.criteria if c.kind == "price") != 1:
            raise ValueError("exactly one criterion must be the price")
        codes = [c.code for c in self.criteria]
        if len(set(codes)) != len(codes):
            raise ValueError("criterion codes must be unique")
        return self

    @property
    def price_weight(self) -> Decimal:
        return next(c.weight_pct for c in self.criteria if c.kind == "price")


class LowestEvaluatedPrice(RequestModel):
    """经评审的最低投标价法 / 最低评标价法."""

    method: Literal["lowest_evaluated_price"]


Evaluation = Annotated[ComprehensiveScoring | LowestEvaluatedPrice, Field(discriminator="method")]


class DepositRule(RequestModel):
    required: bool
    amount_fen: int = Field(default=0, ge=0, le=10**13)
    forms: list[DepositForm] | None = Field(default=None, description="None: the bidder chooses any allowed form")
    legal_basis: str | None = Field(default=None, max_length=500)
    designated_guarantor: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _amount(self) -> DepositRule:
        if self.required and self.amount_fen == 0:
            raise ValueError("a required deposit needs an amount")
        if not self.required and (self.amount_fen or self.forms):
            raise ValueError("no amount or forms when no deposit is required")
        return self


class PriceAdjustments(RequestModel):
    """Policy adjustments of the *evaluation* price (never the contract price)."""

    sme_discount_pct: Decimal | None = Field(default=None, gt=0, le=100, decimal_places=2)
    innovation_discount_pct: Decimal | None = Field(default=None, gt=0, le=100, decimal_places=2)


class LotCreate(RequestModel):
    name: str = Field(min_length=2, max_length=200)
    estimated_price_fen: int = Field(ge=0, le=10**15)
    ceiling_price_fen: int | None = Field(default=None, gt=0, le=10**15)
    procurement_method: str = Field(max_length=40)
    evaluation: Evaluation
    documents_from: AwareDatetime
    documents_until: AwareDatetime
    bid_deadline: AwareDatetime = Field(description="bid deadline = opening time")
    decryption_window_minutes: int = Field(default=30, ge=10, le=240)
    deposit: DepositRule
    price_adjustments: PriceAdjustments | None = None


class SuspensionIn(RequestModel):
    reason: str = Field(min_length=5, max_length=2000)


class LotOut(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    lot_no: int
    name: str
    estimated_price_fen: int
    ceiling_price_fen: int | None
    procurement_method: str
    evaluation: dict[str, Any]
    documents_from: datetime
    documents_until: datetime
    bid_deadline: datetime
    decryption_window_minutes: int
    deposit: dict[str, Any]
    price_adjustments: dict[str, Any] | None
    status: Literal["active", "suspended"]
    created_at: datetime
