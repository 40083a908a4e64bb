"""Re-draws: a reason, the old draw voided and its members told, a new record of its own linked to the
old one and visible to supervisors; and the functions the evaluation calls (committee, reveal, void)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.expert_pool.draws import service
from shared.auth import Principal
from tests.expert_pool.draws.conftest import (
    assignments,
    draw_body,
    draw_row,
    evaluation_time,
    notifications,
    start_evaluation,
)

OPERATOR = Principal(subject="op-eval", typ="user", platform="jincheng", roles=frozenset({"operator"}))


@pytest.fixture
def lot(pool, drawn, connection):
    code = pool.specialty()
    ids = [pool.expert([code], subject=f"rd-{i}") for i in range(14)]
    summary = drawn(draw_body([(code, 5, 1)]))
    return {"code": code, "summary": summary, "subject": dict(zip(ids, (f"rd-{i}" for i in range(14)), strict=True))}


def _redraw(expert_pool, headers, draw_id, key="rd-1", **body):
    return expert_pool.post(
        f"/draws/{draw_id}/redraw",
        json={"reason": "专家名单疑似泄露，重新抽取", **body},
        headers={**headers, "Idempotency-Key": key},
    )


def test_a_redraw_voids_the_old_draw_and_records_a_new_one(lot, expert_pool, user, connection, outbox):
    old_id = lot["summary"]["id"]
    old_rows = assignments(connection, old_id)
    told_before = len(notifications(connection))
    response = _redraw(expert_pool, user("operator", sub="op-7"), old_id)
    assert response.status_code == 201, response.text
    new = response.json()
    assert (new["kind"], new["status"]) == ("redraw", "sealed")
    assert new["commitment"] != lot["summary"]["commitment"]

    old = draw_row(connection, old_id)
    assert (old["status"], old["void_reason"], old["voided_by"]) == ("void", "专家名单疑似泄露，重新抽取", "op-7")
    assert {r["status"] for r in assignments(connection, old_id)} == {"cancelled"}
    cancelled = [n for n in notifications(connection)[told_before:] if n["kind"] == "cancelled"]
    assert sorted(n["assignment_id"] for n in cancelled) == sorted(r["id"] for r in old_rows if r["role"] == "member")

    row = draw_row(connection, new["id"])
    assert str(row["parent_id"]) == old_id and row["reason"] == "专家名单疑似泄露，重新抽取"
    assert row["request"]["kind"] == "redraw" and row["request"]["parent_id"] == old_id
    # Nobody drawn for the lot before (members and reserves) is drawn again.
    assert row["exclusions"][lot["code"]]["excluded"] == {"already_drawn_for_lot": 6}
    assert not {r["expert_id"] for r in old_rows} & {r["expert_id"] for r in assignments(connection, new["id"])}
    actions = [(e["action"], e["object_id"]) for e in outbox()]
    assert actions[-3:] == [("draw.voided", old_id), ("draw.committed", new["id"]), ("draw.sealed", new["id"])]
    committed = outbox()[-2]["change"]
    assert (committed["kind"], committed["parent_id"], committed["reason"]) == (
        "redraw",
        old_id,
        "专家名单疑似泄露，重新抽取",
    )

    listed = expert_pool.get(f"/lots/{lot['summary']['lot_id']}/draws", headers=user("supervisor", platform="jincheng"))
    assert [(d["kind"], d["status"], d["parent_id"], d["void_reason"]) for d in listed.json()] == [
        ("initial", "void", None, "专家名单疑似泄露，重新抽取"),
        ("redraw", "sealed", old_id, None),
    ]
    # The cancelled member sees the seat cancelled.
    member = next(r for r in old_rows if r["role"] == "member")
    mine = expert_pool.get("/me/assignments", headers=user("expert", sub=lot["subject"][member["expert_id"]])).json()
    assert [(a["draw_id"], a["status"]) for a in mine] == [(old_id, "cancelled")]


def test_trading_may_redraw_and_a_retry_is_the_same_redraw(lot, expert_pool, trading, connection):
    first = _redraw(expert_pool, trading, lot["summary"]["id"], key="rd-x")
    assert first.status_code == 201, first.text
    again = _redraw(expert_pool, trading, lot["summary"]["id"], key="rd-x")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


def test_a_redraw_needs_a_reason(lot, expert_pool, user, expect_error, connection):
    response = expert_pool.post(
        f"/draws/{lot['summary']['id']}/redraw", json={}, headers={**user("operator"), "Idempotency-Key": "k"}
    )
    expect_error(response, 422, "validation_error")
    assert draw_row(connection, lot["summary"]["id"])["status"] == "sealed"


def test_redraw_refusals(lot, expert_pool, user, service, connection, expect_error, reveal):
    draw_id = lot["summary"]["id"]
    for role in ("supervisor", "expert", "tenderee"):
        expect_error(_redraw(expert_pool, user(role), draw_id), 403, "forbidden_role")
    expect_error(_redraw(expert_pool, user("operator", platform="gaoping"), draw_id), 404, "not_found")
    expect_error(_redraw(expert_pool, service("trading:read"), draw_id), 403, "insufficient_scope")
    expect_error(_redraw(expert_pool, user("operator"), uuid.uuid4()), 404, "not_found")
    assert _redraw(expert_pool, user("operator"), draw_id, key="a").status_code == 201
    # The old draw is void and already replaced: no second panel from it.
    details = expect_error(_redraw(expert_pool, user("operator"), draw_id, key="b"), 409, "lot_already_drawn")
    assert details["draw_id"] != draw_id


def test_a_decided_draw_cannot_be_redrawn(lot, expert_pool, user, reveal, expect_error):
    reveal(lot["summary"]["id"])
    details = expect_error(_redraw(expert_pool, user("operator"), lot["summary"]["id"]), 409, "draw_wrong_status")
    assert details["status"] == "revealed"


def test_a_redraw_for_a_later_sitting_takes_new_times(lot, expert_pool, user, expect_error, connection):
    start, end = evaluation_time(days=12)
    past = datetime.now(UTC) - timedelta(hours=2)
    details = expect_error(
        _redraw(
            expert_pool,
            user("operator"),
            lot["summary"]["id"],
            evaluation_starts_at=past.isoformat(),
            evaluation_ends_at=end.isoformat(),
        ),
        422,
        "draw_rule_violated",
    )
    assert [v["rule"] for v in details["violations"]] == ["evaluation_in_past"]
    expect_error(
        _redraw(expert_pool, user("operator"), lot["summary"]["id"], evaluation_starts_at=start.isoformat()),
        422,
        "validation_error",
    )
    response = _redraw(
        expert_pool,
        user("operator"),
        lot["summary"]["id"],
        evaluation_starts_at=start.isoformat(),
        evaluation_ends_at=end.isoformat(),
    )
    assert response.status_code == 201, response.text
    assert draw_row(connection, response.json()["id"])["evaluation_starts_at"] == start


# -- what the evaluation imports -------------------------------------------------------------------


def test_accepted_committee_lists_accepted_members_of_the_live_draws(lot, expert_pool, user, session, connection, pool):
    lot_id = uuid.UUID(lot["summary"]["lot_id"])
    assert service.accepted_committee(session, lot_id) == []
    rows = assignments(connection, lot["summary"]["id"])
    members = [r for r in rows if r["role"] == "member"]
    for row in members[:3]:
        response = expert_pool.post(
            f"/me/assignments/{row['id']}/accept", headers=user("expert", sub=lot["subject"][row["expert_id"]])
        )
        assert response.status_code == 200
    committee = service.accepted_committee(session, lot_id)
    assert [(m.assignment_id, m.expert_id, m.specialty, m.venue_id) for m in committee] == [
        (r["id"], r["expert_id"], lot["code"], None) for r in members[:3]
    ]
    assert all(m.name.startswith("专家") for m in committee)
    assert service.accepted_committee(session, uuid.uuid4()) == []


def test_void_for_lot_then_reveal_for_lot(lot, expert_pool, user, session, connection, outbox):
    lot_id = uuid.UUID(lot["summary"]["lot_id"])
    draw_id = lot["summary"]["id"]
    service.void_for_lot(session, lot_id, "远程评标中断超过4小时，封存后重新组建评标委员会", OPERATOR)
    session.flush()
    assert draw_row(connection, draw_id)["status"] == "void"
    assert service.accepted_committee(session, lot_id) == []
    assert outbox()[-1]["action"] == "draw.voided"
    with pytest.raises(Exception, match="抽取记录不存在"):
        service.void_for_lot(session, lot_id, "再次作废", OPERATOR)
    # A new committee for the later sitting, through a re-draw of the voided draw.
    start, end = evaluation_time(days=15)
    new = _redraw(
        expert_pool,
        user("operator"),
        draw_id,
        evaluation_starts_at=start.isoformat(),
        evaluation_ends_at=end.isoformat(),
    )
    assert new.status_code == 201, new.text
    # After that sitting the result is decided: every draw of the lot is revealed, the void one too.
    start_evaluation(connection, draw_id)
    start_evaluation(connection, new.json()["id"])
    service.reveal_for_lot(session, lot_id, OPERATOR)
    session.flush()
    assert draw_row(connection, draw_id)["revealed_at"] is not None
    assert draw_row(connection, draw_id)["status"] == "void"
    assert draw_row(connection, new.json()["id"])["status"] == "revealed"
    assert [e["action"] for e in outbox()][-2:] == ["draw.revealed", "draw.revealed"]
    with pytest.raises(Exception, match="抽取记录不存在"):
        service.reveal_for_lot(session, uuid.uuid4(), OPERATOR)


def test_void_for_lot_after_the_result_is_refused(lot, session, reveal):
    reveal(lot["summary"]["id"])
    with pytest.raises(Exception, match="不允许") as caught:
        service.void_for_lot(session, uuid.UUID(lot["summary"]["lot_id"]), "太晚了", OPERATOR)
    assert getattr(caught.value, "code", None) == "draw_wrong_status"


def test_mark_no_show_as_a_function(lot, session, connection, expert_pool, user):
    rows = assignments(connection, lot["summary"]["id"])
    member = rows[0]
    service.mark_no_show(session, member["id"], "未到场", OPERATOR)
    session.flush()
    statuses = [r["status"] for r in assignments(connection, lot["summary"]["id"])]
    assert statuses[0] == "no_show" and statuses[-1] == "pending"  # the reserve is called


def test_a_completed_report_reveals_even_before_the_planned_start(lot, session, connection, expert_pool, user):
    """The evaluation may start (and finish) earlier than planned: its report decides the result."""
    service.reveal_for_lot(session, uuid.UUID(lot["summary"]["lot_id"]), OPERATOR)
    session.flush()
    assert draw_row(connection, lot["summary"]["id"])["status"] == "revealed"
    record = expert_pool.get(f"/draws/{lot['summary']['id']}/record", headers=user("supervisor"))
    assert record.status_code == 200, record.text
