"""Suspensions by supervision (complaints): per-cause holds, idempotent, service-only."""

from __future__ import annotations

import uuid

import pytest

from tests.trading.lots.test_router import lot_body
from tests.trading.projects.test_router import AGENCY, project_body


@pytest.fixture
def lot(trading, user):
    project = trading.post("/projects", json=project_body(), headers=user("agency", org=AGENCY)).json()
    response = trading.post(f"/projects/{project['id']}/lots", json=lot_body(), headers=user("agency", org=AGENCY))
    return response.json()


def ref() -> str:
    return f"complaint:{uuid.uuid4()}"


def test_holds_suspend_until_the_last_is_released(trading, service, lot, outbox):
    headers = service("trading:suspend trading:read", sub="svc-supervision")
    first, second = ref(), ref()
    path = f"/lots/{lot['id']}/suspensions"
    placed = trading.put(f"{path}/{first}", json={"reason": "投诉处理期间暂停"}, headers=headers)
    assert placed.status_code == 200, placed.text
    assert placed.json()["status"] == "suspended"
    assert trading.put(f"{path}/{first}", json={"reason": "投诉处理期间暂停"}, headers=headers).status_code == 200
    trading.put(f"{path}/{second}", json={"reason": "另一投诉处理期间暂停"}, headers=headers)
    assert trading.get(f"/lots/{lot['id']}/summary", headers=headers).json()["suspended"] is True
    assert trading.delete(f"{path}/{first}", headers=headers).json()["status"] == "suspended"
    assert trading.delete(f"{path}/{second}", headers=headers).json()["status"] == "active"
    assert trading.delete(f"{path}/{second}", headers=headers).json()["status"] == "active"  # idempotent
    actions = [e["action"] for e in outbox() if e["object_id"] == lot["id"]]
    assert actions == ["lot.created", "lot.suspended", "lot.suspended", "lot.hold_released", "lot.resumed"]


def test_only_supervision_may_suspend(trading, user, service, lot, expect_error):
    path = f"/lots/{lot['id']}/suspensions/{ref()}"
    body = {"reason": "投诉处理期间暂停"}
    expect_error(trading.put(path, json=body, headers=user("supervisor")), 403, "wrong_token_type")
    expect_error(trading.put(path, json=body, headers=service("trading:read")), 403, "insufficient_scope")
    expect_error(trading.put(path, json=body, headers=service("trading:suspend", platform="gaoping")), 404, "not_found")
    expect_error(trading.put(path, json=body), 401, "unauthenticated")


def test_bad_suspension_requests(trading, service, lot, expect_error):
    headers = service("trading:suspend")
    objection_ref = f"/lots/{lot['id']}/suspensions/objection:{uuid.uuid4()}"
    expect_error(trading.put(objection_ref, json={"reason": "冒充异议暂停"}, headers=headers), 422, "validation_error")
    expect_error(
        trading.put(f"/lots/{lot['id']}/suspensions/{ref()}", json={"reason": "x"}, headers=headers),
        422,
        "validation_error",
    )
    expect_error(
        trading.put(f"/lots/{uuid.uuid4()}/suspensions/{ref()}", json={"reason": "投诉处理期间暂停"}, headers=headers),
        404,
        "not_found",
    )


def test_summary_is_for_services(trading, user, service, lot, expect_error):
    summary = trading.get(f"/lots/{lot['id']}/summary", headers=service("trading:read")).json()
    assert summary["law"] == "bidding_law" and summary["platform"] == "jincheng" and summary["suspended"] is False
    expect_error(trading.get(f"/lots/{lot['id']}/summary", headers=user("operator")), 403, "wrong_token_type")
    expect_error(trading.get(f"/lots/{lot['id']}/summary", headers=service("credit:read")), 403, "insufficient_scope")
