"""GET /credit/public: anyone may read published records that are not revoked, and nothing else."""

from __future__ import annotations

import pytest

from tests.supervision.credit.samples import EXPERT, ORG, OTHER_ORG

PUBLIC_FIELDS = {
    "id", "platform", "subject_kind", "subject_id", "subject_name", "law", "act", "legal_basis", "decision",
    "decision_number", "department", "decided_on", "ban_start", "ban_end", "published_at",
}  # fmt: skip


def _publish(supervision, user, record) -> dict:
    response = supervision.post(f"/credit/records/{record['id']}/publish", headers=user("supervisor"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_only_published_records_not_revoked_are_public_from_every_platform(supervision, user, create_record):
    published_city = _publish(supervision, user, create_record("jincheng"))
    published_county = _publish(supervision, user, create_record("lingchuan", law="bidding", ban_end=None))
    create_record("gaoping")  # never published
    withdrawn = _publish(supervision, user, create_record("gaoping"))
    supervision.post(
        f"/credit/records/{withdrawn['id']}/revoke", json={"reason": "经复议撤销"}, headers=user("supervisor")
    )
    _publish(supervision, user, create_record(subject_id=OTHER_ORG))  # someone else

    response = supervision.get("/credit/public", params={"subject_id": ORG.lower()})  # no token needed
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_after"] is None
    assert [r["id"] for r in page["records"]] == [published_city["id"], published_county["id"]]
    for shown, full in zip(page["records"], (published_city, published_county), strict=True):
        assert set(shown) == PUBLIC_FIELDS  # no working data: who typed it, revocation, flags
        assert shown == {k: full[k] for k in PUBLIC_FIELDS}


def test_an_unpublished_record_is_absent_until_published(supervision, user, create_record):
    record = create_record(subject_kind="expert", subject_id=EXPERT, law="bidding", ban_start=None, ban_end=None)
    assert supervision.get("/credit/public", params={"subject_id": EXPERT}).json()["records"] == []
    _publish(supervision, user, record)
    shown = supervision.get("/credit/public", params={"subject_id": EXPERT.upper()}).json()["records"]
    assert [r["id"] for r in shown] == [record["id"]]


def test_public_listing_pages_by_id(supervision, user, create_record):
    made = [_publish(supervision, user, create_record())["id"] for _ in range(3)]
    first = supervision.get("/credit/public", params={"subject_id": ORG, "limit": 2}).json()
    assert [r["id"] for r in first["records"]] == made[:2]
    rest = supervision.get(
        "/credit/public", params={"subject_id": ORG, "limit": 2, "after": first["next_after"]}
    ).json()
    assert ([r["id"] for r in rest["records"]], rest["next_after"]) == (made[2:], None)


def test_a_token_changes_nothing_on_the_public_endpoint(supervision, user, create_record):
    create_record("gaoping")  # unpublished: not even a supervisor sees it here
    response = supervision.get(
        "/credit/public", params={"subject_id": ORG}, headers=user("supervisor", platform="gaoping")
    )
    assert response.json() == {"records": [], "next_after": None}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "subject_id"),
        ({"subject_id": "91140581MA0K000000"}, "subject_id"),
        ({"subject_id": "晋城市某公司"}, "subject_id"),
        ({"subject_id": ORG, "limit": 501}, "limit"),
        ({"subject_id": ORG, "after": 2**63}, "after"),
        ({"subject_id": ORG, "published": "false"}, "published"),
    ],
)
def test_bad_public_query_is_422(supervision, expect_error, params, field):
    details = expect_error(supervision.get("/credit/public", params=params), 422, "validation_error")
    assert any(d["loc"][-1] == field for d in details), details
