"""Opening an evaluation, checking in with a venue attestation, electing the leader, starting."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from services.expert_pool.draws.models import DrawAssignment
from shared.audit.outbox import canonical_json, change_digest
from tests.expert_pool.evaluation.conftest import AGENCY_ORG, LOT_PLATFORM, FakeTrading, attestation


def _body(committee, **overrides):
    return {"lot_id": str(committee.lot_id), "venues": committee.venues_body, **overrides}


# -- POST /evaluations ----------------------------------------------------------------------------


def test_operator_opens_the_evaluation_with_the_opening_result_and_the_accepted_committee(
    flow, app, committee, trading, outbox, connection
):
    body = flow.create()

    # The opening result is kept exactly as fetched, with the SHA-256 every member scores against.
    snapshot = trading.opening.model_dump(mode="json")
    assert body["opening_sha256"] == hashlib.sha256(canonical_json(snapshot)).hexdigest()
    stored = connection.execute(
        text("select opening, platform, law, agency_org, status from expert_pool.evaluation_sessions where id = :id"),
        {"id": body["id"]},
    ).one()
    assert stored.opening == snapshot
    assert (stored.platform, stored.law, stored.agency_org, stored.status) == (
        LOT_PLATFORM,
        "government_procurement",
        AGENCY_ORG,
        "checkin",
    )
    assert trading.calls == ["lot_summary", "opening_result"]
    assert body["status"] == "checkin"
    assert body["method"] == "comprehensive_scoring"
    assert sorted(m["expert_id"] for m in body["members"]) == sorted(str(e) for e in committee.expert_ids)
    assert body["members_total"] == 5 and body["checked_in"] == 0
    assert {v["role"] for v in body["venues"]} == {"main", "sub"}
    # Members keep the venue the draw seated them at.
    seats = {m["expert_id"]: m["venue_id"] for m in body["members"]}
    assert seats[str(committee.expert_ids[0])] == str(committee.main_venue)
    assert seats[str(committee.expert_ids[1])] == str(committee.sub_venue)

    [event] = outbox()
    assert event["action"] == "evaluation.created"
    assert (event["platform"], event["actor"], event["actor_role"]) == (LOT_PLATFORM, "operator-gaoping", "operator")
    assert event["change"]["opening_sha256"] == body["opening_sha256"]
    assert event["change"]["members"] == sorted(str(e) for e in committee.expert_ids)
    assert event["digest"] == change_digest(event["change"])


def test_trading_service_token_opens_it_but_does_not_see_the_committee(app, committee, service, outbox):
    response = app.post("/evaluations", json=_body(committee), headers=service("experts:draw", sub="svc-trading"))
    assert response.status_code == 201, response.text
    body = response.json()
    # The list is confidential until the result (招标投标法 第三十七条): counts only.
    assert body["members"] == [] and body["members_total"] == 5
    assert [e["actor"] for e in outbox()] == ["svc-trading"]


def test_city_operator_may_open_a_county_evaluation(app, committee, user):
    response = app.post("/evaluations", json=_body(committee), headers=user("operator", platform="jincheng"))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("platform", ["yangcheng", "qinshui"])
def test_another_countys_operator_gets_404(app, committee, user, outbox, expect_error, connection, platform):
    response = app.post("/evaluations", json=_body(committee), headers=user("operator", platform=platform))
    expect_error(response, 404, "not_found")
    assert connection.execute(text("select count(*) from expert_pool.evaluation_sessions")).scalar() == 0
    assert outbox() == []


@pytest.mark.parametrize("role", ["supervisor", "expert", "agency", "tenderee", "bidder", "admin"])
def test_other_roles_cannot_open_an_evaluation(app, committee, user, outbox, expect_error, role):
    details = expect_error(app.post("/evaluations", json=_body(committee), headers=user(role)), 403, "forbidden_role")
    assert details == {"allowed": ["operator"]}
    assert outbox() == []


def test_service_token_needs_the_draw_scope(app, committee, service, expect_error):
    details = expect_error(
        app.post("/evaluations", json=_body(committee), headers=service("trading:read")), 403, "insufficient_scope"
    )
    assert details == {"missing": ["experts:draw"]}


def test_one_open_evaluation_per_lot(flow, app, expect_error, outbox):
    first = flow.create()
    before = len(outbox())
    details = expect_error(
        app.post("/evaluations", json=_body(flow.committee), headers=flow.operator()), 409, "evaluation_exists"
    )
    assert details == {"evaluation_id": first["id"]}
    assert len(outbox()) == before


def test_a_lot_not_opened_cannot_be_evaluated(app, committee, trading, user, expect_error):
    trading.opening = trading.opening.model_copy(update={"status": "failed", "bids": []})
    details = expect_error(
        app.post("/evaluations", json=_body(committee), headers=user("operator", platform=LOT_PLATFORM)),
        409,
        "lot_not_opened",
    )
    assert details == {"opening_status": "failed"}


def test_trading_unreachable_is_a_503_and_nothing_is_stored(app, committee, trading, user, expect_error, connection):
    trading.unavailable = True
    expect_error(
        app.post("/evaluations", json=_body(committee), headers=user("operator", platform=LOT_PLATFORM)),
        503,
        "dependency_unavailable",
    )
    assert connection.execute(text("select count(*) from expert_pool.evaluation_sessions")).scalar() == 0


CRITERIA_WITHOUT_PRICE = [
    {"code": "tech", "name": "技术", "kind": "technical", "weight_pct": "80.00"},
    {"code": "comm", "name": "商务", "kind": "commercial", "weight_pct": "20.00"},
]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"price_formula": "average_benchmark"}, "unsupported_price_formula"),
        ({"criteria": CRITERIA_WITHOUT_PRICE}, "invalid_evaluation_method"),
    ],
)
def test_a_method_we_cannot_score_is_refused_at_the_start(app, committee, trading, user, expect_error, change, code):
    trading.opening = trading.opening.model_copy(update={"evaluation": {**trading.opening.evaluation, **change}})
    expect_error(
        app.post("/evaluations", json=_body(committee), headers=user("operator", platform=LOT_PLATFORM)), 422, code
    )


def test_price_deductions_on_a_bidding_law_lot_are_refused(app, make_committee, user, expect_error, make_client):
    committee = make_committee()
    app.app.state.trading = FakeTrading(committee.lot_id, law="bidding_law")
    details = expect_error(
        app.post("/evaluations", json=_body(committee), headers=user("operator", platform=LOT_PLATFORM)),
        422,
        "invalid_evaluation_method",
    )
    assert details == {"law": "bidding_law"}


@pytest.mark.parametrize(
    "venues",
    [
        "two_mains",
        "no_main",
        "duplicate",
    ],
)
def test_venues_need_exactly_one_main_venue(app, committee, user, expect_error, venues):
    main, sub = committee.venues_body
    body = {
        "two_mains": [main, {**sub, "role": "main"}],
        "no_main": [{**main, "role": "sub"}, sub],
        "duplicate": [main, main],
    }[venues]
    expect_error(
        app.post("/evaluations", json=_body(committee, venues=body), headers=user("operator", platform=LOT_PLATFORM)),
        422,
        "invalid_venues",
    )


def test_members_seated_at_a_venue_not_listed_are_refused(app, committee, user, expect_error):
    main, _ = committee.venues_body
    details = expect_error(
        app.post("/evaluations", json=_body(committee, venues=[main]), headers=user("operator", platform=LOT_PLATFORM)),
        422,
        "member_venue_unknown",
    )
    assert sorted(details["expert_ids"]) == sorted(str(e) for e in committee.expert_ids[1::2])


def test_a_committee_short_of_five_or_even_is_refused(app, committee, session, user, expect_error):
    session.execute(
        text("update expert_pool.draw_assignments set status = 'declined', decline_reason = '出差' where id = :id"),
        {"id": committee.assignment_ids[4]},
    )
    details = expect_error(
        app.post("/evaluations", json=_body(committee), headers=user("operator", platform=LOT_PLATFORM)),
        409,
        "committee_incomplete",
    )
    assert details == {"accepted_members": 4}


@pytest.mark.parametrize(
    "body",
    [
        {"lot_id": "not-a-uuid", "venues": []},
        {"venues": []},
        {"lot_id": str(uuid.uuid4()), "venues": [], "extra": 1},
        {
            "lot_id": str(uuid.uuid4()),
            "venues": [{"venue_id": str(uuid.uuid4()), "platform": "x", "role": "hall", "seats": 1}],
        },
    ],
)
def test_malformed_bodies_are_422(app, user, expect_error, body):
    expect_error(
        app.post("/evaluations", json=body, headers=user("operator", platform=LOT_PLATFORM)), 422, "validation_error"
    )


# -- GET /evaluations ----------------------------------------------------------------------------


def test_readers_see_what_their_role_allows(flow, app, user, service, committee, expect_error):
    created = flow.create()
    url = flow.url()
    assert app.get(url, headers=user("supervisor", platform=LOT_PLATFORM)).json()["members"] != []
    assert app.get(url, headers=user("supervisor", platform="jincheng")).status_code == 200
    assert app.get(url, headers=flow.member(2)).json()["id"] == created["id"]
    assert app.get(url, headers=service("experts:draw")).json()["members"] == []
    expect_error(app.get(url, headers=user("supervisor", platform="qinshui")), 404, "not_found")
    expect_error(app.get(url, headers=user("operator", platform="yangcheng")), 404, "not_found")
    # An expert who is not on this committee (the reserve, for one) sees nothing.
    expect_error(app.get(url, headers=user("expert", sub=committee.reserve_subject)), 404, "evaluation_not_found")
    # The agency only after the report is signed.
    expect_error(app.get(url, headers=user("agency", org=AGENCY_ORG)), 404, "evaluation_not_found")
    expect_error(app.get(f"/evaluations/{uuid.uuid4()}", headers=flow.operator()), 404, "evaluation_not_found")

    listed = app.get("/evaluations", params={"lot_id": str(committee.lot_id)}, headers=flow.operator()).json()
    assert [e["id"] for e in listed] == [created["id"]]
    assert app.get("/evaluations", headers=user("operator", platform="qinshui")).json() == []
    assert [e["id"] for e in app.get("/evaluations", headers=flow.member(0)).json()] == [created["id"]]
    assert app.get("/evaluations", headers=user("expert", sub=committee.reserve_subject)).json() == []
    expect_error(app.get("/evaluations", headers=user("bidder")), 403, "forbidden_role")


# -- check-in ------------------------------------------------------------------------------------


def test_member_checks_in_with_the_venue_attestation(flow, app, outbox, connection):
    flow.create()
    before = len(outbox())
    response = flow.check_in(0)
    assert response.status_code == 201, response.text
    assert response.json()["result"] == "passed"
    row = connection.execute(
        text("select device_id, method, result, evidence_sha256 from expert_pool.evaluation_check_ins")
    ).one()
    assert tuple(row) == ("venue-dev-01", "face", "passed", hashlib.sha256(b"face capture").hexdigest())
    [event] = outbox()[before:]
    assert event["action"] == "evaluation.checked_in"
    assert event["actor_role"] == "expert"
    assert event["change"]["evidence_sha256"] == row.evidence_sha256
    assert app.get(flow.url(), headers=flow.operator()).json()["checked_in"] == 1


def test_failed_attestation_is_recorded_and_refused(flow, app, outbox, connection, expect_error):
    flow.create()
    before = len(outbox())
    expect_error(flow.check_in(1, "failed"), 403, "identity_not_verified")
    # The refusal is on record (the request committed it) and the member is still not checked in.
    assert connection.execute(text("select result from expert_pool.evaluation_check_ins")).scalar_one() == "failed"
    [event] = outbox()[before:]
    assert event["action"] == "evaluation.check_in_refused"
    assert app.get(flow.url(), headers=flow.operator()).json()["checked_in"] == 0
    # A later successful attestation checks the member in.
    assert flow.check_in(1).status_code == 201


def test_check_in_refusals(flow, app, committee, user, expect_error, outbox):
    flow.create()
    url = flow.url("/check-ins")
    body = {"venue_id": str(committee.main_venue), "attestation": attestation()}
    before = len(outbox())
    # Only committee members; the reserve (not seated) is not one.
    expect_error(
        app.post(url, json=body, headers=user("expert", sub=committee.reserve_subject)), 404, "evaluation_not_found"
    )
    # Member 1 is seated at the sub-venue.
    details = expect_error(app.post(url, json=body, headers=flow.member(1)), 422, "wrong_venue")
    assert details == {"assigned_venue_id": str(committee.sub_venue)}
    expect_error(
        app.post(url, json={**body, "venue_id": str(uuid.uuid4())}, headers=flow.member(0)), 422, "unknown_venue"
    )
    stale = {**body, "attestation": attestation(at=datetime.now(UTC) - timedelta(hours=2))}
    expect_error(app.post(url, json=stale, headers=flow.member(0)), 422, "stale_attestation")
    bad_digest = {**body, "attestation": {**attestation(), "evidence_sha256": "XYZ"}}
    expect_error(app.post(url, json=bad_digest, headers=flow.member(0)), 422, "validation_error")
    naive_time = {**body, "attestation": {**attestation(), "attested_at": "2026-11-29T10:00:00"}}
    expect_error(app.post(url, json=naive_time, headers=flow.member(0)), 422, "validation_error")
    assert outbox()[before:] == []
    assert flow.check_in(0).status_code == 201
    expect_error(flow.check_in(0), 409, "already_checked_in")
    for role in ("operator", "supervisor", "agency"):
        expect_error(app.post(url, json=body, headers=user(role, platform=LOT_PLATFORM)), 403, "forbidden_role")


# -- leader --------------------------------------------------------------------------------------


def test_a_majority_of_votes_elects_the_leader(flow, app, committee, outbox, expect_error):
    flow.create()
    flow.check_in_all()
    url = flow.url("/leader-votes")
    candidate = str(committee.expert_ids[2])
    for i in range(2):
        response = app.post(url, json={"candidate_expert_id": candidate}, headers=flow.member(i))
        assert response.status_code == 201
        assert response.json()["leader_expert_id"] is None
    expect_error(app.post(url, json={"candidate_expert_id": candidate}, headers=flow.member(0)), 409, "already_voted")
    third = app.post(url, json={"candidate_expert_id": candidate}, headers=flow.member(4))
    assert third.json() == {"round": 1, "votes": {candidate: 3}, "leader_expert_id": candidate, "chosen_by": "vote"}
    assert [e["action"] for e in outbox()][-2:] == ["evaluation.leader_vote_cast", "evaluation.leader_elected"]
    expect_error(
        app.post(url, json={"candidate_expert_id": candidate}, headers=flow.member(3)), 409, "leader_already_chosen"
    )
    members = app.get(flow.url(), headers=flow.operator()).json()["members"]
    assert [m["expert_id"] for m in members if m["leader"]] == [candidate]


def test_votes_need_a_checked_in_member_and_a_member_candidate(flow, app, committee, expect_error):
    flow.create()
    url = flow.url("/leader-votes")
    expect_error(
        app.post(url, json={"candidate_expert_id": str(committee.expert_ids[0])}, headers=flow.member(0)),
        409,
        "not_checked_in",
    )
    flow.check_in(0)
    details = expect_error(
        app.post(url, json={"candidate_expert_id": str(committee.reserve_expert_id)}, headers=flow.member(0)),
        422,
        "not_a_member",
    )
    assert details == {"expert_id": str(committee.reserve_expert_id)}


def test_operator_records_the_leader_when_votes_are_split(flow, app, committee, user, outbox, expect_error):
    flow.create()
    flow.check_in_all()
    for i, candidate in enumerate([0, 1, 2, 3, 4]):
        app.post(
            flow.url("/leader-votes"),
            json={"candidate_expert_id": str(committee.expert_ids[candidate])},
            headers=flow.member(i),
        )
    assert app.get(flow.url("/leader"), headers=flow.operator()).json()["leader_expert_id"] is None
    body = {"expert_id": str(committee.expert_ids[3]), "note": "票数分散，经全体成员推举"}
    expect_error(
        app.put(flow.url("/leader"), json=body, headers=user("operator", platform="qinshui")), 404, "not_found"
    )
    expect_error(app.put(flow.url("/leader"), json=body, headers=flow.member(0)), 403, "forbidden_role")
    response = app.put(flow.url("/leader"), json=body, headers=flow.operator())
    assert response.status_code == 200, response.text
    assert response.json()["chosen_by"] == "operator"
    assert outbox()[-1]["change"]["note"] == "票数分散，经全体成员推举"
    expect_error(app.put(flow.url("/leader"), json=body, headers=flow.operator()), 409, "leader_already_chosen")


# -- start ---------------------------------------------------------------------------------------


def test_start_needs_everyone_checked_in_and_a_leader(flow, app, committee, user, expect_error, outbox):
    flow.create()
    for i in range(4):
        flow.check_in(i)
    details = expect_error(app.post(flow.url("/start"), headers=flow.operator()), 409, "members_not_checked_in")
    assert details == {"expert_ids": [str(committee.expert_ids[4])]}
    flow.check_in(4)
    expect_error(app.post(flow.url("/start"), headers=flow.operator()), 409, "leader_not_chosen")
    flow.elect()
    expect_error(app.post(flow.url("/start"), headers=user("operator", platform="lingchuan")), 404, "not_found")
    expect_error(app.post(flow.url("/start"), headers=user("supervisor", platform=LOT_PLATFORM)), 403, "forbidden_role")
    expect_error(app.post(flow.url("/start"), headers=flow.member(0)), 403, "forbidden_role")
    started = flow.start()
    assert started["status"] == "scoring" and started["started_at"] is not None
    assert outbox()[-1]["action"] == "evaluation.started"
    details = expect_error(app.post(flow.url("/start"), headers=flow.operator()), 409, "evaluation_wrong_status")
    assert details == {"status": "scoring", "allowed": ["checkin"]}


def test_draw_assignment_rows_are_only_read(flow, session, committee):
    # The evaluation reads the committee; it never changes the draw's assignments.
    flow.create()
    statuses = {a.status for a in session.query(DrawAssignment).filter(DrawAssignment.draw_id == committee.draw_id)}
    assert statuses == {"accepted", "reserve"}


def test_trading_is_called_before_the_request_opens_a_transaction(app, committee, trading, user, session_factory):
    # Sessions the app makes are recorded; when trading answers, none of them may be in a
    # transaction (architecture: never hold one open across a call to another service).
    made = []

    def factory():
        s = session_factory()
        made.append(s)
        return s

    app.app.state.session_factory = factory
    seen: list[list[bool]] = []
    original_summary, original_opening = trading.lot_summary, trading.opening_result

    def lot_summary(lot_id):
        seen.append([s.in_transaction() for s in made])
        return original_summary(lot_id)

    def opening_result(lot_id):
        seen.append([s.in_transaction() for s in made])
        return original_opening(lot_id)

    trading.lot_summary, trading.opening_result = lot_summary, opening_result
    response = app.post("/evaluations", json=_body(committee), headers=user("operator", platform=LOT_PLATFORM))
    assert response.status_code == 201, response.text
    assert seen == [[False], [False]]
    assert made and not made[0].in_transaction()  # committed and closed afterwards
