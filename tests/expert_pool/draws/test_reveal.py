"""Revealing the seed once the result is decided, verifying a draw on the server, and reproducing it
offline with ``python -m tools.verify_draw`` from the published record."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text

from tests.expert_pool.draws.conftest import assignments, draw_body, draw_row, start_evaluation
from tests.support.inprocess import InProcessTransport
from tools import verify_draw


@pytest.fixture
def sealed(pool, drawn) -> dict:
    civil, cost = pool.specialty(), pool.specialty()
    pool.experts(9, [civil])
    pool.experts(4, [cost])
    pool.experts(2, [civil, cost])
    return drawn(draw_body([(civil, 5, 2), (cost, 2, 1)]))


def test_reveal_publishes_the_seed_and_opens_the_record(sealed, expert_pool, user, connection, outbox):
    draw_id = sealed["id"]
    start_evaluation(connection, draw_id)
    response = expert_pool.post(
        f"/draws/{draw_id}/reveal", json={"reason": "评标报告已提交"}, headers=user("supervisor", sub="sup-9")
    )
    assert response.status_code == 200, response.text
    record = response.json()
    row = draw_row(connection, draw_id)
    assert (row["status"], row["revealed_by"]) == ("revealed", "sup-9")
    assert record["seed"] == row["seed"].hex()
    assert hashlib.sha256(bytes.fromhex(record["seed"])).hexdigest() == record["commitment"] == sealed["commitment"]
    assert record["result"] == row["result"]
    assert [e["expert_ids"] == sorted(e["expert_ids"]) for e in record["snapshot"]] == [True, True]
    event = outbox()[-1]
    assert (event["action"], event["actor"], event["actor_role"]) == ("draw.revealed", "sup-9", "supervisor")
    assert event["change"]["seed"] == record["seed"] and event["change"]["result"] == record["result"]
    # Revealing again changes nothing and records nothing.
    again = expert_pool.post(f"/draws/{draw_id}/reveal", json={"reason": "重复"}, headers=user("operator"))
    assert again.status_code == 200 and again.json() == record
    assert [e["action"] for e in outbox()].count("draw.revealed") == 1
    assert expert_pool.get(f"/draws/{draw_id}", headers=user("operator")).json()["status"] == "revealed"


def test_no_reveal_before_the_evaluation_starts(sealed, expert_pool, user, connection, expect_error, outbox):
    expect_error(
        expert_pool.post(f"/draws/{sealed['id']}/reveal", json={"reason": "提前公开"}, headers=user("operator")),
        409,
        "result_not_decided",
    )
    assert draw_row(connection, sealed["id"])["revealed_at"] is None
    assert "draw.revealed" not in [e["action"] for e in outbox()]


def test_a_draw_that_selected_nobody_cannot_be_revealed(pool, post_draw, expert_pool, user, connection, expect_error):
    code = pool.specialty()
    pool.experts(3, [code])
    failed = post_draw(draw_body([(code, 5, 0)]))
    draw_id = failed.json()["error"]["details"]["draw_id"]
    start_evaluation(connection, draw_id)
    details = expect_error(
        expert_pool.post(f"/draws/{draw_id}/reveal", json={"reason": "评标报告已提交"}, headers=user("operator")),
        409,
        "draw_wrong_status",
    )
    assert details["status"] == "failed"


@pytest.mark.parametrize(
    ("role", "code"), [("tenderee", "forbidden_role"), ("agency", "forbidden_role"), ("expert", "forbidden_role")]
)
def test_who_may_reveal(sealed, expert_pool, user, service, connection, expect_error, role, code):
    start_evaluation(connection, sealed["id"])
    path = f"/draws/{sealed['id']}/reveal"
    expect_error(expert_pool.post(path, json={"reason": "评标报告已提交"}, headers=user(role)), 403, code)
    expect_error(
        expert_pool.post(path, json={"reason": "评标报告已提交"}, headers=service("experts:draw")),
        403,
        "wrong_token_type",
    )
    expect_error(
        expert_pool.post(path, json={"reason": "评标报告已提交"}, headers=user("operator", platform="lingchuan")),
        404,
        "not_found",
    )
    expect_error(expert_pool.post(path, json={}, headers=user("operator")), 422, "validation_error")
    assert draw_row(connection, sealed["id"])["revealed_at"] is None


# -- verification on the server -------------------------------------------------------------------


def test_verify_reports_a_match(sealed, expert_pool, trading):
    response = expert_pool.get(f"/draws/{sealed['id']}/verify", headers=trading)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["match"] is True and all(body["checks"].values())
    assert set(body["checks"]) == {
        "commitment",
        "request_digest",
        "snapshot_sha256",
        "result",
        "result_sha256",
        "assignments",
    }


@pytest.mark.parametrize(
    ("tamper", "failed"),
    [
        # Someone swaps a drawn member for another expert in the assignments.
        (
            "update expert_pool.draw_assignments set expert_id = (select id from expert_pool.experts e "
            "where not exists (select 1 from expert_pool.draw_assignments a where a.expert_id = e.id) limit 1) "
            "where draw_id = :d and position = 1 and specialty_index = 0",
            {"assignments"},
        ),
        # Someone removes the first member from the snapshot after the fact.
        (
            "update expert_pool.draw_snapshots set expert_ids = array_to_string(array_remove("
            "string_to_array(expert_ids, ','), (select expert_id::text from expert_pool.draw_assignments "
            "where draw_id = :d and specialty_index = 0 and position = 1)), ',') "
            "where draw_id = :d and specialty_index = 0",
            {"snapshot_sha256", "result", "assignments"},
        ),
        # Someone "sets aside" the first member after the fact.
        (
            "update expert_pool.draws set skipped = jsonb_build_object((select expert_id::text "
            "from expert_pool.draw_assignments where draw_id = :d and specialty_index = 0 and position = 1), "
            "'credit_banned') where id = :d",
            {"result", "assignments"},
        ),
        # Someone rewrites the stored result.
        (
            "update expert_pool.draws set result = jsonb_set(result, '{0,members}', (result->0->'members') - 0) "
            "where id = :d",
            {"result", "result_sha256"},
        ),
        # Someone replaces the seed.
        ("update expert_pool.draws set seed = sha256(seed) where id = :d", {"commitment", "result", "assignments"}),
    ],
)
def test_verify_detects_tampering(sealed, expert_pool, trading, connection, tamper, failed):
    connection.execute(text(tamper), {"d": sealed["id"]})
    body = expert_pool.get(f"/draws/{sealed['id']}/verify", headers=trading).json()
    assert body["match"] is False
    assert {name for name, ok in body["checks"].items() if not ok} >= failed


def test_verify_needs_a_selection(pool, post_draw, expert_pool, trading, expect_error):
    code = pool.specialty()
    failed = post_draw(draw_body([(code, 5, 0)]))
    draw_id = failed.json()["error"]["details"]["draw_id"]
    expect_error(expert_pool.get(f"/draws/{draw_id}/verify", headers=trading), 409, "draw_wrong_status")


# -- the offline verifier --------------------------------------------------------------------------


def test_the_cli_reproduces_the_list_from_a_saved_record(sealed, reveal, connection, tmp_path, capsys):
    record = reveal(sealed["id"])
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    assert verify_draw.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    # The exact list, in order: every drawn expert id appears in the printed list where it was drawn.
    rows = assignments(connection, sealed["id"])
    printed = [line.split(". ", 1)[1] for line in out.splitlines() if line.strip().startswith(("member", "reserve"))]
    assert printed == [str(r["expert_id"]) for r in rows]


def test_the_cli_fetches_the_record_over_http(sealed, reveal, expert_pool, user, issuer, capsys):
    reveal(sealed["id"])
    token = issuer.token(sub="sup-cli", roles=["supervisor"], platform="jincheng", aud="expert_pool", typ="user")
    code = verify_draw.main(
        ["--url", "http://expert-pool", "--draw", sealed["id"], "--token", token],
        transport=InProcessTransport(expert_pool),
    )
    assert code == 0, capsys.readouterr()
    assert "OK" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda r: r["result"][0]["members"].reverse(), "recomputed selection differs"),
        (lambda r: r.update(seed="00" * 32), "commitment"),
        (lambda r: r["snapshot"][0]["expert_ids"].pop(), "snapshot digest"),
        (lambda r: r["request"]["request"].update(budget_fen=1), "request digest"),
    ],
)
def test_the_cli_finds_a_doctored_record(sealed, reveal, tmp_path, capsys, edit, problem):
    record = reveal(sealed["id"])
    edit(record)
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    assert verify_draw.main([str(path)]) == 1
    assert problem in capsys.readouterr().out


def test_the_cli_says_when_it_cannot_verify(tmp_path, capsys, sealed, expert_pool, issuer):
    assert verify_draw.main([str(tmp_path / "missing.json")]) == 2
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    assert verify_draw.main([str(tmp_path / "other.json")]) == 2
    assert verify_draw.main(["--url", "http://x"]) == 2
    sealed_token = issuer.token(sub="sup", roles=["supervisor"], aud="expert_pool", typ="user")
    code = verify_draw.main(
        ["--url", "http://expert-pool", "--draw", sealed["id"], "--token", sealed_token],
        transport=InProcessTransport(expert_pool),
    )
    assert code == 2  # still sealed: 409 from the server
    assert "409" in capsys.readouterr().err
