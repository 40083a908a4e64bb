"""After the evaluation: the agency's ratings of the members and misconduct reports to supervision."""

from __future__ import annotations

import hashlib

import pytest

from shared.audit.outbox import change_digest
from tests.expert_pool.evaluation.conftest import AGENCY_ORG, LOT_PLATFORM

EVIDENCE = hashlib.sha256(b"video of the evaluation room, 14:02-14:09").hexdigest()


@pytest.fixture
def completed(flow, app):
    flow.scored()
    assert app.post(flow.url("/complete"), headers=flow.member(0)).status_code == 200
    return flow


def _agency(user, org=AGENCY_ORG):
    return user("agency", platform=LOT_PLATFORM, sub="agency-staff-1", org=org)


def test_the_lots_agency_rates_each_member_once(completed, app, user, committee, outbox, expect_error):
    body = {"expert_id": str(committee.expert_ids[1]), "score": 4, "comment": "评审认真，意见清楚"}
    response = app.post(completed.url("/ratings"), json=body, headers=_agency(user))
    assert response.status_code == 201, response.text
    assert (response.json()["score"], response.json()["organisation"]) == (4, AGENCY_ORG)
    event = outbox()[-1]
    assert (event["action"], event["object_type"], event["object_id"]) == (
        "expert.rated",
        "expert",
        str(committee.expert_ids[1]),
    )
    assert event["change"]["score"] == 4 and event["organisation"] == AGENCY_ORG
    expect_error(app.post(completed.url("/ratings"), json=body, headers=_agency(user)), 409, "already_rated")
    listed = app.get(completed.url("/ratings"), headers=completed.operator()).json()
    assert [(r["expert_id"], r["score"]) for r in listed] == [(str(committee.expert_ids[1]), 4)]
    assert len(app.get(completed.url("/ratings"), headers=user("supervisor", platform="jincheng")).json()) == 1
    assert len(app.get(completed.url("/ratings"), headers=_agency(user)).json()) == 1


def test_the_agency_lists_its_completed_evaluations(completed, app, user):
    assert [e["id"] for e in app.get("/evaluations", headers=_agency(user)).json()] == [completed.evaluation_id]
    assert app.get("/evaluations", headers=_agency(user, org="org-other-agency")).json() == []


def test_rating_refusals(completed, app, user, committee, expect_error):
    url = completed.url("/ratings")
    body = {"expert_id": str(committee.expert_ids[0]), "score": 5, "comment": "很好"}
    # Another agency's staff see no such evaluation.
    expect_error(app.post(url, json=body, headers=_agency(user, org="org-other-agency")), 404, "evaluation_not_found")
    expect_error(app.get(url, headers=_agency(user, org="org-other-agency")), 404, "evaluation_not_found")
    expect_error(app.get(url, headers=user("operator", platform="qinshui")), 404, "not_found")
    for role in ("operator", "supervisor", "expert", "tenderee"):
        expect_error(app.post(url, json=body, headers=user(role, platform=LOT_PLATFORM)), 403, "forbidden_role")
    expect_error(app.get(url, headers=completed.member(0)), 403, "forbidden_role")
    for score in (0, 6, "4.5"):
        expect_error(app.post(url, json={**body, "score": score}, headers=_agency(user)), 422, "validation_error")
    expect_error(
        app.post(url, json={**body, "expert_id": str(committee.reserve_expert_id)}, headers=_agency(user)),
        422,
        "not_a_member",
    )


def test_no_rating_before_the_report_is_signed(flow, app, user, committee, expect_error):
    flow.started()
    body = {"expert_id": str(committee.expert_ids[0]), "score": 3, "comment": "一般"}
    expect_error(app.post(flow.url("/ratings"), json=body, headers=_agency(user)), 409, "evaluation_wrong_status")


def test_misconduct_goes_to_supervision_as_an_audit_event_with_the_evidence_digest(flow, app, user, committee, outbox):
    flow.started()  # misconduct can be seen during the evaluation, not only after it
    body = {
        "expert_id": str(committee.expert_ids[3]),
        "category": "private_contact",
        "description": "评标期间在卫生间与投标人代表私下交谈",
        "evidence_sha256": EVIDENCE,
        "evidence_ref": "archive://venue/gaoping/2026-11-29/cam-3.mp4",
    }
    response = app.post(flow.url("/misconduct-reports"), json=body, headers=flow.operator())
    assert response.status_code == 201, response.text
    event = outbox()[-1]
    assert event["action"] == "expert.misconduct_reported"
    assert (event["object_type"], event["object_id"], event["platform"]) == (
        "expert",
        str(committee.expert_ids[3]),
        LOT_PLATFORM,
    )
    assert event["change"]["evidence_sha256"] == EVIDENCE
    assert event["change"]["category"] == "private_contact"
    assert event["change"]["reporter_role"] == "operator"
    assert event["digest"] == change_digest(event["change"])
    by_agency = app.post(flow.url("/misconduct-reports"), json={**body, "category": "left_post"}, headers=_agency(user))
    assert by_agency.status_code == 201
    assert outbox()[-1]["change"]["reporter_role"] == "agency"


def test_misconduct_refusals(flow, app, user, committee, expect_error, outbox):
    flow.create()
    url = flow.url("/misconduct-reports")
    body = {
        "expert_id": str(committee.expert_ids[0]),
        "category": "bribery",
        "description": "收受投标人礼品卡，有照片为证",
        "evidence_sha256": EVIDENCE,
        "evidence_ref": "archive://x",
    }
    before = len(outbox())
    expect_error(app.post(url, json=body, headers=user("operator", platform="yangcheng")), 404, "not_found")
    expect_error(app.post(url, json=body, headers=_agency(user, org="org-other")), 404, "evaluation_not_found")
    for role in ("supervisor", "expert", "bidder"):
        expect_error(app.post(url, json=body, headers=user(role, platform=LOT_PLATFORM)), 403, "forbidden_role")
    for bad in ({"evidence_sha256": "abc"}, {"category": "rude"}, {"description": "短"}, {"unknown": 1}):
        expect_error(app.post(url, json={**body, **bad}, headers=flow.operator()), 422, "validation_error")
    expect_error(
        app.post(url, json={**body, "expert_id": str(committee.reserve_expert_id)}, headers=flow.operator()),
        422,
        "not_a_member",
    )
    assert outbox()[before:] == []
