"""Lots through the API: organisers only, legal rules enforced with named articles, visibility."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.trading.projects.test_router import AGENCY, TENDEREE, project_body


def lot_body(**overrides: Any) -> dict[str, Any]:
    start = datetime.now(UTC) + timedelta(days=1)
    return {
        "name": "一标段",
        "estimated_price_fen": 400_000_000,
        "ceiling_price_fen": 390_000_000,
        "procurement_method": "open_tender",
        "evaluation": {"method": "lowest_evaluated_price"},
        "documents_from": start.isoformat(),
        "documents_until": (start + timedelta(days=7)).isoformat(),
        "bid_deadline": (start + timedelta(days=21)).isoformat(),
        "deposit": {"required": True, "amount_fen": 8_000_000, "forms": ["guarantee_letter", "cash"]},
        **overrides,
    }


@pytest.fixture
def project(trading, user):
    def make(**overrides: Any) -> dict[str, Any]:
        response = trading.post("/projects", json=project_body(**overrides), headers=user("agency", org=AGENCY))
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make


def test_agency_adds_lots_numbered_with_audit(trading, user, project, outbox):
    p = project()
    headers = user("agency", org=AGENCY)
    first = trading.post(f"/projects/{p['id']}/lots", json=lot_body(), headers=headers)
    assert first.status_code == 201, first.text
    second = trading.post(f"/projects/{p['id']}/lots", json=lot_body(name="二标段"), headers=headers).json()
    assert (first.json()["lot_no"], second["lot_no"]) == (1, 2)
    assert first.json()["decryption_window_minutes"] == 30
    event = outbox()[-1]
    assert event["action"] == "lot.created" and event["object_id"] == second["id"]
    listed = trading.get(f"/projects/{p['id']}/lots", headers=user("operator")).json()
    assert [lot["lot_no"] for lot in listed] == [1, 2]
    assert trading.get(f"/lots/{second['id']}", headers=user("tenderee", org=TENDEREE)).json()["name"] == "二标段"


def test_law_is_enforced_with_named_rules(trading, user, project, expect_error):
    p = project(category_code="gp_goods")
    bad = lot_body(
        deposit={"required": True, "amount_fen": 9_000_000, "forms": ["cash"]},
        evaluation={
            "method": "comprehensive_scoring",
            "criteria": [
                {"code": "price", "name": "价格", "kind": "price", "weight_pct": "20"},
                {"code": "tech", "name": "技术", "kind": "technical", "weight_pct": "80"},
            ],
        },
    )
    details = expect_error(
        trading.post(f"/projects/{p['id']}/lots", json=bad, headers=user("agency", org=AGENCY)),
        422,
        "legal_rule_violated",
    )
    rules = {v["rule"]: v["basis"] for v in details["violations"]}
    assert set(rules) == {
        "deposit_exceeds_2_percent",
        "gp_cash_deposit",
        "gp_deposit_form_restricted",
        "gp_deposit_without_legal_basis",
        "gp_price_weight_too_low",
    }
    assert "第五十五条" in rules["gp_price_weight_too_low"]


def test_only_the_projects_organisers_add_lots(trading, user, project, expect_error):
    p = project()
    path = f"/projects/{p['id']}/lots"
    expect_error(trading.post(path, json=lot_body(), headers=user("agency", org=str(uuid.uuid4()))), 404, "not_found")
    expect_error(trading.post(path, json=lot_body(), headers=user("operator")), 403, "forbidden_role")
    expect_error(trading.post(path, json=lot_body(), headers=user("bidder")), 403, "forbidden_role")
    expect_error(
        trading.post(path, json=lot_body(), headers=user("agency", platform="gaoping", org=AGENCY)), 404, "not_found"
    )
    assert trading.post(path, json=lot_body(), headers=user("tenderee", org=TENDEREE)).status_code == 201


def test_lots_of_another_county_are_invisible(trading, user, project, expect_error):
    p = project(region_code="140522")  # Yangcheng
    lot = trading.post(f"/projects/{p['id']}/lots", json=lot_body(), headers=user("agency", org=AGENCY)).json()
    assert trading.get(f"/lots/{lot['id']}", headers=user("operator", platform="yangcheng")).status_code == 200
    expect_error(trading.get(f"/lots/{lot['id']}", headers=user("operator", platform="gaoping")), 404, "not_found")
    expect_error(
        trading.get(f"/projects/{p['id']}/lots", headers=user("supervisor", platform="qinshui")), 404, "not_found"
    )
    expect_error(trading.get(f"/lots/{uuid.uuid4()}", headers=user("operator")), 404, "not_found")


def test_bad_lot_input(trading, user, project, expect_error):
    p = project()
    path = f"/projects/{p['id']}/lots"
    headers = user("agency", org=AGENCY)
    expect_error(
        trading.post(path, json=lot_body(decryption_window_minutes=5), headers=headers), 422, "validation_error"
    )
    expect_error(
        trading.post(path, json=lot_body(bid_deadline="2026-12-31T10:00:00"), headers=headers), 422, "validation_error"
    )
    expect_error(
        trading.post(path, json=lot_body(evaluation={"method": "guesswork"}), headers=headers), 422, "validation_error"
    )
    expect_error(
        trading.post(path, json=lot_body(deposit={"required": True}), headers=headers), 422, "validation_error"
    )
    expect_error(trading.post(f"/projects/{uuid.uuid4()}/lots", json=lot_body(), headers=headers), 404, "not_found")
