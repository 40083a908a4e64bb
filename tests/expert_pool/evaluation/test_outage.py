"""Outages (pause, resume, seal by the database clock) and committee changes (replaced members)."""

from __future__ import annotations

from sqlalchemy import text

from services.expert_pool.draws import errors as draw_errors
from services.expert_pool.evaluation import delivery
from tests.expert_pool.evaluation.conftest import LOT_PLATFORM, attestation, set_clock_back, sheet_for


def _pause(app, flow, reason="主场网络中断，正在抢修"):
    response = app.post(flow.url("/pauses"), json={"reason": reason}, headers=flow.operator())
    assert response.status_code == 201, response.text
    return response.json()


def test_pause_before_start_and_resume_within_the_limit(flow, app, outbox, expect_error):
    flow.create()
    pause = _pause(app, flow)
    assert (pause["phase"], pause["limit_minutes"]) == ("before_start", 120)
    assert outbox()[-1]["action"] == "evaluation.paused"
    # Nothing moves while paused.
    expect_error(flow.check_in(0), 409, "evaluation_paused")
    expect_error(
        app.post(flow.url("/pauses"), json={"reason": "再次暂停测试"}, headers=flow.operator()),
        409,
        "evaluation_paused",
    )
    resumed = app.post(flow.url("/resume"), headers=flow.operator())
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "checkin"
    assert [p["outcome"] for p in resumed.json()["pauses"]] == ["resumed"]
    assert outbox()[-1]["action"] == "evaluation.resumed"
    assert flow.check_in(0).status_code == 201
    expect_error(app.post(flow.url("/resume"), headers=flow.operator()), 409, "evaluation_wrong_status")


def test_pause_during_scoring_has_the_during_limit(flow, app, make_client, committee, trading):
    flow.started()
    pause = _pause(app, flow)
    assert (pause["phase"], pause["limit_minutes"]) == ("during", 240)
    # The limits are settings.
    other = make_client("expert_pool", outage_during_minutes=30)
    other.app.state.trading = trading
    app.post(flow.url("/resume"), headers=flow.operator())
    again = other.post(flow.url("/pauses"), json={"reason": "副场视频中断"}, headers=flow.operator())
    assert again.json()["limit_minutes"] == 30


def test_resuming_past_the_limit_seals_and_voids_the_draw(flow, app, committee, connection, outbox, expect_error):
    flow.started()
    flow.reject("D")
    flow.submit(0)
    pause = _pause(app, flow)
    # 241 minutes have passed by the database clock.
    set_clock_back(connection, "evaluation_pauses", "paused_at", pause["id"], 241)
    details = expect_error(app.post(flow.url("/resume"), headers=flow.operator()), 409, "outage_limit_exceeded")
    assert details["phase"] == "during" and details["limit_minutes"] == 240 and details["paused_minutes"] >= 241
    # The seal was committed with the refusal.
    state = app.get(flow.url(), headers=flow.operator()).json()
    assert state["status"] == "sealed" and state["sealed_at"] is not None
    assert [p["outcome"] for p in state["pauses"]] == ["sealed"]
    draw = connection.execute(
        text("select status, void_reason from expert_pool.draws where id = :id"), {"id": committee.draw_id}
    ).one()
    assert draw.status == "void" and "240" in draw.void_reason
    actions = [e["action"] for e in outbox()]
    assert "draw.voided" in actions
    sealed = next(e for e in outbox() if e["action"] == "evaluation.sealed")
    assert sealed["change"]["draw"] == "voided"
    # No more changes of any kind.
    expect_error(flow.submit(1), 409, "evaluation_sealed")
    expect_error(
        app.post(flow.url("/pauses"), json={"reason": "再次暂停测试"}, headers=flow.operator()),
        409,
        "evaluation_sealed",
    )
    expect_error(app.post(flow.url("/complete"), headers=flow.operator()), 409, "evaluation_sealed")
    # The lot is free for a new evaluation, once a new committee is drawn (the old one is void).
    reopened = app.post(
        "/evaluations", json={"lot_id": str(committee.lot_id), "venues": committee.venues_body}, headers=flow.operator()
    )
    expect_error(reopened, 409, "committee_incomplete")


def test_the_loop_seals_an_evaluation_left_paused(flow, app, connection, session_factory, trading, outbox):
    flow.create()
    pause = _pause(app, flow)
    settings = app.app.state.settings
    set_clock_back(connection, "evaluation_pauses", "paused_at", pause["id"], 119)
    assert delivery.seal_overdue(session_factory, settings) == 0
    set_clock_back(connection, "evaluation_pauses", "paused_at", pause["id"], 121)
    assert delivery.seal_overdue(session_factory, settings) == 1
    assert app.get(flow.url(), headers=flow.operator()).json()["status"] == "sealed"
    sealed = next(e for e in outbox() if e["action"] == "evaluation.sealed")
    # Sealed by the expert pool itself.
    assert (sealed["actor"], sealed["actor_role"], sealed["change"]["phase"]) == (
        "svc-expert_pool",
        "service",
        "before_start",
    )
    assert delivery.seal_overdue(session_factory, settings) == 0


def test_seal_goes_ahead_when_the_draw_was_voided_already(flow, app, connection, committee, outbox):
    flow.create()
    pause = _pause(app, flow)
    connection.execute(
        text(
            "update expert_pool.draws set status = 'void', voided_at = clock_timestamp(), voided_by = 'x', "
            "void_reason = '已由交易中心作废' where id = :id"
        ),
        {"id": committee.draw_id},
    )
    set_clock_back(connection, "evaluation_pauses", "paused_at", pause["id"], 500)
    assert app.post(flow.url("/resume"), headers=flow.operator()).status_code == 409
    assert app.get(flow.url(), headers=flow.operator()).json()["status"] == "sealed"
    sealed = next(e for e in outbox() if e["action"] == "evaluation.sealed")
    # The draw's own refusal is recorded with the seal instead of "voided".
    assert sealed["change"]["draw"] == draw_errors.draw_not_found().code


def test_pause_and_resume_are_for_operators_of_the_lot(flow, app, user, expect_error):
    flow.create()
    for headers in (flow.member(0), user("supervisor", platform=LOT_PLATFORM), user("agency")):
        expect_error(
            app.post(flow.url("/pauses"), json={"reason": "网络中断了"}, headers=headers), 403, "forbidden_role"
        )
        expect_error(app.post(flow.url("/resume"), headers=headers), 403, "forbidden_role")
    expect_error(
        app.post(flow.url("/pauses"), json={"reason": "网络中断了"}, headers=user("operator", platform="qinshui")),
        404,
        "not_found",
    )
    expect_error(app.post(flow.url("/pauses"), json={"reason": "断"}, headers=flow.operator()), 422, "validation_error")


# -- committee changes ---------------------------------------------------------------------------


def _replace_member(connection, committee, index: int) -> None:
    """What the draw does for a no-show: the member's assignment ends, the reserve takes the seat."""
    connection.execute(
        text("update expert_pool.draw_assignments set status = 'no_show', no_show_reason = '未到场' where id = :id"),
        {"id": committee.assignment_ids[index]},
    )
    connection.execute(
        text("update expert_pool.draw_assignments set status = 'accepted', venue_id = :v where id = :id"),
        {"id": committee.reserve_assignment_id, "v": committee.main_venue},
    )


def test_a_replaced_members_sheet_and_votes_are_void(
    flow, app, committee, connection, trading, user, outbox, expect_error
):
    flow.started()  # member 0 leads, elected by members 0-2
    flow.reject("D")
    for i in range(5):
        flow.submit(i)
    # Member 4 (the deviating one) is replaced by the reserve.
    _replace_member(connection, committee, 4)
    refreshed = app.post(flow.url("/committee/refresh"), headers=flow.operator())
    assert refreshed.status_code == 200, refreshed.text
    members = {m["expert_id"]: m for m in refreshed.json()["members"]}
    assert members[str(committee.expert_ids[4])]["status"] == "replaced"
    assert members[str(committee.reserve_expert_id)]["status"] == "active"
    assert refreshed.json()["members_total"] == 5
    event = outbox()[-1]
    assert event["action"] == "evaluation.committee_changed"
    assert event["change"]["replaced"] == [str(committee.expert_ids[4])]
    assert event["change"]["added"] == [str(committee.reserve_expert_id)]
    # The replaced member can do nothing more.
    expect_error(flow.submit(4), 409, "member_replaced")
    # The new member checks in and signs; the summary uses the five active sheets only.
    reserve = user("expert", sub=committee.reserve_subject)
    assert (
        app.post(
            flow.url("/check-ins"),
            json={"venue_id": str(committee.main_venue), "attestation": attestation()},
            headers=reserve,
        ).status_code
        == 201
    )
    summary = app.get(flow.url("/results"), headers=flow.operator()).json()
    assert summary["missing_sheets"] == [str(committee.reserve_expert_id)]
    body = {
        "scores": [{**s, "points": "30"} if s["criterion"] == "tech" else s for s in sheet_for(trading, 3)["scores"]]
    }
    assert app.post(flow.url("/sheets"), json=body, headers=reserve).status_code == 201
    report = app.post(flow.url("/complete"), headers=flow.member(0)).json()["report"]
    void = [s for s in report["sheets"] if s["expert_id"] == str(committee.expert_ids[4])]
    assert [s["void_reason"] for s in void] == ["member_replaced"]
    assert str(committee.expert_ids[4]) not in {s["expert_id"] for s in report["signatures"]}
    # Member 4's 57.54 no longer counts: no deviation is marked for them.
    assert all(d["expert_id"] != str(committee.expert_ids[4]) for d in report["deviations"])


def test_replacing_the_leader_calls_a_new_vote(flow, app, committee, connection, expect_error):
    flow.started()
    _replace_member(connection, committee, 0)
    state = app.post(flow.url("/committee/refresh"), headers=flow.operator()).json()
    assert state["leader_chosen_by"] is None
    leader = app.get(flow.url("/leader"), headers=flow.operator()).json()
    assert leader == {"round": 2, "votes": {}, "leader_expert_id": None, "chosen_by": None}
    expect_error(app.post(flow.url("/complete"), headers=flow.member(0)), 409, "member_replaced")
    candidate = str(committee.expert_ids[1])
    for i in (1, 2, 3):
        app.post(flow.url("/leader-votes"), json={"candidate_expert_id": candidate}, headers=flow.member(i))
    assert app.get(flow.url("/leader"), headers=flow.operator()).json()["leader_expert_id"] == candidate


def test_refresh_without_changes_changes_nothing(flow, app, outbox, user, expect_error):
    flow.create()
    before = len(outbox())
    assert app.post(flow.url("/committee/refresh"), headers=flow.operator()).status_code == 200
    assert len(outbox()) == before
    expect_error(
        app.post(flow.url("/committee/refresh"), headers=user("operator", platform="qinshui")), 404, "not_found"
    )
    expect_error(app.post(flow.url("/committee/refresh"), headers=flow.member(0)), 403, "forbidden_role")
