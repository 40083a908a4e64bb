"""POST /draws: the legal rules, roles and counties, idempotency, the commitment before the selection,
refusal when supervision cannot answer, and what is stored and audited."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.expert_pool.draws import fairness
from shared.audit.outbox import change_digest
from shared.clients.supervision import SupervisionClient
from tests.expert_pool.draws.conftest import (
    TENDEREE,
    assignments,
    credit_code,
    draw_body,
    draw_row,
    notifications,
)


def _count(connection, table: str) -> int:
    return int(connection.execute(text(f"select count(*) from expert_pool.{table}")).scalar_one())  # noqa: S608


@pytest.fixture
def specialty(pool) -> str:
    code = pool.specialty()
    pool.experts(12, [code])
    return code


def test_draw_seals_a_committee_and_records_everything(
    pool, post_draw, connection, outbox, trading, specialty, expert_pool
):
    economics = pool.specialty()
    pool.experts(5, [economics])
    body = draw_body([(specialty, 5, 2), (economics, 2, 1)])
    response = post_draw(body, key="draw-1", headers={**trading, "X-Request-ID": "req-draw-1"})

    assert response.status_code == 201, response.text
    summary = response.json()
    assert set(summary) == {
        "id", "lot_id", "kind", "status", "commitment", "members_required", "accepted", "pending", "declined",
        "reserves_left", "created_at",
    }  # fmt: skip
    assert (summary["kind"], summary["status"], summary["lot_id"]) == ("initial", "sealed", body["lot_id"])
    assert (summary["members_required"], summary["pending"], summary["reserves_left"]) == (7, 7, 3)
    assert (summary["accepted"], summary["declined"]) == (0, 0)

    row = draw_row(connection, summary["id"])
    assert row["commitment"] == hashlib.sha256(row["seed"]).hexdigest() == summary["commitment"]
    assert row["request_digest"] == fairness.document_digest(row["request"])
    assert row["request"]["kind"] == "initial" and row["request"]["request"]["lot_id"] == body["lot_id"]
    assert row["exclusions"] == {
        specialty: {"candidates": 12, "eligible": 12, "excluded": {}, "set_aside": {}},
        economics: {"candidates": 5, "eligible": 5, "excluded": {}, "set_aside": {}},
    }
    assert row["credit_checked"] >= 10 and row["skipped"] == {}
    # The stored result is the selection recomputed from the seed, digest and snapshot.
    snapshot = [
        connection.execute(
            text("select expert_ids from expert_pool.draw_snapshots where draw_id = :d and specialty_index = :i"),
            {"d": summary["id"], "i": index},
        )
        .scalar_one()
        .split(",")
        for index in (0, 1)
    ]
    assert all(ids == sorted(ids) for ids in snapshot)
    wants = fairness.wants_of(row["request"])
    picks = fairness.select(row["seed"], row["request_digest"], wants, snapshot)
    assert row["result"] == fairness.result_json(picks)
    assert row["snapshot_sha256"] == fairness.document_digest(fairness.snapshot_json(wants, snapshot))
    drawn = assignments(connection, summary["id"])
    assert [(a["specialty"], a["position"], a["role"], a["status"], str(a["expert_id"])) for a in drawn] == [
        (p.specialty, n, role, "pending" if role == "member" else "reserve", e)
        for p in picks
        for role, ids, first in (("member", p.members, 1), ("reserve", p.reserves, len(p.members) + 1))
        for n, e in enumerate(ids, start=first)
    ]
    # Members are told; reserves are not (they learn only if they are called).
    told = notifications(connection)
    assert sorted(n["assignment_id"] for n in told) == sorted(a["id"] for a in drawn if a["role"] == "member")
    assert all(n["kind"] == "selected" and n["sent_at"] is None and "JC2026-0001" in n["message"] for n in told)

    committed, sealed = outbox()
    assert (committed["action"], sealed["action"]) == ("draw.committed", "draw.sealed")
    assert committed["object_id"] == sealed["object_id"] == summary["id"]
    assert (committed["actor"], committed["actor_role"], committed["request_id"]) == (
        "svc-trading", "service", "req-draw-1",
    )  # fmt: skip
    assert committed["change"]["commitment"] == summary["commitment"]
    assert committed["change"]["request_digest"] == row["request_digest"]
    assert sealed["change"]["result_sha256"] == row["result_sha256"]
    assert sealed["change"]["exclusions"] == row["exclusions"]
    assert committed["digest"] == change_digest(committed["change"])
    # The commitment went into the audit trail in an earlier transaction than the selection.
    xids = connection.execute(
        text("select xid from expert_pool.audit_outbox where object_id = :d order by id"), {"d": summary["id"]}
    ).scalars().all()  # fmt: skip
    assert len(xids) == 2


def test_the_commitment_is_written_before_the_snapshot_is_read(pool, specialty, expert_pool, trading, monkeypatch):
    """The seed's commitment is committed (and its audit event written) before eligibility is
    computed: every eligibility query finds the draw row stored with its commitment and event."""
    from services.expert_pool.draws.eligibility import eligibility as real

    seen: list[tuple[str, str, tuple[str, ...]]] = []

    def watching(session, criteria):
        row = session.execute(
            text("select status, commitment from expert_pool.draws where id = :d"), {"d": criteria.draw_id}
        ).one()
        events = session.execute(
            text("select action from expert_pool.audit_outbox where object_id = :d"), {"d": str(criteria.draw_id)}
        ).scalars().all()  # fmt: skip
        seen.append((row.status, row.commitment, tuple(events)))
        return real(session, criteria)

    monkeypatch.setattr("services.expert_pool.draws.service.eligibility", watching)
    response = expert_pool.post(
        "/draws", json=draw_body([(specialty, 5, 0)]), headers={**trading, "Idempotency-Key": "k-commit"}
    )
    assert response.status_code == 201, response.text
    assert len(seen) == 1  # the full judgement runs once, before supervision is asked
    assert all(s == ("committed", response.json()["commitment"], ("draw.committed",)) for s in seen)


# -- idempotency ------------------------------------------------------------------------------------


def test_same_key_same_body_is_the_same_draw(post_draw, specialty, connection, outbox):
    body = draw_body([(specialty, 5, 1)])
    first = post_draw(body, key="same-key")
    assert first.status_code == 201, first.text
    before = assignments(connection, first.json()["id"])
    # The same request with its times written in another offset is the same request.
    start = datetime.fromisoformat(body["evaluation_starts_at"]).astimezone(timezone(timedelta(hours=8)))
    again = post_draw({**body, "evaluation_starts_at": start.isoformat()}, key="same-key")
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert assignments(connection, first.json()["id"]) == before
    assert [e["action"] for e in outbox()] == ["draw.committed", "draw.sealed"]


def test_same_key_other_body_is_refused(post_draw, specialty, expect_error, connection):
    body = draw_body([(specialty, 5, 1)])
    first = post_draw(body, key="k1")
    assert first.status_code == 201
    details = expect_error(post_draw({**body, "budget_fen": 1}, key="k1"), 422, "idempotency_key_reused")
    assert details == {"draw_id": first.json()["id"]}
    assert _count(connection, "draws") == 1


def test_a_lot_cannot_be_drawn_twice_to_get_another_panel(post_draw, specialty, expect_error, connection):
    body = draw_body([(specialty, 5, 1)])
    first = post_draw(body, key="k1")
    details = expect_error(post_draw(body, key="k2"), 409, "lot_already_drawn")
    assert details == {"draw_id": first.json()["id"]}
    assert _count(connection, "draws") == 1


@pytest.mark.parametrize(
    ("key", "code"), [(None, "idempotency_key_required"), ("has space", "invalid_idempotency_key")]
)
def test_idempotency_key_is_required_and_plain(expert_pool, trading, specialty, expect_error, key, code, outbox):
    headers = dict(trading) if key is None else {**trading, "Idempotency-Key": key}
    expect_error(expert_pool.post("/draws", json=draw_body([(specialty, 5, 0)]), headers=headers), 422, code)
    assert outbox() == []


# -- the law's rules ------------------------------------------------------------------------------


def _rules(details) -> set[str]:
    return {v["rule"] for v in details["violations"]}


@pytest.mark.parametrize(
    ("lines", "overrides", "rules"),
    [
        ([(0, 4, 0)], {}, {"committee_even", "committee_too_small"}),
        ([(0, 3, 0)], {}, {"committee_too_small"}),
        ([(0, 6, 1)], {}, {"committee_even"}),
        ([(0, 5, 0)], {"law": "government_procurement", "budget_fen": 1_000_000_000}, {"gp_committee_too_small"}),
        ([(0, 3, 0), (0, 2, 0)], {}, {"duplicate_specialty"}),
        ([(0, 5, 0)], {"region_code": "140581"}, {"region_platform_mismatch"}),
        ([(0, 5, 0)], {"region_code": "110101"}, {"unknown_region"}),
        ([(0, 5, 0)], {"platform": "taiyuan"}, {"unknown_platform"}),
        ([(0, 5, 0)], {"tenderee_credit_code": "91140500MA00000010"}, {"invalid_credit_code"}),
        ([(0, 5, 0)], {"remote": True}, {"remote_main_venue", "remote_seats_insufficient"}),
    ],
)
def test_rules_of_the_law_are_enforced(post_draw, specialty, expect_error, outbox, connection, lines, overrides, rules):
    body = draw_body([(specialty, c, r) for _, c, r in lines], **overrides)
    details = expect_error(post_draw(body), 422, "draw_rule_violated")
    assert _rules(details) == rules
    assert all(v["basis"] and v["message"] for v in details["violations"])
    assert _count(connection, "draws") == 0
    assert outbox() == []


def test_the_articles_are_named(post_draw, specialty, expect_error):
    details = expect_error(
        post_draw(draw_body([(specialty, 4, 0)], law="government_procurement", budget_fen=2_000_000_000)),
        422,
        "draw_rule_violated",
    )
    bases = {v["rule"]: v["basis"] for v in details["violations"]}
    assert bases["committee_even"] == bases["committee_too_small"] == "招标投标法 第三十七条"
    assert "第四十七条" in bases["gp_committee_too_small"] and "87" in bases["gp_committee_too_small"]


def test_seven_members_suffice_for_a_large_gp_budget_and_five_below_it(post_draw, pool, specialty):
    pool.experts(3, [specialty])
    large = draw_body([(specialty, 7, 0)], law="government_procurement", budget_fen=1_000_000_000)
    assert post_draw(large).status_code == 201
    small = draw_body([(specialty, 5, 0)], law="government_procurement", budget_fen=999_999_999)
    assert post_draw(small).status_code == 201


def test_times_and_venues(post_draw, specialty, expect_error):
    start = datetime.now(UTC) + timedelta(days=2)
    backwards = draw_body(
        [(specialty, 5, 0)], evaluation_starts_at=start.isoformat(), evaluation_ends_at=start.isoformat()
    )
    assert _rules(expect_error(post_draw(backwards), 422, "draw_rule_violated")) == {"evaluation_period_invalid"}
    past = draw_body(
        [(specialty, 5, 0)],
        evaluation_starts_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        evaluation_ends_at=start.isoformat(),
    )
    assert _rules(expect_error(post_draw(past), 422, "draw_rule_violated")) == {"evaluation_in_past"}
    main, sub = uuid.uuid4(), uuid.uuid4()
    two_mains = draw_body(
        [(specialty, 5, 0)],
        remote=True,
        venues=[
            {"venue_id": str(main), "platform": "jincheng", "role": "main", "seats": 3},
            {"venue_id": str(sub), "platform": "gaoping", "role": "main", "seats": 3},
        ],
    )
    assert _rules(expect_error(post_draw(two_mains), 422, "draw_rule_violated")) == {"remote_main_venue"}
    not_remote = draw_body(
        [(specialty, 5, 0)], venues=[{"venue_id": str(main), "platform": "jincheng", "role": "main", "seats": 5}]
    )
    assert _rules(expect_error(post_draw(not_remote), 422, "draw_rule_violated")) == {"venues_without_remote"}


def test_unknown_and_retired_specialties(post_draw, pool, specialty, expect_error, connection):
    retired = pool.specialty(active=False)
    details = expect_error(
        post_draw(draw_body([(specialty, 3, 0), (retired, 1, 0), ("Q404", 1, 0)])), 422, "unknown_specialty"
    )
    assert details == {"codes": sorted([retired, "Q404"])}
    assert _count(connection, "draws") == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"surprise": 1}, "surprise"),
        ({"budget_fen": -1}, "budget_fen"),
        ({"region_code": "14050"}, "region_code"),
        ({"evaluation_starts_at": "2026-12-01T09:00:00"}, "evaluation_starts_at"),  # no offset
        ({"specialties": []}, "specialties"),
        ({"law": "canon_law"}, "law"),
    ],
)
def test_malformed_requests_are_422_with_our_body(post_draw, specialty, expect_error, change, field):
    details = expect_error(post_draw({**draw_body([(specialty, 5, 0)]), **change}), 422, "validation_error")
    assert any(field in d["loc"] for d in details), details


# -- who may ask -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "admin", "supervisor", "tenderee", "agency", "expert", "bidder"])
def test_only_trading_service_may_request_a_draw(expert_pool, user, specialty, expect_error, outbox, role):
    response = expert_pool.post(
        "/draws", json=draw_body([(specialty, 5, 0)]), headers={**user(role), "Idempotency-Key": "k"}
    )
    assert expect_error(response, 403, "wrong_token_type") == {"required": "service", "got": "user"}
    assert outbox() == []


def test_service_without_the_scope_is_refused(expert_pool, service, specialty, expect_error):
    response = expert_pool.post(
        "/draws", json=draw_body([(specialty, 5, 0)]), headers={**service("trading:read"), "Idempotency-Key": "k"}
    )
    assert expect_error(response, 403, "insufficient_scope") == {"missing": ["experts:draw"]}


def test_a_county_system_draws_only_for_its_own_county(post_draw, service, pool, expect_error, connection):
    code = pool.specialty()
    pool.experts(6, [code], region="140581")
    gaoping = service("experts:draw", platform="gaoping", sub="svc-gaoping")
    city_lot = draw_body([(code, 5, 0)])
    assert expect_error(post_draw(city_lot, headers=gaoping), 403, "forbidden_platform") == {"platform": "jincheng"}
    own = draw_body([(code, 5, 0)], platform="gaoping", region_code="140581")
    assert post_draw(own, headers=gaoping).status_code == 201
    assert _count(connection, "draws") == 1


def test_unauthenticated_is_401(expert_pool, specialty, expect_error):
    expect_error(expert_pool.post("/draws", json=draw_body([(specialty, 5, 0)])), 401, "unauthenticated")


# -- failure paths ---------------------------------------------------------------------------------


def test_too_few_eligible_experts_fails_the_draw_on_record(post_draw, pool, expect_error, connection, outbox):
    code = pool.specialty()
    pool.experts(4, [code])
    pool.experts(2, [code], status="suspended")
    body = draw_body([(code, 5, 2)])
    response = post_draw(body, key="few")
    details = expect_error(response, 409, "not_enough_experts")
    assert details["specialties"] == [{"specialty": code, "needed": 5, "eligible": 4}]
    row = draw_row(connection, details["draw_id"])
    assert row["status"] == "failed"
    assert row["exclusions"] == {code: {"candidates": 6, "eligible": 4, "excluded": {"inactive": 2}, "set_aside": {}}}
    assert assignments(connection, details["draw_id"]) == []
    assert [e["action"] for e in outbox()] == ["draw.committed", "draw.failed"]
    # The same key answers the same way; a failed draw does not block a new request for the lot.
    expect_error(post_draw(body, key="few"), 409, "not_enough_experts")
    pool.experts(1, [code])
    assert post_draw(body, key="enough-now").status_code == 201


class _Unreachable(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("supervision is down", request=request)


def test_supervision_down_means_no_draw_and_a_retry_resumes_with_the_same_seed(
    expert_pool, trading, specialty, expect_error, connection, outbox, supervision, issuer
):
    working = expert_pool.app.state.supervision
    expert_pool.app.state.supervision = SupervisionClient("http://supervision", transport=_Unreachable(), retries=0)
    body = draw_body([(specialty, 5, 2)])
    headers = {**trading, "Idempotency-Key": "retry-me"}
    expect_error(expert_pool.post("/draws", json=body, headers=headers), 503, "dependency_unavailable")

    [row] = connection.execute(text("select id, status, commitment, seed from expert_pool.draws")).all()
    assert row.status == "committed"  # the commitment stands; nothing is recorded as drawn
    assert assignments(connection, str(row.id)) == [] and notifications(connection) == []
    assert _count(connection, "draw_snapshots") == 0
    assert [e["action"] for e in outbox()] == ["draw.committed"]

    expert_pool.app.state.supervision = working
    # Another key cannot start a second draw for the lot while this one waits.
    expect_error(
        expert_pool.post("/draws", json=body, headers={**trading, "Idempotency-Key": "x"}), 409, "lot_already_drawn"
    )
    resumed = expert_pool.post("/draws", json=body, headers=headers)
    assert resumed.status_code == 201, resumed.text
    assert resumed.json()["id"] == str(row.id)
    after = draw_row(connection, str(row.id))
    assert (after["status"], after["seed"], after["commitment"]) == ("sealed", row.seed, row.commitment)
    assert [e["action"] for e in outbox()] == ["draw.committed", "draw.sealed"]


def test_a_supervision_answer_that_is_not_ours_is_unusable(expert_pool, trading, specialty, expect_error, connection):
    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"on": "2026-01-01", "results": []})

    expert_pool.app.state.supervision = SupervisionClient(
        "http://supervision", transport=httpx.MockTransport(garbage), retries=0
    )
    response = expert_pool.post(
        "/draws", json=draw_body([(specialty, 5, 0)]), headers={**trading, "Idempotency-Key": "g"}
    )
    expect_error(response, 503, "dependency_unavailable")
    assert _count(connection, "draw_assignments") == 0


def test_the_tenderee_code_is_normalised_for_avoidance(post_draw, pool, connection):
    code = pool.specialty()
    pool.experts(5, [code])
    employee = pool.expert([code], employer=TENDEREE)
    response = post_draw(draw_body([(code, 5, 0)], tenderee_credit_code=TENDEREE.lower()))
    assert response.status_code == 201, response.text
    row = draw_row(connection, response.json()["id"])
    assert row["tenderee_credit_code"] == TENDEREE
    assert row["exclusions"][code]["excluded"] == {"employment": 1}
    assert str(employee) not in str(row["result"])
    assert credit_code() != TENDEREE


def _seat_by_rule(venues, members, platform_of):
    """The documented seating rule, written out again: own platform's venue, else the main venue,
    else the first venue with room, in draw order."""
    occupied = dict.fromkeys((v["venue_id"] for v in venues), 0)
    seats = {}
    for member in members:
        free = [v for v in venues if occupied[v["venue_id"]] < v["seats"]]
        own = [v for v in free if v["platform"] == platform_of[member["expert_id"]]]
        main = [v for v in free if v["role"] == "main"]
        venue = (own or main or free)[0]
        occupied[venue["venue_id"]] += 1
        seats[member["id"]] = venue["venue_id"]
    return seats


def test_a_remote_evaluation_seats_experts_near_home(pool, drawn, connection, expert_pool, user):
    code = pool.specialty()
    subject_of = {pool.expert([code], region="140581", subject=f"gp-{i}"): f"gp-{i}" for i in range(4)}
    subject_of |= {pool.expert([code], region="140502", subject=f"jc-{i}"): f"jc-{i}" for i in range(3)}
    venues: list[dict[str, Any]] = [
        {"venue_id": str(uuid.uuid4()), "platform": "jincheng", "role": "main", "seats": 3},
        {"venue_id": str(uuid.uuid4()), "platform": "gaoping", "role": "sub", "seats": 2},
    ]
    summary = drawn(draw_body([(code, 5, 2)], remote=True, venues=venues))
    rows = assignments(connection, summary["id"])
    members = [r for r in rows if r["role"] == "member"]
    platform_of = {e: "gaoping" if subject.startswith("gp") else "jincheng" for e, subject in subject_of.items()}
    expected = _seat_by_rule(venues, members, platform_of)
    assert {m["id"]: str(m["venue_id"]) for m in members} == expected
    assert all(r["venue_id"] is None for r in rows if r["role"] == "reserve")
    # A member declines: the reserve called takes a free seat by the same rule.
    gone = members[0]
    response = expert_pool.post(
        f"/me/assignments/{gone['id']}/decline",
        json={"reason": "身体不适"},
        headers=user("expert", sub=subject_of[gone["expert_id"]]),
    )
    assert response.status_code == 200, response.text
    after = assignments(connection, summary["id"])
    promoted = next(r for r in after if r["replaces_id"] == gone["id"])
    still = [r for r in after if r["status"] == "pending" and r["id"] != promoted["id"]]
    taken: dict[str, int] = {v["venue_id"]: 0 for v in venues}
    for r in still:
        taken[str(r["venue_id"])] += 1
    room = [v for v in venues if taken[v["venue_id"]] < v["seats"]]
    own = [v for v in room if v["platform"] == platform_of[promoted["expert_id"]]]
    main = [v for v in room if v["role"] == "main"]
    assert str(promoted["venue_id"]) == (own or main or room)[0]["venue_id"]
