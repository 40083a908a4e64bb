"""Employment history, declared conflicts and unavailable periods: the data avoidance reads."""

from __future__ import annotations

import uuid

import pytest

from tests.expert_pool.factories import make_credit_code
from tests.expert_pool.registry.conftest import count_rows


def _conflict(n: int = 1, kind: str = "relative") -> dict:
    return {"kind": kind, "organisation_credit_code": make_credit_code(n), "description": "配偶在该单位任职"}


PERIOD = {"starts_at": "2027-03-01T00:00:00+08:00", "ends_at": "2027-03-15T00:00:00+08:00", "reason": "出国访问"}


# -- employments ----------------------------------------------------------------------------------


def test_history_starts_with_the_current_employer(expert_pool, user, register):
    expert = register("gaoping")
    response = expert_pool.get(f"/experts/{expert['id']}/employments", headers=user("supervisor", platform="gaoping"))
    assert response.status_code == 200, response.text
    [current] = response.json()
    assert current == {
        "id": current["id"],
        "employer_credit_code": expert["employer_credit_code"],
        "employer_name": expert["employer_name"],
        "started_on": "2012-03-01",
        "ended_on": None,
        "current": True,
    }


def test_moving_to_a_new_employer_closes_the_current_one(expert_pool, user, outbox, register):
    expert = register("gaoping")
    new_code = make_credit_code(555)
    headers = user("operator", platform="gaoping")
    body = {"employer_credit_code": new_code.lower(), "employer_name": "高平市水利局", "started_on": "2024-07-01"}
    response = expert_pool.post(f"/experts/{expert['id']}/employments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    added = response.json()
    assert (added["employer_credit_code"], added["current"], added["ended_on"]) == (new_code, True, None)

    now = expert_pool.get(f"/experts/{expert['id']}", headers=headers).json()
    assert (now["employer_credit_code"], now["employer_name"]) == (new_code, "高平市水利局")
    history = expert_pool.get(f"/experts/{expert['id']}/employments", headers=headers).json()
    assert [(h["employer_credit_code"], h["started_on"], h["ended_on"], h["current"]) for h in history] == [
        (new_code, "2024-07-01", None, True),
        (expert["employer_credit_code"], "2012-03-01", "2024-07-01", False),
    ]
    event = outbox()[-1]
    assert (event["action"], event["object_id"], event["platform"]) == (
        "expert.employment_added",
        expert["id"],
        "gaoping",
    )
    assert event["change"] == {
        "employer_credit_code": new_code,
        "employer_name": "高平市水利局",
        "started_on": "2024-07-01",
        "ended_on": None,
        "employment_id": added["id"],
        "closed_employment_id": history[1]["id"],
    }


def test_a_past_employment_leaves_the_current_one(expert_pool, user, register):
    expert = register()
    old = make_credit_code(8)
    body = {
        "employer_credit_code": old,
        "employer_name": "原单位",
        "started_on": "2005-01-01",
        "ended_on": "2012-02-28",
    }
    response = expert_pool.post(f"/experts/{expert['id']}/employments", json=body, headers=user("operator"))
    assert response.json()["current"] is False
    history = expert_pool.get(f"/experts/{expert['id']}/employments", headers=user("operator")).json()
    assert [h["employer_credit_code"] for h in history] == [expert["employer_credit_code"], old]
    assert expert_pool.get(f"/experts/{expert['id']}", headers=user("operator")).json() == expert


@pytest.mark.parametrize(
    "dates",
    [
        {"started_on": "2999-01-01"},
        {"started_on": "2010-01-01", "ended_on": "2999-01-01"},
        {"started_on": "2010-01-01", "ended_on": "2009-12-31"},
        {"started_on": "2011-01-01"},  # a new current employer before the current one started
    ],
)
def test_impossible_employment_dates_are_422(expert_pool, user, outbox, connection, expect_error, register, dates):
    expert = register()
    body = {"employer_credit_code": make_credit_code(3), "employer_name": "某单位", **dates}
    expect_error(
        expert_pool.post(f"/experts/{expert['id']}/employments", json=body, headers=user("operator")),
        422,
        "invalid_period",
    )
    assert count_rows(connection, "expert_employments") == 1
    assert len(outbox()) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"employer_credit_code": "bad", "employer_name": "某单位", "started_on": "2010-01-01"},
        {"employer_credit_code": make_credit_code(1), "employer_name": "某单位"},
        {
            "employer_credit_code": make_credit_code(1),
            "employer_name": "某单位",
            "started_on": "2010-01-01",
            "current": True,
        },
    ],
)
def test_invalid_employment_is_422(expert_pool, user, expect_error, register, body):
    expert = register()
    expect_error(
        expert_pool.post(f"/experts/{expert['id']}/employments", json=body, headers=user("operator")),
        422,
        "validation_error",
    )


def test_employment_access(expert_pool, user, service, expect_error, register):
    expert = register("qinshui")
    url = f"/experts/{expert['id']}/employments"
    body = {"employer_credit_code": make_credit_code(2), "employer_name": "某单位", "started_on": "2020-01-01"}
    for role in ("operator", "supervisor"):
        expect_error(expert_pool.get(url, headers=user(role, platform="gaoping")), 404, "not_found")
    expect_error(expert_pool.post(url, json=body, headers=user("operator", platform="gaoping")), 404, "not_found")
    expect_error(
        expert_pool.post(url, json=body, headers=user("supervisor", platform="qinshui")), 403, "forbidden_role"
    )
    for role in ("expert", "agency"):
        expect_error(expert_pool.get(url, headers=user(role, platform="qinshui")), 403, "forbidden_role")
    expect_error(expert_pool.get(url, headers=service("experts:draw")), 403, "wrong_token_type")
    expect_error(expert_pool.get(f"/experts/{uuid.uuid4()}/employments", headers=user("operator")), 404, "not_found")


# -- conflicts ------------------------------------------------------------------------------------


def test_declare_list_and_withdraw_a_conflict(expert_pool, user, outbox, connection, register):
    expert = register("yangcheng")
    headers = user("operator", platform="yangcheng")
    url = f"/experts/{expert['id']}/conflicts"
    body = _conflict(4, "shareholding")
    body["organisation_credit_code"] = body["organisation_credit_code"].lower()
    response = expert_pool.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text
    declared = response.json()
    assert declared["organisation_credit_code"] == make_credit_code(4)
    assert (declared["kind"], declared["description"]) == ("shareholding", "配偶在该单位任职")
    assert declared["declared_at"]
    assert expert_pool.get(url, headers=user("supervisor")).json() == [declared]

    assert expert_pool.delete(f"{url}/{declared['id']}", headers=headers).status_code == 204
    assert expert_pool.get(url, headers=headers).json() == []
    assert count_rows(connection, "expert_conflicts") == 0

    declared_event, withdrawn_event = outbox()[1:]
    assert declared_event["action"] == "expert.conflict_declared"
    assert declared_event["change"] == {
        "kind": "shareholding", "organisation_credit_code": make_credit_code(4), "description": "配偶在该单位任职",
        "conflict_id": declared["id"],
    }  # fmt: skip
    assert withdrawn_event["action"] == "expert.conflict_withdrawn"
    assert withdrawn_event["change"] == {
        "conflict_id": declared["id"], "kind": "shareholding", "organisation_credit_code": make_credit_code(4),
    }  # fmt: skip
    assert {e["platform"] for e in (declared_event, withdrawn_event)} == {"yangcheng"}


def test_same_conflict_twice_is_409_another_kind_is_fine(expert_pool, user, expect_error, register):
    expert = register()
    url = f"/experts/{expert['id']}/conflicts"
    assert expert_pool.post(url, json=_conflict(1), headers=user("operator")).status_code == 201
    expect_error(expert_pool.post(url, json=_conflict(1), headers=user("operator")), 409, "conflict_exists")
    assert expert_pool.post(url, json=_conflict(1, "directorship"), headers=user("operator")).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {**_conflict(), "kind": "friendship"},
        {**_conflict(), "organisation_credit_code": "91140500MA0K12345"},
        {**_conflict(), "description": ""},
        {"kind": "relative", "organisation_credit_code": make_credit_code(1)},
    ],
)
def test_invalid_conflict_is_422(expert_pool, user, expect_error, register, body):
    expert = register()
    expect_error(
        expert_pool.post(f"/experts/{expert['id']}/conflicts", json=body, headers=user("operator")),
        422,
        "validation_error",
    )


def test_conflict_of_another_expert_cannot_be_withdrawn_through_this_one(
    expert_pool, user, outbox, expect_error, register
):
    first, second = register(n=1), register(n=2)
    declared = expert_pool.post(f"/experts/{first['id']}/conflicts", json=_conflict(), headers=user("operator")).json()
    expect_error(
        expert_pool.delete(f"/experts/{second['id']}/conflicts/{declared['id']}", headers=user("operator")),
        404,
        "not_found",
    )
    expect_error(
        expert_pool.delete(f"/experts/{first['id']}/conflicts/{uuid.uuid4()}", headers=user("operator")),
        404,
        "not_found",
    )
    assert len(expert_pool.get(f"/experts/{first['id']}/conflicts", headers=user("operator")).json()) == 1


def test_conflict_access(expert_pool, user, service, expect_error, register):
    expert = register("gaoping")
    url = f"/experts/{expert['id']}/conflicts"
    declared = expert_pool.post(url, json=_conflict(), headers=user("operator", platform="gaoping")).json()
    other = user("operator", platform="lingchuan")
    expect_error(expert_pool.get(url, headers=other), 404, "not_found")
    expect_error(expert_pool.post(url, json=_conflict(2), headers=other), 404, "not_found")
    expect_error(expert_pool.delete(f"{url}/{declared['id']}", headers=other), 404, "not_found")
    supervisor = user("supervisor", platform="gaoping")
    expect_error(expert_pool.post(url, json=_conflict(2), headers=supervisor), 403, "forbidden_role")
    expect_error(expert_pool.delete(f"{url}/{declared['id']}", headers=supervisor), 403, "forbidden_role")
    expect_error(
        expert_pool.delete(f"{url}/{declared['id']}", headers=user("expert", platform="gaoping")), 403, "forbidden_role"
    )
    expect_error(expert_pool.get(url, headers=service("experts:draw")), 403, "wrong_token_type")


# -- unavailability -------------------------------------------------------------------------------


def test_add_list_and_delete_an_unavailable_period(expert_pool, user, outbox, connection, register):
    expert = register("lingchuan")
    headers = user("operator", platform="lingchuan")
    url = f"/experts/{expert['id']}/unavailability"
    response = expert_pool.post(url, json=PERIOD, headers=headers)
    assert response.status_code == 201, response.text
    period = response.json()
    assert period["starts_at"] == "2027-02-28T16:00:00Z"  # stored in UTC
    assert period["ends_at"] == "2027-03-14T16:00:00Z"
    later = expert_pool.post(
        url, json={**PERIOD, "starts_at": "2027-05-01T00:00:00Z", "ends_at": "2027-05-02T00:00:00Z"}, headers=headers
    )
    listed = expert_pool.get(url, headers=user("supervisor", platform="lingchuan")).json()
    assert [p["id"] for p in listed] == [period["id"], later.json()["id"]]

    assert expert_pool.delete(f"{url}/{period['id']}", headers=headers).status_code == 204
    assert [p["id"] for p in expert_pool.get(url, headers=headers).json()] == [later.json()["id"]]
    actions = [e["action"] for e in outbox()[1:]]
    assert actions == ["expert.unavailability_added", "expert.unavailability_added", "expert.unavailability_removed"]
    assert outbox()[1]["change"] == {
        "starts_at": "2027-03-01T00:00:00+08:00", "ends_at": "2027-03-15T00:00:00+08:00", "reason": "出国访问",
        "unavailability_id": period["id"],
    }  # fmt: skip
    assert count_rows(connection, "expert_unavailability") == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**PERIOD, "ends_at": PERIOD["starts_at"]}, "invalid_period"),
        ({**PERIOD, "ends_at": "2027-02-01T00:00:00+08:00"}, "invalid_period"),
        ({**PERIOD, "starts_at": "2027-03-01T00:00:00"}, "validation_error"),  # no time zone
        ({**PERIOD, "reason": ""}, "validation_error"),
        ({"starts_at": PERIOD["starts_at"], "ends_at": PERIOD["ends_at"]}, "validation_error"),
    ],
)
def test_invalid_period_is_422(expert_pool, user, outbox, expect_error, register, body, code):
    expert = register()
    expect_error(
        expert_pool.post(f"/experts/{expert['id']}/unavailability", json=body, headers=user("operator")), 422, code
    )
    assert len(outbox()) == 1


def test_unavailability_access(expert_pool, user, service, expect_error, register):
    expert = register("gaoping")
    url = f"/experts/{expert['id']}/unavailability"
    period = expert_pool.post(url, json=PERIOD, headers=user("operator", platform="gaoping")).json()
    other = user("operator", platform="yangcheng")
    expect_error(expert_pool.get(url, headers=other), 404, "not_found")
    expect_error(expert_pool.post(url, json=PERIOD, headers=other), 404, "not_found")
    expect_error(expert_pool.delete(f"{url}/{period['id']}", headers=other), 404, "not_found")
    expect_error(expert_pool.delete(f"{url}/{uuid.uuid4()}", headers=user("operator")), 404, "not_found")
    expect_error(
        expert_pool.post(url, json=PERIOD, headers=user("supervisor", platform="gaoping")), 403, "forbidden_role"
    )
    expect_error(expert_pool.get(url, headers=user("agency", platform="gaoping")), 403, "forbidden_role")
    expect_error(expert_pool.delete(f"{url}/{period['id']}", headers=service("experts:draw")), 403, "wrong_token_type")


# -- the expert's own declarations ----------------------------------------------------------------


def test_expert_declares_conflicts_and_unavailability_themselves(expert_pool, user, outbox, register):
    expert = register("gaoping", account_subject="exp-1")
    me = user("expert", sub="exp-1", platform="gaoping")
    declared = expert_pool.post("/me/expert/conflicts", json=_conflict(), headers=me)
    assert declared.status_code == 201, declared.text
    period = expert_pool.post("/me/expert/unavailability", json=PERIOD, headers=me)
    assert period.status_code == 201, period.text
    assert expert_pool.get("/me/expert/conflicts", headers=me).json() == [declared.json()]
    assert expert_pool.get("/me/expert/unavailability", headers=me).json() == [period.json()]
    # staff see the same rows
    staff = user("operator", platform="gaoping")
    assert expert_pool.get(f"/experts/{expert['id']}/conflicts", headers=staff).json() == [declared.json()]
    events = outbox()[1:]
    assert [(e["action"], e["actor"], e["actor_role"], e["object_id"], e["platform"]) for e in events] == [
        ("expert.conflict_declared", "exp-1", "expert", expert["id"], "gaoping"),
        ("expert.unavailability_added", "exp-1", "expert", expert["id"], "gaoping"),
    ]


def test_expert_cannot_withdraw_or_act_on_others(expert_pool, user, expect_error, register):
    expert = register(account_subject="exp-2")
    me = user("expert", sub="exp-2")
    declared = expert_pool.post("/me/expert/conflicts", json=_conflict(), headers=me).json()
    # no withdrawal route for experts, and the staff route refuses the role
    expect_error(
        expert_pool.delete(f"/experts/{expert['id']}/conflicts/{declared['id']}", headers=me), 403, "forbidden_role"
    )
    expect_error(
        expert_pool.post("/me/expert/conflicts", json=_conflict(3), headers=user("expert", sub="stranger")),
        404,
        "expert_not_linked",
    )
    expect_error(
        expert_pool.post("/me/expert/unavailability", json=PERIOD, headers=user("expert", sub="stranger")),
        404,
        "expert_not_linked",
    )
    expect_error(
        expert_pool.post("/me/expert/conflicts", json=_conflict(3), headers=user("operator", sub="exp-2")),
        403,
        "forbidden_role",
    )


def test_removed_expert_cannot_declare(expert_pool, user, expect_error, register):
    expert = register(account_subject="exp-3")
    expert_pool.post(f"/experts/{expert['id']}/remove", json={"reason": "违规"}, headers=user("operator"))
    me = user("expert", sub="exp-3")
    expect_error(expert_pool.post("/me/expert/conflicts", json=_conflict(), headers=me), 409, "expert_removed")
    expect_error(expert_pool.post("/me/expert/unavailability", json=PERIOD, headers=me), 409, "expert_removed")
    assert expert_pool.get("/me/expert", headers=me).json()["status"] == "removed"
