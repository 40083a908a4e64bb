"""The legal rules of a lot, on their boundaries (domain.md §2), without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.trading.lots.rules import check_lot
from services.trading.lots.schemas import LotCreate
from shared.workdays import default_calendar

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
CATEGORIES: dict[str, dict[str, Any]] = {
    "engineering_works": {
        "code": "engineering_works",
        "name": "工程建设-施工",
        "law": "bidding_law",
        "kind": "works",
        "methods": ["open_tender", "invited_tender"],
        "must_enter_threshold_fen": 400_000_000,
    },
    "gp_goods": {
        "code": "gp_goods",
        "name": "政府采购-货物",
        "law": "government_procurement",
        "kind": "goods",
        "methods": ["open_tender", "competitive_negotiation"],
        "must_enter_threshold_fen": None,
    },
    "gp_services": {
        "code": "gp_services",
        "name": "政府采购-服务",
        "law": "government_procurement",
        "kind": "services",
        "methods": ["open_tender"],
        "must_enter_threshold_fen": None,
    },
    "gp_works": {
        "code": "gp_works",
        "name": "政府采购-工程",
        "law": "government_procurement",
        "kind": "works",
        "methods": ["open_tender"],
        "must_enter_threshold_fen": None,
    },
}


def lot(**overrides: Any) -> LotCreate:
    body: dict[str, Any] = {
        "name": "一标段",
        "estimated_price_fen": 100_000_000,
        "procurement_method": "open_tender",
        "evaluation": {
            "method": "comprehensive_scoring",
            "criteria": [
                {"code": "price", "name": "价格", "kind": "price", "weight_pct": "30"},
                {"code": "tech", "name": "技术", "kind": "technical", "weight_pct": "70"},
            ],
        },
        "documents_from": NOW + timedelta(days=1),
        "documents_until": NOW + timedelta(days=8),
        "bid_deadline": NOW + timedelta(days=21),
        "deposit": {"required": False},
    }
    body.update(overrides)
    return LotCreate.model_validate(body)


def rules(category: str, data: LotCreate) -> set[str]:
    return {v.rule for v in check_lot(CATEGORIES[category], data, now=NOW, calendar=default_calendar())}


def test_a_lawful_lot_passes():
    assert rules("engineering_works", lot()) == set()
    assert rules("gp_goods", lot()) == set()


def test_bidding_period_of_20_days():
    """招标投标法 第二十四条; 政府采购法 第三十五条."""
    start = NOW + timedelta(days=1)
    assert rules("engineering_works", lot(documents_from=start, bid_deadline=start + timedelta(days=20))) == set()
    short = lot(documents_from=start, bid_deadline=start + timedelta(days=20) - timedelta(seconds=1))
    assert rules("engineering_works", short) == {"bidding_period_too_short"}
    violation = check_lot(CATEGORIES["gp_goods"], short, now=NOW, calendar=default_calendar())[0]
    assert "政府采购法 第三十五条" in violation.basis
    negotiated = lot(procurement_method="competitive_negotiation", bid_deadline=start + timedelta(days=10))
    assert "bidding_period_too_short" not in rules("gp_goods", negotiated)  # not a tender method


def test_documents_on_offer_5_days():
    """招标投标法实施条例 第十六条."""
    start = NOW + timedelta(days=1)
    assert rules("engineering_works", lot(documents_from=start, documents_until=start + timedelta(days=5))) == set()
    assert rules(
        "engineering_works", lot(documents_from=start, documents_until=start + timedelta(days=4, hours=23))
    ) == {"documents_period_too_short"}


def test_gp_documents_on_offer_5_working_days():
    """87号令 第十八条, counted on the working-day calendar."""
    # Tue 29 Sep 2026 to Fri 9 Oct: Tue, Wed, then the National Day holidays, then Thu 8 and Fri 9
    # are four working days: refused; until Sat 10 Oct (调休上班) makes five.
    start = datetime(2026, 9, 29, 1, 0, tzinfo=UTC)
    deadline = start + timedelta(days=25)
    at = datetime(2026, 9, 28, tzinfo=UTC)
    four = lot(documents_from=start, documents_until=datetime(2026, 10, 9, 8, 0, tzinfo=UTC), bid_deadline=deadline)
    five = lot(documents_from=start, documents_until=datetime(2026, 10, 10, 8, 0, tzinfo=UTC), bid_deadline=deadline)
    calendar = default_calendar()
    assert {v.rule for v in check_lot(CATEGORIES["gp_goods"], four, now=at, calendar=calendar)} == {
        "documents_period_too_short"
    }
    assert check_lot(CATEGORIES["gp_goods"], five, now=at, calendar=calendar) == []


def test_deposit_at_most_2_percent():
    """招标投标法实施条例 第二十六条."""
    at_limit = {"required": True, "amount_fen": 2_000_000}  # 2 % of 100,000,000
    assert rules("engineering_works", lot(deposit=at_limit)) == set()
    over = {"required": True, "amount_fen": 2_000_001}
    assert rules("engineering_works", lot(deposit=over)) == {"deposit_exceeds_2_percent"}


def test_gp_deposit_rules():
    """政府采购法实施条例 第三十三条; 财库〔2019〕38号; seed item 3."""
    lawful = {"required": True, "amount_fen": 1_000, "legal_basis": "采购人依据……收取"}
    assert rules("gp_goods", lot(deposit=lawful)) == set()
    assert rules("gp_goods", lot(deposit={**lawful, "legal_basis": None})) == {"gp_deposit_without_legal_basis"}
    assert "gp_cash_deposit" in rules("gp_goods", lot(deposit={**lawful, "forms": ["cash"]}))
    assert rules("gp_goods", lot(deposit={**lawful, "forms": ["e_guarantee"]})) == {"gp_deposit_form_restricted"}
    assert rules("gp_goods", lot(deposit={**lawful, "designated_guarantor": "某银行"})) == {"gp_designated_guarantor"}
    # The bidding law allows cash deposits and lets the tenderee choose forms.
    assert rules("engineering_works", lot(deposit={"required": True, "amount_fen": 1_000, "forms": ["cash"]})) == set()


@pytest.mark.parametrize(("category", "minimum"), [("gp_goods", 30), ("gp_services", 10)])
def test_gp_price_weight(category, minimum):
    """87号令 第五十五条."""

    def weighted(price: Decimal) -> LotCreate:
        return lot(
            evaluation={
                "method": "comprehensive_scoring",
                "criteria": [
                    {"code": "price", "name": "价格", "kind": "price", "weight_pct": str(price)},
                    {"code": "tech", "name": "技术", "kind": "technical", "weight_pct": str(100 - price)},
                ],
            }
        )

    assert rules(category, weighted(Decimal(minimum))) == set()
    assert rules(category, weighted(Decimal(minimum) - Decimal("0.01"))) == {"gp_price_weight_too_low"}
    assert rules("engineering_works", weighted(Decimal(5))) == set()  # not a GP rule


def test_lowest_price_method_has_no_weight_rule():
    assert rules("gp_goods", lot(evaluation={"method": "lowest_evaluated_price"})) == set()


@pytest.mark.parametrize(
    ("category", "low", "high"), [("gp_goods", 10, 20), ("gp_services", 10, 20), ("gp_works", 3, 5)]
)
def test_sme_discount_range(category, low, high):
    """财库〔2022〕19号."""

    def discount(pct: Decimal) -> LotCreate:
        return lot(price_adjustments={"sme_discount_pct": str(pct)}, evaluation={"method": "lowest_evaluated_price"})

    assert rules(category, discount(Decimal(low))) == set()
    assert rules(category, discount(Decimal(high))) == set()
    assert rules(category, discount(Decimal(high) + Decimal("0.01"))) == {"sme_discount_out_of_range"}
    assert rules(category, discount(Decimal(low) - Decimal("0.01"))) == {"sme_discount_out_of_range"}


def test_innovation_discount_is_10_percent():
    """Seed item 2: products on the Shanxi innovation list get a 10 % price discount."""
    assert rules("gp_goods", lot(price_adjustments={"innovation_discount_pct": "10"})) == set()
    assert rules("gp_goods", lot(price_adjustments={"innovation_discount_pct": "8"})) == {
        "innovation_discount_must_be_10"
    }
    assert rules("engineering_works", lot(price_adjustments={"innovation_discount_pct": "10"})) == {
        "price_adjustments_gp_only"
    }


def test_method_and_times():
    assert rules("engineering_works", lot(procurement_method="single_source")) == {"method_not_allowed"}
    past = lot(
        documents_from=NOW - timedelta(days=30),
        documents_until=NOW - timedelta(days=20),
        bid_deadline=NOW - timedelta(days=1),
    )
    assert "deadline_in_past" in rules("engineering_works", past)
    inverted = lot(documents_until=NOW + timedelta(days=30))
    assert "documents_window_invalid" in rules("engineering_works", inverted)


def test_every_violation_is_reported_at_once():
    bad = lot(
        deposit={"required": True, "amount_fen": 10_000_000},
        bid_deadline=NOW + timedelta(days=10),
        price_adjustments={"sme_discount_pct": "10"},
    )
    found = check_lot(CATEGORIES["engineering_works"], bad, now=NOW, calendar=default_calendar())
    assert {v.rule for v in found} == {
        "price_adjustments_gp_only",
        "deposit_exceeds_2_percent",
        "bidding_period_too_short",
    }
    assert all(v.basis and v.message for v in found)


def test_schema_level_checks():
    with pytest.raises(ValueError, match="sum to 100"):
        lot(
            evaluation={
                "method": "comprehensive_scoring",
                "criteria": [
                    {"code": "price", "name": "价格", "kind": "price", "weight_pct": "30"},
                    {"code": "tech", "name": "技术", "kind": "technical", "weight_pct": "60"},
                ],
            }
        )
    with pytest.raises(ValueError, match="price"):
        lot(
            evaluation={
                "method": "comprehensive_scoring",
                "criteria": [
                    {"code": "a", "name": "a", "kind": "technical", "weight_pct": "50"},
                    {"code": "b", "name": "b", "kind": "technical", "weight_pct": "50"},
                ],
            }
        )
    with pytest.raises(ValueError):
        lot(documents_from="2026-12-01T00:00:00")  # naive times are refused: whose midnight?
    with pytest.raises(ValueError):
        lot(estimated_price_fen=1.5)  # money is integer fen
