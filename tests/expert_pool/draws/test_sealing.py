"""The list is sealed until the result is decided (招标投标法 第三十七条; 87号令 第四十七条): before the
reveal nobody but each drawn expert (their own assignment only) sees a name or an expert id; after it
the lot's platform staff, supervisors and trading see the list, never ID numbers or phones."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from tests.expert_pool.draws.conftest import assignments, draw_body, start_evaluation


@pytest.fixture
def sealed(pool, drawn, connection):
    """A sealed draw of 5 + 2 among 9 experts who can sign in; the secrets a leak would show."""
    code = pool.specialty()
    ids = [pool.expert([code], subject=f"seal-{i}", name=f"保密专家{i}") for i in range(9)]
    summary = drawn(draw_body([(code, 5, 2)]))
    rows = assignments(connection, summary["id"])
    experts = connection.execute(
        text("select id, name, phone, id_number_masked from expert_pool.experts where id = any(:ids)"), {"ids": ids}
    ).all()
    secrets = [str(e.id) for e in experts] + [e.name for e in experts] + [e.phone for e in experts]
    subject = {e: f"seal-{i}" for i, e in enumerate(ids)}
    return {"summary": summary, "rows": rows, "secrets": secrets, "subject": subject, "experts": experts}


def _leaks(body: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in body]


STAFF = [("operator", "jincheng"), ("admin", "jincheng"), ("supervisor", "jincheng"), ("supervisor", "gaoping")]


def test_before_the_reveal_everyone_sees_counts_only(sealed, expert_pool, user, trading, outbox):
    draw_id = sealed["summary"]["id"]
    lot_id = sealed["summary"]["lot_id"]
    readers = [trading, user("operator"), user("admin"), user("supervisor")]
    for headers in readers:
        for path in (f"/draws/{draw_id}", f"/lots/{lot_id}/draws", f"/draws/{draw_id}/verify"):
            response = expert_pool.get(path, headers=headers)
            assert response.status_code == 200, response.text
            assert _leaks(response.text, sealed["secrets"]) == [], path
    # The audit trail (shipped to supervision) has digests and counts, no names and no ids.
    assert _leaks(json.dumps([e["change"] for e in outbox()], ensure_ascii=False), sealed["secrets"]) == []


@pytest.mark.parametrize("path", ["committee", "record"])
def test_before_the_reveal_the_list_and_record_are_refused_to_all(
    sealed, expert_pool, user, trading, expect_error, path
):
    draw_id = sealed["summary"]["id"]
    for headers in (trading, user("operator"), user("admin"), user("supervisor")):
        details = expect_error(expert_pool.get(f"/draws/{draw_id}/{path}", headers=headers), 409, "draw_sealed")
        assert details == {"status": "sealed"}


@pytest.mark.parametrize("role", ["tenderee", "agency", "bidder", "expert"])
def test_other_roles_see_nothing_of_a_draw(sealed, expert_pool, user, expect_error, role):
    draw_id = sealed["summary"]["id"]
    for path in ("", "/committee", "/record", "/verify"):
        response = expert_pool.get(f"/draws/{draw_id}{path}", headers=user(role, sub="seal-0"))
        expect_error(response, 403, "forbidden_role")
    expect_error(
        expert_pool.get(f"/lots/{sealed['summary']['lot_id']}/draws", headers=user(role)), 403, "forbidden_role"
    )


def test_a_drawn_expert_sees_only_their_own_assignment(sealed, expert_pool, user):
    members = [r for r in sealed["rows"] if r["role"] == "member"]
    reserves = [r for r in sealed["rows"] if r["role"] == "reserve"]
    for row in members:
        response = expert_pool.get("/me/assignments", headers=user("expert", sub=sealed["subject"][row["expert_id"]]))
        assert response.status_code == 200, response.text
        [mine] = response.json()
        assert mine["id"] == str(row["id"]) and mine["status"] == "pending"
        own = next(e for e in sealed["experts"] if e.id == row["expert_id"])
        others = [s for s in sealed["secrets"] if s not in {str(own.id), own.name, own.phone}]
        assert _leaks(response.text, others) == []
    # A reserve is not told, and does not find out here either.
    for row in reserves:
        response = expert_pool.get("/me/assignments", headers=user("expert", sub=sealed["subject"][row["expert_id"]]))
        assert response.json() == []


def test_county_staff_do_not_see_a_city_draw(sealed, expert_pool, user, expect_error):
    draw_id = sealed["summary"]["id"]
    for role in ("operator", "admin"):
        for path in ("", "/committee", "/record", "/verify"):
            expect_error(
                expert_pool.get(f"/draws/{draw_id}{path}", headers=user(role, platform="gaoping")), 404, "not_found"
            )
    expect_error(
        expert_pool.get(f"/lots/{sealed['summary']['lot_id']}/draws", headers=user("operator", platform="qinshui")),
        404,
        "not_found",
    )


def test_after_the_reveal_staff_and_trading_see_the_list_without_id_numbers_or_phones(
    sealed, expert_pool, user, trading, reveal
):
    draw_id = sealed["summary"]["id"]
    reveal(draw_id)
    expected = [(str(r["expert_id"]), r["specialty"], r["role"], r["position"], r["status"]) for r in sealed["rows"]]
    names = {str(e.id): e.name for e in sealed["experts"]}
    for headers in (trading, user("operator"), user("admin"), user("supervisor")):
        response = expert_pool.get(f"/draws/{draw_id}/committee", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "revealed"
        assert [
            (e["expert_id"], e["specialty"], e["role"], e["position"], e["status"]) for e in body["entries"]
        ] == expected
        assert all(e["name"] == names[e["expert_id"]] for e in body["entries"])
        for expert in sealed["experts"]:
            assert expert.phone not in response.text and expert.id_number_masked not in response.text
        assert set(body["entries"][0]) == {
            "assignment_id", "expert_id", "name", "specialty", "role", "position", "status", "venue_id", "replaces",
        }  # fmt: skip


def test_after_the_reveal_other_counties_and_roles_still_see_nothing(sealed, expert_pool, user, reveal, expect_error):
    draw_id = sealed["summary"]["id"]
    reveal(draw_id)
    expect_error(
        expert_pool.get(f"/draws/{draw_id}/committee", headers=user("operator", platform="gaoping")), 404, "not_found"
    )
    for role in ("tenderee", "agency", "bidder", "expert"):
        expect_error(expert_pool.get(f"/draws/{draw_id}/committee", headers=user(role)), 403, "forbidden_role")


def test_a_county_draw_is_seen_by_its_county_and_the_city(pool, post_draw, service, expert_pool, user, connection):
    code = pool.specialty()
    pool.experts(5, [code], region="140581")
    gaoping = service("experts:draw", platform="gaoping", sub="svc-gaoping")
    response = post_draw(draw_body([(code, 5, 0)], platform="gaoping", region_code="140581"), headers=gaoping)
    assert response.status_code == 201, response.text
    draw_id = response.json()["id"]
    for headers in (
        user("operator", platform="gaoping"),
        user("supervisor"),
        user("supervisor", platform="gaoping"),
        gaoping,
    ):
        assert expert_pool.get(f"/draws/{draw_id}", headers=headers).status_code == 200
    for headers in (user("operator", platform="yangcheng"), service("experts:draw", platform="qinshui")):
        assert expert_pool.get(f"/draws/{draw_id}", headers=headers).status_code == 404
    start_evaluation(connection, draw_id)
    assert (
        expert_pool.post(
            f"/draws/{draw_id}/reveal",
            json={"reason": "评标报告已提交"},
            headers=user("operator", platform="yangcheng"),
        ).status_code
        == 404
    )
