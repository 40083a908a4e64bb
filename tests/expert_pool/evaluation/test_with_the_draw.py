"""The evaluation on a committee made by the draw's own API (not rows written by hand): a remote
draw with a main venue and a sub-venue, members accepting, a no-show replaced from the reserves,
the evaluation following the replacement, and the draw revealed and verifiable at the end.
Supervision's real app answers the draw's credit checks in-process; trading is the fake."""

from __future__ import annotations

import uuid

import pytest

from tests.expert_pool.draws.conftest import (
    assignments,
    draw_body,
    start_evaluation,
    supervision_client_for,
)
from tests.expert_pool.evaluation.conftest import WORKED_SCORES, FakeTrading, attestation, sheet_for
from tests.expert_pool.factories import add_specialty, create_experts


@pytest.fixture
def pool_app(make_client, issuer):
    supervision = make_client("supervision", ledger_signer_enabled=False)
    client = make_client("expert_pool")
    client.app.state.supervision = supervision_client_for(supervision, issuer)
    return client


def test_evaluation_follows_a_real_draw_through_a_replacement(pool_app, session, connection, user, service, outbox):
    app = pool_app
    specialty = add_specialty(session)
    # City experts (region 城区): the main venue is on the city platform, the sub-venue in Gaoping.
    ids = create_experts(session, 7, specialties=[specialty])
    subjects = {}
    for expert_id in ids:
        subjects[expert_id] = f"acct-{uuid.uuid4().hex[:12]}"
        connection.exec_driver_sql(
            "update expert_pool.experts set account_subject = %(s)s where id = %(id)s",
            {"s": subjects[expert_id], "id": expert_id},
        )
    main, sub = uuid.uuid4(), uuid.uuid4()
    venues = [
        {"venue_id": str(main), "platform": "jincheng", "role": "main", "seats": 4},
        {"venue_id": str(sub), "platform": "gaoping", "role": "sub", "seats": 4},
    ]
    body = draw_body([(specialty, 5, 2)], remote=True, venues=venues)
    drawn = app.post(
        "/draws",
        json=body,
        headers={**service("experts:draw", sub="svc-trading"), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert drawn.status_code == 201, drawn.text
    draw_id = drawn.json()["id"]
    rows = assignments(connection, draw_id)
    members = [r for r in rows if r["role"] == "member"]
    for row in members:
        accepted = app.post(
            f"/me/assignments/{row['id']}/accept", headers=user("expert", sub=subjects[row["expert_id"]])
        )
        assert accepted.status_code == 200, accepted.text

    lot_id = uuid.UUID(body["lot_id"])
    trading = FakeTrading(lot_id, platform="jincheng")
    app.app.state.trading = trading
    operator = user("operator", platform="jincheng", sub="op-city")
    created = app.post("/evaluations", json={"lot_id": str(lot_id), "venues": venues}, headers=operator)
    assert created.status_code == 201, created.text
    evaluation = created.json()["id"]
    seat = {m["expert_id"]: m["venue_id"] for m in created.json()["members"]}
    # Everyone from the city is seated at the city's main venue while it has seats, then at the sub-venue.
    assert sorted(seat.values()).count(str(main)) == 4

    def headers_of(expert_id):
        return user("expert", sub=subjects[uuid.UUID(str(expert_id))])

    # Four members come; the fifth does not, and the draw replaces them from the reserves.
    absent = members[4]
    for row in members[:4]:
        checked = app.post(
            f"/evaluations/{evaluation}/check-ins",
            json={"venue_id": seat[str(row["expert_id"])], "attestation": attestation()},
            headers=headers_of(row["expert_id"]),
        )
        assert checked.status_code == 201, checked.text
    no_show = app.post(
        f"/draws/{draw_id}/assignments/{absent['id']}/no-show", json={"reason": "未按时到场"}, headers=operator
    )
    assert no_show.status_code == 200, no_show.text
    promoted = next(r for r in assignments(connection, draw_id) if r["replaces_id"] == absent["id"])
    assert (
        app.post(f"/me/assignments/{promoted['id']}/accept", headers=headers_of(promoted["expert_id"])).status_code
        == 200
    )
    refreshed = app.post(f"/evaluations/{evaluation}/committee/refresh", headers=operator).json()
    status = {m["expert_id"]: m["status"] for m in refreshed["members"]}
    assert status[str(absent["expert_id"])] == "replaced"
    assert status[str(promoted["expert_id"])] == "active"
    newcomer_venue = next(m["venue_id"] for m in refreshed["members"] if m["expert_id"] == str(promoted["expert_id"]))
    assert (
        app.post(
            f"/evaluations/{evaluation}/check-ins",
            json={"venue_id": newcomer_venue, "attestation": attestation()},
            headers=headers_of(promoted["expert_id"]),
        ).status_code
        == 201
    )

    committee = [row["expert_id"] for row in members[:4]] + [promoted["expert_id"]]
    for voter in committee[:3]:
        app.post(
            f"/evaluations/{evaluation}/leader-votes",
            json={"candidate_expert_id": str(committee[0])},
            headers=headers_of(voter),
        )
    assert app.post(f"/evaluations/{evaluation}/start", headers=operator).status_code == 200
    for i, expert_id in enumerate(committee):
        signed = app.post(
            f"/evaluations/{evaluation}/sheets", json=sheet_for(trading, i, _with_d()), headers=headers_of(expert_id)
        )
        assert signed.status_code == 201, signed.text

    # The draw may be revealed once the evaluation has begun (its scheduled start).
    start_evaluation(connection, draw_id)
    done = app.post(f"/evaluations/{evaluation}/complete", headers=headers_of(committee[0]))
    assert done.status_code == 200, done.text
    assert len(trading.reports) == 1
    # The draw's record is now public and checks out against its commitment.
    verify = app.get(f"/draws/{draw_id}/verify", headers=user("supervisor", platform="jincheng"))
    assert verify.status_code == 200, verify.text
    assert verify.json()["match"] is True
    assert "draw.revealed" in [e["action"] for e in outbox()]


def _with_d():
    # No rejection in this run: bid D is scored too.
    return {**WORKED_SCORES, "D": ([30] * 5, [10] * 5)}
