"""Every evaluation endpoint: who may call it. Wrong roles get 403 ``forbidden_role`` (with the
roles allowed), another county's staff and experts not on the committee get 404, no token gets
401, and none of these refusals writes anything."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.expert_pool.evaluation.conftest import LOT_PLATFORM, attestation

ANY_ID = str(uuid.uuid4())
OPERATORS = ["operator"]
EXPERTS = ["expert"]
READERS = ["operator", "supervisor", "expert", "agency"]

# (method, path under /evaluations/{id}, body, roles admitted by the endpoint)
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, list[str]]] = [
    ("GET", "", None, READERS),
    ("POST", "/check-ins", {"venue_id": ANY_ID, "attestation": attestation()}, EXPERTS),
    ("POST", "/leader-votes", {"candidate_expert_id": ANY_ID}, EXPERTS),
    ("PUT", "/leader", {"expert_id": ANY_ID, "note": "推举产生"}, OPERATORS),
    ("GET", "/leader", None, READERS),
    ("POST", "/start", None, OPERATORS),
    ("GET", "/bids", None, READERS),
    ("POST", "/sheets", {"scores": []}, EXPERTS),
    ("GET", "/sheets/mine", None, EXPERTS),
    ("POST", "/corrections", {"reason": "arithmetic_error", "explanation": "小计有误啊", "scores": []}, EXPERTS),
    ("GET", "/corrections", None, READERS),
    ("POST", f"/corrections/{ANY_ID}/decision", {"approve": True, "note": "同意"}, ["expert", "operator"]),
    ("POST", "/rejections", {"bid_id": ANY_ID, "reason": "报价低于成本", "basis": "条例"}, EXPERTS),
    ("POST", f"/rejections/{ANY_ID}/votes", {"agree": True}, EXPERTS),
    ("GET", "/results", None, READERS),
    ("POST", "/complete", None, ["expert", "operator"]),
    ("GET", "/report", None, READERS),
    ("POST", "/report/delivery", None, OPERATORS),
    ("POST", "/pauses", {"reason": "网络中断了"}, OPERATORS),
    ("POST", "/resume", None, OPERATORS),
    ("POST", "/committee/refresh", None, OPERATORS),
    ("POST", "/ratings", {"expert_id": ANY_ID, "score": 3, "comment": "好"}, ["agency"]),
    ("GET", "/ratings", None, ["operator", "supervisor", "agency"]),
    (
        "POST",
        "/misconduct-reports",
        {
            "expert_id": ANY_ID,
            "category": "other",
            "description": "其他违规行为的说明文字",
            "evidence_sha256": "0" * 64,
            "evidence_ref": "x",
        },
        ["agency", "operator"],
    ),
]
ROLES = ["bidder", "tenderee", "agency", "operator", "supervisor", "expert", "admin"]


def _ids(endpoint: tuple[str, str, Any, Any]) -> str:
    return f"{endpoint[0]} {endpoint[1] or '/'}"


@pytest.fixture
def opened(flow):
    flow.create()
    return flow


def _call(app, method: str, url: str, body: dict[str, Any] | None, headers: dict[str, str]):
    return app.request(method, url, json=body, headers=headers)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
def test_wrong_roles_are_refused(opened, app, user, outbox, expect_error, endpoint):
    method, suffix, body, allowed = endpoint
    before = len(outbox())
    for role in ROLES:
        if role in allowed:
            continue
        response = _call(app, method, opened.url(suffix), body, user(role, platform=LOT_PLATFORM))
        details = expect_error(response, 403, "forbidden_role")
        assert sorted(details["allowed"]) == sorted(allowed), (role, details)
    expect_error(_call(app, method, opened.url(suffix), body, {}), 401, "unauthenticated")
    assert len(outbox()) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
def test_another_countys_staff_get_404(opened, app, user, outbox, expect_error, endpoint):
    method, suffix, body, allowed = endpoint
    before = len(outbox())
    for role in ("operator", "supervisor"):
        if role in allowed:
            for county in ("yangcheng", "lingchuan"):
                response = _call(app, method, opened.url(suffix), body, user(role, platform=county))
                expect_error(response, 404, "not_found")
    assert len(outbox()) == before


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if "expert" in e[3]], ids=_ids)
def test_experts_off_the_committee_get_404(opened, app, user, committee, outbox, expect_error, endpoint):
    method, suffix, body, _ = endpoint
    before = len(outbox())
    for sub in (committee.reserve_subject, "expert-without-record"):
        response = _call(app, method, opened.url(suffix), body, user("expert", sub=sub))
        expect_error(response, 404, "evaluation_not_found")
    assert len(outbox()) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
def test_unknown_evaluation_is_404_for_those_admitted(app, user, expect_error, endpoint):
    method, suffix, body, allowed = endpoint
    response = _call(app, method, f"/evaluations/{uuid.uuid4()}{suffix}", body, user(allowed[0], platform=LOT_PLATFORM))
    # Bodies the schema refuses answer 422 before the evaluation is looked up; the rest 404.
    assert response.status_code in (404, 422), response.text
    if response.status_code == 404:
        assert response.json()["error"]["code"] == "evaluation_not_found"
