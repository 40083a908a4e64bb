"""Experts answer their own assignments; declines and no-shows are replaced from the specialty's
reserves in draw order (the reserve told); when reserves run out a supplementary draw fills the seats."""

from __future__ import annotations

import uuid

import pytest

from tests.expert_pool.draws.conftest import assignments, draw_body, draw_row, notifications, start_evaluation


@pytest.fixture
def committee(pool, drawn, connection):
    """5 members + 2 reserves of one specialty among 8 experts who can sign in (one left over)."""
    code = pool.specialty()
    ids = [pool.expert([code], subject=f"exp-{i}") for i in range(8)]
    summary = drawn(draw_body([(code, 5, 2)]))
    subject = {e: f"exp-{i}" for i, e in enumerate(ids)}
    rows = assignments(connection, summary["id"])
    return {
        "code": code,
        "summary": summary,
        "members": [r for r in rows if r["role"] == "member"],
        "reserves": [r for r in rows if r["role"] == "reserve"],
        "subject": subject,
    }


def _as(user, committee, row):
    return user("expert", sub=committee["subject"][row["expert_id"]])


def test_an_expert_lists_and_accepts_their_assignment(committee, expert_pool, user, outbox):
    member = committee["members"][0]
    headers = _as(user, committee, member)
    [listed] = expert_pool.get("/me/assignments", headers=headers).json()
    assert listed["id"] == str(member["id"]) and listed["status"] == "pending"
    assert listed["draw_id"] == committee["summary"]["id"] and listed["project_code"] == "JC2026-0001"
    response = expert_pool.post(f"/me/assignments/{member['id']}/accept", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted" and response.json()["responded_at"]
    event = outbox()[-1]
    assert (event["action"], event["object_id"], event["actor_role"]) == (
        "assignment.accepted",
        str(member["id"]),
        "expert",
    )
    assert str(member["expert_id"]) not in str(event["change"])
    summary = expert_pool.get(f"/draws/{committee['summary']['id']}", headers=user("operator")).json()
    assert (summary["accepted"], summary["pending"]) == (1, 4)


def test_accepting_twice_or_someone_elses_is_refused(committee, expert_pool, user, expect_error):
    mine, theirs = committee["members"][0], committee["members"][1]
    headers = _as(user, committee, mine)
    assert expert_pool.post(f"/me/assignments/{mine['id']}/accept", headers=headers).status_code == 200
    details = expect_error(
        expert_pool.post(f"/me/assignments/{mine['id']}/accept", headers=headers), 409, "assignment_wrong_status"
    )
    assert details == {"status": "accepted", "allowed": ["pending"]}
    expect_error(expert_pool.post(f"/me/assignments/{theirs['id']}/accept", headers=headers), 404, "not_found")
    # A reserve was never told: its assignment does not exist for it yet.
    reserve = committee["reserves"][0]
    expect_error(
        expert_pool.post(f"/me/assignments/{reserve['id']}/accept", headers=_as(user, committee, reserve)),
        404,
        "not_found",
    )


def test_a_decline_calls_the_first_reserve(committee, expert_pool, user, connection, outbox):
    member, first_reserve = committee["members"][2], committee["reserves"][0]
    before = len(notifications(connection))
    response = expert_pool.post(
        f"/me/assignments/{member['id']}/decline",
        json={"reason": "本人近亲属在投标单位任职，申请回避"},
        headers=_as(user, committee, member),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "declined"
    rows = {r["id"]: r for r in assignments(connection, committee["summary"]["id"])}
    promoted = rows[first_reserve["id"]]
    assert (promoted["status"], promoted["replaces_id"]) == ("pending", member["id"])
    assert rows[committee["reserves"][1]["id"]]["status"] == "reserve"
    [told] = notifications(connection)[before:]
    assert (told["assignment_id"], told["kind"]) == (first_reserve["id"], "promoted")
    assert [e["action"] for e in outbox()][-2:] == ["assignment.declined", "assignment.promoted"]
    # The reserve now sees the seat and may accept it.
    headers = _as(user, committee, first_reserve)
    [listed] = expert_pool.get("/me/assignments", headers=headers).json()
    assert listed["status"] == "pending"
    assert expert_pool.post(f"/me/assignments/{first_reserve['id']}/accept", headers=headers).status_code == 200
    summary = expert_pool.get(f"/draws/{committee['summary']['id']}", headers=user("operator")).json()
    assert (summary["accepted"], summary["pending"], summary["declined"], summary["reserves_left"]) == (1, 4, 1, 1)


def test_declining_needs_a_reason(committee, expert_pool, user, expect_error):
    member = committee["members"][0]
    expect_error(
        expert_pool.post(f"/me/assignments/{member['id']}/decline", json={}, headers=_as(user, committee, member)),
        422,
        "validation_error",
    )


def test_no_answers_once_the_evaluation_has_started(committee, expert_pool, user, connection, expect_error):
    member = committee["members"][0]
    start_evaluation(connection, committee["summary"]["id"])
    expect_error(
        expert_pool.post(f"/me/assignments/{member['id']}/accept", headers=_as(user, committee, member)),
        409,
        "response_closed",
    )


@pytest.mark.parametrize("role", ["operator", "supervisor", "bidder", "tenderee"])
def test_only_experts_have_assignments(committee, expert_pool, user, expect_error, role):
    member = committee["members"][0]
    expect_error(expert_pool.get("/me/assignments", headers=user(role)), 403, "forbidden_role")
    expect_error(expert_pool.post(f"/me/assignments/{member['id']}/accept", headers=user(role)), 403, "forbidden_role")


def test_an_expert_account_without_an_expert_record(expert_pool, user, service, expect_error):
    expect_error(expert_pool.get("/me/assignments", headers=user("expert", sub="nobody")), 403, "not_an_expert")
    expect_error(expert_pool.get("/me/assignments", headers=service("experts:draw")), 403, "wrong_token_type")


# -- no-shows --------------------------------------------------------------------------------------


def test_an_operator_marks_a_no_show_and_the_reserve_is_called(committee, expert_pool, user, connection, outbox):
    member = committee["members"][0]
    draw_id = committee["summary"]["id"]
    expert_pool.post(f"/me/assignments/{member['id']}/accept", headers=_as(user, committee, member))
    start_evaluation(connection, draw_id)  # no-shows are found at the evaluation
    response = expert_pool.post(
        f"/draws/{draw_id}/assignments/{member['id']}/no-show",
        json={"reason": "开评前未到场"},
        headers=user("operator"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["declined"] == 1 and response.json()["pending"] == 5
    rows = {r["id"]: r for r in assignments(connection, draw_id)}
    assert rows[member["id"]]["status"] == "no_show"
    assert rows[committee["reserves"][0]["id"]]["status"] == "pending"
    assert [e["action"] for e in outbox()][-2:] == ["assignment.no_show", "assignment.promoted"]


def test_who_may_mark_a_no_show(committee, expert_pool, user, service, expect_error):
    draw_id, member = committee["summary"]["id"], committee["members"][0]
    path = f"/draws/{draw_id}/assignments/{member['id']}/no-show"
    body = {"reason": "未到场"}
    expect_error(expert_pool.post(path, json=body, headers=user("supervisor")), 403, "forbidden_role")
    expect_error(expert_pool.post(path, json=body, headers=user("expert")), 403, "forbidden_role")
    expect_error(expert_pool.post(path, json=body, headers=service("experts:draw")), 403, "wrong_token_type")
    expect_error(expert_pool.post(path, json=body, headers=user("operator", platform="gaoping")), 404, "not_found")
    expect_error(
        expert_pool.post(f"/draws/{draw_id}/assignments/{uuid.uuid4()}/no-show", json=body, headers=user("operator")),
        404,
        "not_found",
    )


# -- reserves run out: the supplementary draw ------------------------------------------------------


def _decline_all(expert_pool, user, committee, rows):
    for row in rows:
        response = expert_pool.post(
            f"/me/assignments/{row['id']}/decline", json={"reason": "临时出差"}, headers=_as(user, committee, row)
        )
        assert response.status_code == 200, response.text


def test_when_reserves_run_out_a_supplementary_draw_fills_the_seats(
    committee, expert_pool, user, trading, connection, pool, outbox
):
    draw_id = committee["summary"]["id"]
    # Three members decline: two reserves step in, one seat stays empty.
    _decline_all(expert_pool, user, committee, committee["members"][:3])
    summary = expert_pool.get(f"/draws/{draw_id}", headers=trading).json()
    assert (summary["pending"], summary["declined"], summary["reserves_left"]) == (4, 3, 0)
    fresh = set(pool.experts(3, [committee["code"]]))
    response = expert_pool.post(
        f"/draws/{draw_id}/supplementary",
        json={"reason": "候补专家已用完，补充抽取"},
        headers={**trading, "Idempotency-Key": "supp-1"},
    )
    assert response.status_code == 201, response.text
    extra = response.json()
    assert (extra["kind"], extra["status"], extra["members_required"], extra["pending"]) == (
        "supplementary",
        "sealed",
        1,
        1,
    )
    assert extra["commitment"] != committee["summary"]["commitment"]
    row = draw_row(connection, extra["id"])
    assert str(row["parent_id"]) == draw_id and row["reason"] == "候补专家已用完，补充抽取"
    assert row["request"]["request"]["specialties"] == [{"specialty": committee["code"], "count": 1, "reserves": 2}]
    # Everyone drawn for the lot before is excluded: only the fresh experts and the one never drawn remain.
    assert row["exclusions"][committee["code"]]["excluded"] == {"already_drawn_for_lot": 7}
    taken = {a["expert_id"] for a in assignments(connection, extra["id"])}
    leftover = set(committee["subject"]) - {r["expert_id"] for r in committee["members"] + committee["reserves"]}
    assert taken <= fresh | leftover and len(taken) == 3
    assert [e["action"] for e in outbox()][-2:] == ["draw.committed", "draw.sealed"]
    # The same request again is the same supplementary draw.
    again = expert_pool.post(
        f"/draws/{draw_id}/supplementary",
        json={"reason": "候补专家已用完，补充抽取"},
        headers={**trading, "Idempotency-Key": "supp-1"},
    )
    assert again.status_code == 200 and again.json()["id"] == extra["id"]
    lot = expert_pool.get(f"/lots/{committee['summary']['lot_id']}/draws", headers=user("supervisor")).json()
    assert [(d["kind"], d["parent_id"]) for d in lot] == [("initial", None), ("supplementary", draw_id)]


def test_a_supplementary_draw_needs_a_shortfall(committee, expert_pool, user, trading, expect_error):
    draw_id = committee["summary"]["id"]
    _decline_all(expert_pool, user, committee, committee["members"][:1])  # a reserve steps in
    expect_error(
        expert_pool.post(
            f"/draws/{draw_id}/supplementary",
            json={"reason": "试试"},
            headers={**user("operator"), "Idempotency-Key": "s"},
        ),
        409,
        "no_shortfall",
    )


def test_who_may_ask_for_a_supplementary_draw(committee, expert_pool, user, expect_error):
    path = f"/draws/{committee['summary']['id']}/supplementary"
    body = {"reason": "补充抽取"}
    for role in ("supervisor", "expert", "tenderee", "agency"):
        expect_error(
            expert_pool.post(path, json=body, headers={**user(role), "Idempotency-Key": "s"}), 403, "forbidden_role"
        )
    expect_error(
        expert_pool.post(path, json=body, headers={**user("operator", platform="gaoping"), "Idempotency-Key": "s"}),
        404,
        "not_found",
    )
    expect_error(expert_pool.post(path, json=body, headers=user("operator")), 422, "idempotency_key_required")


def test_a_decline_after_the_supplementary_draw_uses_its_reserves(
    committee, expert_pool, user, trading, connection, pool
):
    draw_id = committee["summary"]["id"]
    _decline_all(expert_pool, user, committee, committee["members"][:3])
    subjects = {pool.expert([committee["code"]], subject=f"late-{i}"): f"late-{i}" for i in range(3)}
    committee["subject"].update(subjects)
    extra = expert_pool.post(
        f"/draws/{draw_id}/supplementary", json={"reason": "补充抽取"}, headers={**trading, "Idempotency-Key": "s2"}
    ).json()
    # A member of the original draw declines: the supplementary draw's first reserve is called.
    still_there = committee["members"][3]
    _decline_all(expert_pool, user, committee, [still_there])
    extra_rows = assignments(connection, extra["id"])
    assert [r["status"] for r in extra_rows] == ["pending", "pending", "reserve"]
    assert extra_rows[1]["replaces_id"] == still_there["id"]
