"""Avoidance (回避) and eligibility: each rule excludes exactly the experts it should, is counted once
under the first rule that applies, and the pool that remains is exactly what the draw used."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.expert_pool.draws.conftest import (
    AGENCY,
    BIDDERS,
    TENDEREE,
    assignments,
    ban,
    credit_code,
    draw_body,
    draw_row,
    evaluation_time,
    supervision_client_for,
)


def _drawn_ids(connection, draw_id: str) -> set:
    return {a["expert_id"] for a in assignments(connection, draw_id)}


def _years_ago(years: int) -> date:
    today = datetime.now(UTC).date()
    return today.replace(year=today.year - years, day=min(today.day, 28))


def test_every_database_rule_excludes_exactly_its_experts(pool, drawn, connection):
    code = pool.specialty()
    start, end = evaluation_time()
    eligible = set(pool.experts(4, [code]))
    eligible.add(pool.expert([code], title_level="associate_senior", years=8))  # the entry rule's edge
    left_tenderee = pool.expert([code])
    pool.employment(left_tenderee, TENDEREE, _years_ago(10), _years_ago(4))  # left more than 3 years ago
    eligible.add(left_tenderee)
    away_later = pool.expert([code])
    pool.unavailable(away_later, end, end + timedelta(days=2))  # right after the evaluation
    eligible.add(away_later)

    pool.expert([code], status="suspended")
    pool.expert([code], status="removed", employer=BIDDERS[0])  # counted once, under the first rule
    pool.expert([code], years=7)
    pool.expert([code], title_level="intermediate")
    pool.expert([code], employer=BIDDERS[1])  # works for a bidder now
    left_agency = pool.expert([code])
    pool.employment(left_agency, AGENCY, _years_ago(6), _years_ago(2))  # left 2 years ago
    related = pool.expert([code])
    pool.conflict(related, BIDDERS[2])
    away = pool.expert([code])
    pool.unavailable(away, start - timedelta(hours=1), start + timedelta(hours=1))

    # The same evaluation period as the unavailable periods above (not one computed a second later).
    summary = drawn(
        draw_body([(code, 7, 0)], evaluation_starts_at=start.isoformat(), evaluation_ends_at=end.isoformat())
    )
    assert _drawn_ids(connection, summary["id"]) == eligible
    row = draw_row(connection, summary["id"])
    assert row["exclusions"] == {
        code: {
            "candidates": 15,
            "eligible": 7,
            "excluded": {"inactive": 2, "entry_rule": 2, "employment": 2, "declared_conflict": 1, "unavailable": 1},
            "set_aside": {},
        }
    }
    assert row["skipped"] == {}


def test_the_entry_rule_is_engineerings_only(pool, drawn, connection):
    code = pool.specialty()
    pool.experts(3, [code])
    juniors = {pool.expert([code], years=3), pool.expert([code], title_level="other")}
    body = draw_body([(code, 5, 0)], law="government_procurement")
    summary = drawn(body)
    assert juniors <= _drawn_ids(connection, summary["id"])
    assert draw_row(connection, summary["id"])["exclusions"][code]["excluded"] == {}


def test_credit_bans_from_supervision_exclude(pool, drawn, connection, supervision, issuer, outbox):
    code = pool.specialty()
    clean = set(pool.experts(5, [code]))
    banned = pool.experts(2, [code])
    for expert_id in banned:
        ban(supervision, issuer, expert_id)
    summary = drawn(draw_body([(code, 5, 0)]))
    assert _drawn_ids(connection, summary["id"]) == clean
    row = draw_row(connection, summary["id"])
    assert row["skipped"] == {str(e): "credit_banned" for e in banned}
    assert row["exclusions"][code] == {
        "candidates": 7, "eligible": 7, "excluded": {}, "set_aside": {"credit_banned": 2},
    }  # fmt: skip
    assert row["credit_checked"] == 7
    sealed = next(e for e in outbox() if e["action"] == "draw.sealed")
    assert sealed["change"]["exclusions"][code]["set_aside"] == {"credit_banned": 2}
    assert str(banned[0]) not in str(sealed["change"])  # counts, not names or ids


def test_credit_is_asked_only_as_far_as_the_selection_reaches(pool, drawn, connection):
    """60 eligible experts, 5 + 2 wanted: supervision is asked about the first 17 in draw order
    (7 plus a margin of 10), not the whole pool (docs/draw.md §4)."""
    code = pool.specialty()
    pool.experts(60, [code])
    summary = drawn(draw_body([(code, 5, 2)]))
    row = draw_row(connection, summary["id"])
    assert row["credit_checked"] == 17
    assert row["exclusions"][code]["eligible"] == 60


def test_experts_from_outside_the_projects_region(pool, drawn, connection):
    code = pool.specialty()
    pool.experts(2, [code], region="140502")  # the project's own district
    pool.expert([code], region="140525")  # another district of the same (city) platform
    outside = set(pool.experts(5, [code], region="140581"))  # Gaoping
    summary = drawn(draw_body([(code, 5, 0)], experts_outside_region=True))
    assert _drawn_ids(connection, summary["id"]) == outside
    assert draw_row(connection, summary["id"])["exclusions"][code]["excluded"] == {"same_region": 3}


def test_an_expert_on_another_committee_at_the_same_time_is_not_drawn(
    pool, drawn, connection, post_draw, expert_pool, user
):
    code = pool.specialty()
    first = set(pool.experts(5, [code]))
    summary = drawn(draw_body([(code, 5, 0)]))
    assert _drawn_ids(connection, summary["id"]) == first
    second = set(pool.experts(5, [code]))
    overlapping = drawn(draw_body([(code, 5, 0)], tenderee_credit_code=credit_code()))
    assert _drawn_ids(connection, overlapping["id"]) == second
    assert draw_row(connection, overlapping["id"])["exclusions"][code]["excluded"] == {"committed_elsewhere": 5}
    # Another day, another tenderee: everyone is free.
    start, end = evaluation_time(days=9)
    later = draw_body(
        [(code, 9, 1)],
        tenderee_credit_code=credit_code(),
        evaluation_starts_at=start.isoformat(),
        evaluation_ends_at=end.isoformat(),
    )
    assert _drawn_ids(connection, drawn(later)["id"]) == first | second


def test_a_declined_seat_frees_the_expert_for_other_committees(pool, drawn, connection, expert_pool, user):
    code = pool.specialty()
    subject = "expert-free-again"
    busy = pool.expert([code], subject=subject)
    others = pool.experts(4, [code])
    summary = drawn(draw_body([(code, 5, 0)]))
    mine = next(a for a in assignments(connection, summary["id"]) if a["expert_id"] == busy)
    response = expert_pool.post(
        f"/me/assignments/{mine['id']}/decline",
        json={"reason": "与投标人有利害关系，申请回避"},
        headers=user("expert", sub=subject),
    )
    assert response.status_code == 200, response.text
    fresh = set(pool.experts(4, [code]))
    again = drawn(draw_body([(code, 5, 0)], tenderee_credit_code=credit_code()))
    # The four still pending are committed elsewhere; the decliner is free again.
    assert _drawn_ids(connection, again["id"]) == fresh | {busy}
    assert draw_row(connection, again["id"])["exclusions"][code]["excluded"] == {"committed_elsewhere": 4}
    assert not set(others) & _drawn_ids(connection, again["id"])


@pytest.fixture
def strict_pool(make_client, supervision, issuer):
    """The expert pool with same_tenderee_limit = 1 (an expert serves a tenderee once a year)."""
    client = make_client("expert_pool", same_tenderee_limit=1, same_tenderee_period_days=365)
    client.app.state.supervision = supervision_client_for(supervision, issuer)
    return client


def test_repeat_service_for_the_same_tenderee_is_limited(pool, strict_pool, trading, connection):
    code = pool.specialty()
    pool.experts(10, [code])

    def draw(days: int, tenderee: str) -> str:
        start, end = evaluation_time(days=days)
        body = draw_body(
            [(code, 5, 0)],
            tenderee_credit_code=tenderee,
            evaluation_starts_at=start.isoformat(),
            evaluation_ends_at=end.isoformat(),
        )
        response = strict_pool.post("/draws", json=body, headers={**trading, "Idempotency-Key": f"k-{days}"})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    first = draw(5, TENDEREE)
    second = draw(8, TENDEREE)  # another day, so not "committed elsewhere"
    assert not _drawn_ids(connection, first) & _drawn_ids(connection, second)
    assert draw_row(connection, second)["exclusions"][code]["excluded"] == {"same_tenderee_limit": 5}
    third = draw(11, credit_code())  # another tenderee: no limit applies
    assert draw_row(connection, third)["exclusions"][code]["excluded"] == {}


def test_counts_are_kept_per_specialty_and_an_expert_is_taken_once(pool, drawn, connection):
    civil, cost = pool.specialty(), pool.specialty()
    both = set(pool.experts(4, [civil, cost]))
    pool.experts(2, [civil])
    cost_only = set(pool.experts(3, [cost]))  # enough for the second line whatever the first takes
    pool.expert([civil, cost], status="suspended")
    summary = drawn(draw_body([(civil, 3, 1), (cost, 2, 1)]))
    row = draw_row(connection, summary["id"])
    assert row["exclusions"] == {
        civil: {"candidates": 7, "eligible": 6, "excluded": {"inactive": 1}, "set_aside": {}},
        cost: {"candidates": 8, "eligible": 7, "excluded": {"inactive": 1}, "set_aside": {}},
    }
    rows = assignments(connection, summary["id"])
    taken = [a["expert_id"] for a in rows]
    assert len(taken) == len(set(taken)) == 7  # an expert of both specialties is in one line only
    assert {a["expert_id"] for a in rows if a["specialty"] == cost} <= both | cost_only


class _ChangingPool:
    """Supervision's real answer, with a change to the pool made while it is being asked, i.e.
    between computing eligibility and selecting (no transaction is open then)."""

    def __init__(self, real, change) -> None:
        self.real, self.change = real, change
        self.calls: list[list[str]] = []

    def credit_status_batch(self, subjects, *, on=None):
        asked = [s.subject_id for s in subjects]
        self.calls.append(asked)
        answer = self.real.credit_status_batch(subjects, on=on)
        if len(self.calls) == 1:
            self.change(asked)
        return answer


def _suspend(connection, ids) -> None:
    connection.execute(
        text("update expert_pool.experts set status = 'suspended', status_reason = '调查中' where id = any(:ids)"),
        {"ids": [uuid.UUID(i) for i in ids]},
    )


def test_an_expert_suspended_during_the_draw_is_not_drawn(pool, post_draw, expert_pool, connection, trading):
    code = pool.specialty()
    pool.experts(20, [code])
    gone: list[str] = []

    def suspend_the_first(asked):
        gone.append(asked[0])  # the first of the draw order: a member if nothing changed
        _suspend(connection, gone)

    expert_pool.app.state.supervision = _ChangingPool(expert_pool.app.state.supervision, suspend_the_first)
    response = post_draw(draw_body([(code, 5, 2)]))
    assert response.status_code == 201, response.text
    draw_id = response.json()["id"]
    assert uuid.UUID(gone[0]) not in _drawn_ids(connection, draw_id)
    row = draw_row(connection, draw_id)
    # In the snapshot (eligible when it was taken), set aside with the reason, not drawn.
    assert row["exclusions"][code] == {"candidates": 20, "eligible": 20, "excluded": {}, "set_aside": {"inactive": 1}}
    assert row["skipped"] == {gone[0]: "inactive"}
    snapshot = connection.execute(
        text("select expert_ids from expert_pool.draw_snapshots where draw_id = :d"), {"d": draw_id}
    ).scalar_one()
    assert gone[0] in snapshot.split(",")
    assert expert_pool.get(f"/draws/{draw_id}/verify", headers=trading).json()["match"] is True


def test_an_expert_registered_during_the_draw_waits_for_the_next(pool, post_draw, expert_pool, connection, trading):
    code = pool.specialty()
    pool.experts(8, [code])
    late: list[uuid.UUID] = []
    expert_pool.app.state.supervision = _ChangingPool(
        expert_pool.app.state.supervision, lambda asked: late.append(pool.expert([code]))
    )
    response = post_draw(draw_body([(code, 5, 2)]))
    assert response.status_code == 201, response.text
    snapshot = connection.execute(
        text("select expert_ids from expert_pool.draw_snapshots where draw_id = :d"), {"d": response.json()["id"]}
    ).scalar_one()
    assert len(snapshot.split(",")) == 8 and str(late[0]) not in snapshot  # what the selection used
    assert expert_pool.get(f"/draws/{response.json()['id']}/verify", headers=trading).json()["match"] is True


def test_when_the_walk_goes_past_the_experts_asked_about_supervision_is_asked_again(
    pool, post_draw, expert_pool, connection, supervision, issuer
):
    code = pool.specialty()
    everyone = {str(i) for i in pool.experts(20, [code])}
    changing = _ChangingPool(expert_pool.app.state.supervision, lambda asked: _suspend(connection, asked))
    expert_pool.app.state.supervision = changing
    response = post_draw(draw_body([(code, 5, 0)]))
    assert response.status_code == 201, response.text
    first, second = changing.calls  # 5 + a margin of 10 asked, all suspended meanwhile; then the rest
    assert len(first) == 15 and set(second) == everyone - set(first)
    assert {str(i) for i in _drawn_ids(connection, response.json()["id"])} == everyone - set(first)
    row = draw_row(connection, response.json()["id"])
    assert row["credit_checked"] == 20
    assert row["exclusions"][code] == {"candidates": 20, "eligible": 20, "excluded": {}, "set_aside": {"inactive": 15}}
    assert row["skipped"] == dict.fromkeys(sorted(first), "inactive")


def test_credit_is_asked_in_batches_of_500(expert_pool, supervision, issuer):
    from services.expert_pool.draws.credit import banned_experts

    real = expert_pool.app.state.supervision
    sizes: list[int] = []

    class Counting:
        def credit_status_batch(self, subjects, *, on=None):
            sizes.append(len(subjects))
            return real.credit_status_batch(subjects, on=on)

    ids = [str(uuid.uuid4()) for _ in range(1_201)]
    for expert_id in (ids[3], ids[700], ids[1_200]):
        ban(supervision, issuer, uuid.UUID(expert_id))
    found = banned_experts(Counting(), ids, datetime.now(UTC).date())
    assert sizes == [500, 500, 201]
    assert found == {ids[3], ids[700], ids[1_200]}
