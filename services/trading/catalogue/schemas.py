from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from shared.schemas import RequestModel

Law = Literal["bidding_law", "government_procurement", "land", "mining", "state_property", "rural_property"]
Kind = Literal["works", "goods", "services", "property"]
Method = Literal[
    "open_tender",
    "invited_tender",
    "competitive_negotiation",
    "competitive_consultation",
    "single_source",
    "inquiry",
    "auction",
    "listing",
    "tender",
]


class Category(RequestModel):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    name: str = Field(min_length=2, max_length=100)
    law: Law
    kind: Kind
    methods: list[Method] = Field(min_length=1)
    must_enter_threshold_fen: int | None = Field(default=None, ge=0, description="None: always enters (应进必进)")


class CatalogueUpdate(RequestModel):
    categories: list[Category] = Field(min_length=1, max_length=200)
    note: str = Field(min_length=2, max_length=500, description="why this version (published with it)")

    @model_validator(mode="after")
    def _unique_codes(self) -> CatalogueUpdate:
        codes = [c.code for c in self.categories]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"duplicate category codes: {', '.join(duplicates)}")
        return self


class CatalogueOut(BaseModel):
    version: int
    categories: list[Category]
    note: str
    created_at: datetime
