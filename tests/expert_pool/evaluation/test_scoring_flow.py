"""Scoring over the API: the bids every member sees, signed sheets, corrections, rejections by
majority, the summary, the signed report, its delivery to trading and the draw's reveal."""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal

from sqlalchemy import text

from services.expert_pool.evaluation import delivery
from shared.audit.outbox import canonical_json
from tests.expert_pool.evaluation.conftest import AGENCY_ORG, LOT_PLATFORM, WORKED_SCORES, set_clock_back, sheet_for


def _sha(value) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


# -- bids ----------------------------------------------------------------------------------------


def test_members_see_the_stored_opening_once_started(flow, app, user, service, trading, expect_error):
    flow.create()
    flow.check_in_all()
    # Before the start the bids stay closed to members.
    expect_error(app.get(flow.url("/bids"), headers=flow.member(0)), 409, "evaluation_wrong_status")
    flow.elect()
    flow.start()
    # Whatever trading says later, members score what was fetched at the start.
    trading.opening = trading.opening.model_copy(update={"bids": trading.opening.bids[:1]})
    body = app.get(flow.url("/bids"), headers=flow.member(3)).json()
    assert len(body["opening"]["bids"]) == 4
    assert body["opening_sha256"] == _sha(body["opening"])
    assert [c["code"] for c in body["criteria"]] == ["price", "tech", "comm"]
    assert body["rejected_bid_ids"] == []
    assert app.get(flow.url("/bids"), headers=user("supervisor", platform=LOT_PLATFORM)).status_code == 200
    expect_error(app.get(flow.url("/bids"), headers=service("experts:draw")), 404, "evaluation_not_found")
    expect_error(app.get(flow.url("/bids"), headers=user("operator", platform="qinshui")), 404, "not_found")
    expect_error(app.get(flow.url("/bids"), headers=user("bidder")), 403, "forbidden_role")


# -- sheets --------------------------------------------------------------------------------------


def test_member_signs_a_sheet_with_its_canonical_digest(flow, app, trading, outbox, connection):
    flow.started()
    before = len(outbox())
    response = flow.submit(0, sheet_for(trading, 0, {**WORKED_SCORES, "D": ([30] * 5, [10] * 5)}))
    assert response.status_code == 201, response.text
    sheet = response.json()
    assert sheet["version"] == 1
    assert sheet["sha256"] == _sha(sheet["document"])
    assert sheet["document"]["opening_sha256"] == app.get(flow.url(), headers=flow.operator()).json()["opening_sha256"]
    # Points are stored as text with two decimals: "37.5" is signed as "37.50".
    points = {(s["bid_id"], s["criterion"]): s["points"] for s in sheet["document"]["scores"]}
    assert points[(str(trading.bid_ids["A"]), "tech")] == "40.00"
    [event] = outbox()[before:]
    assert (event["action"], event["change"]["sha256"]) == ("evaluation.sheet_submitted", sheet["sha256"])
    stored = connection.execute(text("select document, sha256 from expert_pool.evaluation_score_sheets")).one()
    assert stored.sha256 == _sha(stored.document) == sheet["sha256"]


def test_resending_the_same_sheet_returns_the_first_and_a_different_one_is_refused(
    flow, app, trading, expect_error, outbox
):
    flow.started()
    table = {**WORKED_SCORES, "D": ([30] * 5, [10] * 5)}
    first = flow.submit(1, sheet_for(trading, 1, table))
    count = len(outbox())
    again = flow.submit(1, sheet_for(trading, 1, table))
    assert again.status_code == 200
    assert again.json() == first.json()
    assert len(outbox()) == count
    changed = {**table, "A": ([41, 41, 41, 41, 41], [15] * 5)}
    details = expect_error(flow.submit(1, sheet_for(trading, 1, changed)), 409, "sheet_already_submitted")
    assert details == {"sha256": first.json()["sha256"]}
    mine = app.get(flow.url("/sheets/mine"), headers=flow.member(1)).json()
    assert [s["sha256"] for s in mine] == [first.json()["sha256"]]


def test_sheet_problems_are_listed(flow, trading, expect_error):
    flow.started()
    body = sheet_for(trading, 0, {**WORKED_SCORES, "D": ([30] * 5, [10] * 5)})
    body["scores"][0]["points"] = "50.01"  # A, technical: above its weight of 50
    body["scores"].pop()  # D, commercial: missing
    details = expect_error(flow.submit(0, body), 422, "invalid_sheet")
    assert details["problems"] == [
        {"bid_id": str(trading.bid_ids["A"]), "criterion": "tech", "problem": "out_of_range"},
        {"bid_id": str(trading.bid_ids["D"]), "criterion": "comm", "problem": "missing"},
    ]
    price = sheet_for(trading, 0, {**WORKED_SCORES, "D": ([30] * 5, [10] * 5)})
    price["scores"].append({"bid_id": str(trading.bid_ids["A"]), "criterion": "price", "points": "30"})
    assert expect_error(flow.submit(0, price), 422, "invalid_sheet")["problems"] == [
        {"bid_id": str(trading.bid_ids["A"]), "criterion": "price", "problem": "not_a_subjective_criterion"}
    ]
    dup = sheet_for(trading, 0, {**WORKED_SCORES, "D": ([30] * 5, [10] * 5)})
    dup["scores"].append(dup["scores"][0])
    expect_error(flow.submit(0, dup), 422, "duplicate_score")
    three_places = sheet_for(trading, 0, {**WORKED_SCORES, "D": ([30] * 5, [10] * 5)})
    three_places["scores"][0]["points"] = "12.345"
    expect_error(flow.submit(0, three_places), 422, "validation_error")
    negative = sheet_for(trading, 0, {**WORKED_SCORES, "D": ([30] * 5, [10] * 5)})
    negative["scores"][0]["points"] = -1
    expect_error(flow.submit(0, negative), 422, "validation_error")


def test_sheets_only_while_scoring_and_only_by_checked_in_members(flow, app, user, committee, trading, expect_error):
    flow.create()
    expect_error(flow.submit(0), 409, "not_checked_in")
    flow.check_in(0)
    details = expect_error(flow.submit(0), 409, "evaluation_wrong_status")
    assert details == {"status": "checkin", "allowed": ["scoring"]}
    expect_error(
        app.post(
            flow.url("/sheets"), json=sheet_for(trading, 0), headers=user("expert", sub=committee.reserve_subject)
        ),
        404,
        "evaluation_not_found",
    )
    expect_error(
        app.post(flow.url("/sheets"), json=sheet_for(trading, 0), headers=flow.operator()), 403, "forbidden_role"
    )


# -- rejections ----------------------------------------------------------------------------------


def test_a_majority_adopts_a_rejection_and_the_bid_leaves_the_sheets(flow, app, trading, outbox, expect_error):
    flow.started()
    rejection_id = flow.reject("D", voters=range(2))
    state = app.get(flow.url(), headers=flow.operator()).json()["rejections"]
    assert [(r["status"], r["agree"]) for r in state] == [("proposed", 2)]
    expect_error(
        app.post(flow.url(f"/rejections/{rejection_id}/votes"), json={"agree": True}, headers=flow.member(1)),
        409,
        "already_voted",
    )
    third = app.post(flow.url(f"/rejections/{rejection_id}/votes"), json={"agree": True}, headers=flow.member(2))
    assert (third.json()["status"], third.json()["agree"]) == ("adopted", 3)
    assert outbox()[-1]["action"] == "evaluation.rejection_adopted"
    expect_error(
        app.post(flow.url(f"/rejections/{rejection_id}/votes"), json={"agree": False}, headers=flow.member(3)),
        409,
        "rejection_decided",
    )
    assert app.get(flow.url("/bids"), headers=flow.member(0)).json()["rejected_bid_ids"] == [str(trading.bid_ids["D"])]
    # Scores for the rejected bid are refused now; the sheet covers the compliant bids only.
    with_d = sheet_for(trading, 0, {**WORKED_SCORES, "D": ([30] * 5, [10] * 5)})
    assert {p["problem"] for p in expect_error(flow.submit(0, with_d), 422, "invalid_sheet")["problems"]} == {
        "unknown_or_rejected_bid"
    }
    assert flow.submit(0).status_code == 201
    again = app.post(
        flow.url("/rejections"),
        json={"bid_id": str(trading.bid_ids["D"]), "reason": "再次提出否决", "basis": "条例 第五十一条"},
        headers=flow.member(4),
    )
    expect_error(again, 409, "rejection_exists")


def test_a_majority_against_dismisses_the_proposal(flow, app, trading, expect_error):
    flow.started()
    rejection_id = flow.reject("B", voters=range(1))
    for i in (1, 2):
        app.post(
            flow.url(f"/rejections/{rejection_id}/votes"),
            json={"agree": False, "note": "报价合理"},
            headers=flow.member(i),
        )
    last = app.post(flow.url(f"/rejections/{rejection_id}/votes"), json={"agree": False}, headers=flow.member(3))
    assert (last.json()["status"], last.json()["disagree"]) == ("dismissed", 3)
    # A dismissed proposal does not block a new one for the same bid.
    assert flow.reject("B", voters=range(4, 5))
    expect_error(
        app.post(
            flow.url("/rejections"),
            json={"bid_id": str(uuid.uuid4()), "reason": "不在开标结果中", "basis": "条例"},
            headers=flow.member(0),
        ),
        422,
        "unknown_bid",
    )
    expect_error(
        app.post(flow.url(f"/rejections/{uuid.uuid4()}/votes"), json={"agree": True}, headers=flow.member(0)),
        404,
        "rejection_not_found",
    )


# -- corrections ---------------------------------------------------------------------------------


def test_corrections_are_approved_by_the_leader_and_keep_every_version(flow, app, trading, outbox, expect_error):
    flow.started()  # member 0 is the leader
    flow.reject("D")
    first = flow.submit(2).json()
    corrected = sheet_for(trading, 2, {**WORKED_SCORES, "A": ([40, 42, 45, 39, 20], [15, 16, 15, 14, 10])})
    body = {"reason": "objective_factor_misread", "explanation": "误读了资质证书的有效期", **corrected}
    response = app.post(flow.url("/corrections"), json=body, headers=flow.member(2))
    assert response.status_code == 201, response.text
    correction = response.json()
    assert correction["status"] == "pending"
    expect_error(app.post(flow.url("/corrections"), json=body, headers=flow.member(2)), 409, "correction_pending")
    # Another member (not the leader) cannot decide.
    decision = {"approve": True, "note": "经核对，同意更正"}
    expect_error(
        app.post(flow.url(f"/corrections/{correction['id']}/decision"), json=decision, headers=flow.member(3)),
        403,
        "not_the_leader",
    )
    approved = app.post(flow.url(f"/corrections/{correction['id']}/decision"), json=decision, headers=flow.member(0))
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    versions = app.get(flow.url("/sheets/mine"), headers=flow.member(2)).json()
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["sha256"] == first["sha256"]
    assert versions[1]["sha256"] == approved.json()["new_sheet_sha256"] == _sha(versions[1]["document"])
    tech_a = {
        s["criterion"]: s["points"]
        for s in versions[1]["document"]["scores"]
        if s["bid_id"] == str(trading.bid_ids["A"])
    }
    assert tech_a["tech"] == "45.00"
    assert [e["action"] for e in outbox()][-2:] == ["evaluation.correction_requested", "evaluation.correction_approved"]
    expect_error(
        app.post(flow.url(f"/corrections/{correction['id']}/decision"), json=decision, headers=flow.operator()),
        409,
        "correction_decided",
    )
    listed = app.get(flow.url("/corrections"), headers=flow.operator()).json()
    assert [(c["reason"], c["status"]) for c in listed] == [("objective_factor_misread", "approved")]


def test_leader_cannot_approve_their_own_correction_but_the_operator_can_refuse_it(flow, app, trading, expect_error):
    flow.started()
    flow.reject("D")
    flow.submit(0)
    body = {
        "reason": "arithmetic_error",
        "explanation": "小计填写有误",
        **sheet_for(trading, 0, {**WORKED_SCORES, "B": ([43, 43, 44, 41, 42], [16, 17, 16, 15, 16])}),
    }
    correction = app.post(flow.url("/corrections"), json=body, headers=flow.member(0)).json()
    decision = {"approve": True, "note": "同意"}
    expect_error(
        app.post(flow.url(f"/corrections/{correction['id']}/decision"), json=decision, headers=flow.member(0)),
        403,
        "own_correction",
    )
    refused = app.post(
        flow.url(f"/corrections/{correction['id']}/decision"),
        json={"approve": False, "note": "不属于可更正情形"},
        headers=flow.operator(),
    )
    assert refused.json()["status"] == "refused"
    assert [v["version"] for v in app.get(flow.url("/sheets/mine"), headers=flow.member(0)).json()] == [1]


def test_correction_refusals(flow, app, trading, expect_error):
    flow.started()
    flow.reject("D")
    body = {"reason": "arithmetic_error", "explanation": "小计填写有误", **sheet_for(trading, 1)}
    expect_error(app.post(flow.url("/corrections"), json=body, headers=flow.member(1)), 409, "no_sheet")
    flow.submit(1)
    expect_error(
        app.post(flow.url("/corrections"), json=body, headers=flow.member(1)), 422, "correction_changes_nothing"
    )
    expect_error(
        app.post(flow.url("/corrections"), json={**body, "reason": "changed_my_mind"}, headers=flow.member(1)),
        422,
        "validation_error",
    )
    expect_error(
        app.post(
            flow.url(f"/corrections/{uuid.uuid4()}/decision"),
            json={"approve": True, "note": "同意"},
            headers=flow.operator(),
        ),
        404,
        "correction_not_found",
    )


# -- results, the report, delivery ---------------------------------------------------------------


def test_results_complete_report_delivery_and_reveal(flow, app, trading, committee, outbox, connection, user, service):
    flow.scored()
    results = app.get(flow.url("/results"), headers=flow.member(4)).json()
    assert results["complete"] is True
    ids = {str(v): k for k, v in trading.bid_ids.items()}
    assert [(ids[r["bid_id"]], r["score"]) for r in results["ranked"]] == [
        ("B", "84.49"),
        ("C", "82.20"),
        ("A", "77.94"),
    ]
    [deviation] = results["deviations"]
    assert (deviation["expert_id"], ids[deviation["bid_id"]]) == (str(committee.expert_ids[4]), "A")
    assert (deviation["member_total"], deviation["committee_mean"], deviation["deviation"]) == (
        "57.54",
        "77.94",
        "20.40",
    )

    before = len(outbox())
    response = app.post(flow.url("/complete"), headers=flow.member(0))
    assert response.status_code == 200, response.text
    out = response.json()
    report = out["report"]
    # The report is canonical JSON with its SHA-256, and holds every sheet and signature.
    assert out["report_sha256"] == _sha(report)
    assert len(report["sheets"]) == 5 and len(report["signatures"]) == 5
    assert {s["sheet_sha256"] for s in report["signatures"]} == {s["sha256"] for s in report["sheets"]}
    assert [r["status"] for r in report["rejections"]] == ["adopted"]
    assert report["deviations"][0]["threshold"] == "10.0"
    assert [(ids[c["bid_id"]], c["rank"]) for c in report["candidates"]] == [("B", 1), ("C", 2), ("A", 3)]
    prices = {ids[b["bid_id"]]: b["evaluation_price_fen"] for b in report["bids"]}
    assert prices == {"A": 90_000_000, "B": 95_000_000, "C": 82_620_000, "D": 80_000_000}
    stored = connection.execute(text("select payload, sha256 from expert_pool.evaluation_reports")).one()
    assert _sha(stored.payload["report"]) == stored.sha256 == out["report_sha256"]

    # Delivered to trading right after the request; the contract's candidates and rejections.
    [sent] = trading.reports
    assert sent.report_sha256 == out["report_sha256"]
    assert [(ids[str(c.bid_id)], c.score, c.evaluated_price_fen) for c in sent.candidates] == [
        ("B", Decimal("84.49"), 95_000_000),
        ("C", Decimal("82.20"), 82_620_000),
        ("A", Decimal("77.94"), 90_000_000),
    ]
    assert [str(r.bid_id) for r in sent.rejected] == [str(trading.bid_ids["D"])]
    assert out["delivered_at"] is None  # answered before the delivery ran
    delivered = app.get(flow.url("/report"), headers=flow.operator()).json()
    assert delivered["delivered_at"] is not None and delivered["delivery_attempts"] == 1

    # The draw is revealed (seed published) now that the result is decided.
    draw = connection.execute(
        text("select status, revealed_at from expert_pool.draws where id = :id"), {"id": committee.draw_id}
    ).one()
    assert draw.status == "revealed" and draw.revealed_at is not None
    actions = [e["action"] for e in outbox()[before:]]
    assert "draw.revealed" in actions
    assert actions.index("evaluation.completed") < actions.index("evaluation.report_delivered")
    completed = next(e for e in outbox() if e["action"] == "evaluation.completed")
    assert completed["change"]["report_sha256"] == out["report_sha256"]

    # After completion: nothing changes any more; the agency may now see it, trading's token too.
    session_view = app.get(flow.url(), headers=user("agency", org=AGENCY_ORG)).json()
    assert session_view["status"] == "completed" and len(session_view["members"]) == 5
    assert app.get(flow.url("/report"), headers=service("experts:draw")).status_code == 200
    assert app.get(flow.url("/report"), headers=user("agency", org="org-other-agency")).status_code == 404


def test_completion_needs_every_sheet_and_nothing_open(flow, app, committee, expect_error):
    flow.started()
    flow.reject("D")
    for i in range(4):
        flow.submit(i)
    details = expect_error(app.post(flow.url("/complete"), headers=flow.member(0)), 409, "sheets_missing")
    assert details == {"expert_ids": [str(committee.expert_ids[4])]}
    summary = app.get(flow.url("/results"), headers=flow.operator()).json()
    assert summary["complete"] is False and summary["missing_sheets"] == [str(committee.expert_ids[4])]
    flow.submit(4)
    flow.reject("A", voters=range(1))  # proposed, not decided
    details = expect_error(app.post(flow.url("/complete"), headers=flow.operator()), 409, "open_matters")
    assert len(details["rejections"]) == 1
    expect_error(app.post(flow.url("/complete"), headers=flow.member(1)), 403, "not_the_leader")


def test_a_failed_delivery_is_kept_and_retried_until_trading_has_it(
    flow, app, trading, session_factory, connection, user, outbox
):
    flow.scored()
    trading.fail_reports = 2
    app.post(flow.url("/complete"), headers=flow.operator())
    state = app.get(flow.url("/report"), headers=flow.operator()).json()
    assert state["delivered_at"] is None and state["delivery_attempts"] == 1
    assert "DependencyUnavailable" in state["last_error"]

    # The loop's round: not yet due (backoff), so nothing is sent.
    settings = app.app.state.settings
    delivery.run_once(session_factory, trading, settings)
    assert trading.calls.count("submit_evaluation_report") == 1
    report_id = connection.execute(text("select id from expert_pool.evaluation_reports")).scalar_one()
    set_clock_back(connection, "evaluation_reports", "next_attempt_at", str(report_id), 1)
    delivery.run_once(session_factory, trading, settings)  # due now, fails again
    assert trading.calls.count("submit_evaluation_report") == 2 and trading.reports == []

    # An operator sends it now, without waiting for the backoff.
    forced = app.post(flow.url("/report/delivery"), headers=flow.operator())
    assert forced.status_code == 200, forced.text
    assert forced.json()["delivered_at"] is not None and forced.json()["delivery_attempts"] == 3
    assert forced.json()["last_error"] is None
    assert len(trading.reports) == 1
    assert [e["action"] for e in outbox()][-2:] == [
        "evaluation.report_delivery_requested",
        "evaluation.report_delivered",
    ]
    # Delivered once is delivered: neither the loop nor another request sends it again.
    set_clock_back(connection, "evaluation_reports", "next_attempt_at", str(report_id), 10)
    delivery.run_once(session_factory, trading, settings)
    app.post(flow.url("/report/delivery"), headers=flow.operator())
    assert len(trading.reports) == 1
    assert app.post(flow.url("/report/delivery"), headers=user("operator", platform="yangcheng")).status_code == 404
    assert app.post(flow.url("/report/delivery"), headers=user("supervisor", platform=LOT_PLATFORM)).status_code == 403


def test_lowest_evaluated_price_signs_empty_sheets_and_ranks_by_evaluation_price(flow, app, trading):
    trading.opening = trading.opening.model_copy(update={"evaluation": {"method": "lowest_evaluated_price"}})
    flow.started()
    flow.reject("D")
    for i in range(5):
        assert flow.submit(i, {"scores": []}).status_code == 201
    out = app.post(flow.url("/complete"), headers=flow.member(0)).json()
    ids = {str(v): k for k, v in trading.bid_ids.items()}
    # C: 102 万 × 0.9 × 0.9 = 82.62 万 < A: 90 万 < B: 95 万.
    assert [(ids[c["bid_id"]], c["score"]) for c in out["report"]["candidates"]] == [
        ("C", None),
        ("A", None),
        ("B", None),
    ]
    assert trading.reports[0].candidates[0].score is None


def test_no_transaction_is_open_while_the_report_is_sent(flow, app, trading, session_factory):
    flow.scored()
    made = []

    def factory():
        s = session_factory()
        made.append(s)
        return s

    app.app.state.session_factory = factory
    seen: list[list[bool]] = []
    original = trading.submit_evaluation_report

    def submit(report):
        seen.append([s.in_transaction() for s in made])
        return original(report)

    trading.submit_evaluation_report = submit
    assert app.post(flow.url("/complete"), headers=flow.operator()).status_code == 200
    # The request's own session committed before the background delivery; the delivery's claim
    # was committed before the call.
    assert len(seen) == 1 and seen[0] and not any(seen[0])
    assert len(trading.reports) == 1
