"""The catalogue: public read, versioned publication by city staff only."""

from __future__ import annotations


def _category(**overrides):
    return {
        "code": "gp_goods",
        "name": "政府采购-货物",
        "law": "government_procurement",
        "kind": "goods",
        "methods": ["open_tender"],
        "must_enter_threshold_fen": None,
        **overrides,
    }


def test_version_1_is_installed_and_public(trading):
    body = trading.get("/catalogue").json()
    assert body["version"] >= 1
    codes = {c["code"] for c in trading.get("/catalogue/versions/1").json()["categories"]}
    assert {
        "engineering_works",
        "gp_goods",
        "gp_services",
        "land_use_rights",
        "mining_rights",
        "state_property",
        "rural_property",
    } <= codes
    works = next(
        c for c in trading.get("/catalogue/versions/1").json()["categories"] if c["code"] == "engineering_works"
    )
    assert works["must_enter_threshold_fen"] == 4_000_000 * 100 and works["law"] == "bidding_law"


def test_city_operator_publishes_a_new_version(trading, user, outbox):
    before = trading.get("/catalogue").json()["version"]
    response = trading.put(
        "/catalogue", json={"categories": [_category()], "note": "只保留货物类用于测试"}, headers=user("operator")
    )
    assert response.status_code == 201, response.text
    assert response.json()["version"] == before + 1
    assert trading.get("/catalogue").json()["version"] == before + 1
    assert len(trading.get(f"/catalogue/versions/{before}").json()["categories"]) > 1  # history kept
    event = outbox()[-1]
    assert event["action"] == "catalogue.published" and event["object_id"] == str(before + 1)


def test_publication_is_for_city_staff(trading, user, expect_error):
    body = {"categories": [_category()], "note": "x" * 5}
    expect_error(trading.put("/catalogue", json=body, headers=user("operator", platform="gaoping")), 403, "city_only")
    expect_error(trading.put("/catalogue", json=body, headers=user("tenderee")), 403, "forbidden_role")
    expect_error(trading.put("/catalogue", json=body), 401, "unauthenticated")


def test_bad_catalogues_are_refused(trading, user, expect_error):
    headers = user("admin")
    expect_error(
        trading.put("/catalogue", json={"categories": [_category(), _category()], "note": "dup"}, headers=headers),
        422,
        "validation_error",
    )
    expect_error(
        trading.put("/catalogue", json={"categories": [_category(law="martian")], "note": "bad"}, headers=headers),
        422,
        "validation_error",
    )
    expect_error(
        trading.put(
            "/catalogue", json={"categories": [_category(must_enter_threshold_fen=-1)], "note": "neg"}, headers=headers
        ),
        422,
        "validation_error",
    )
    expect_error(trading.get("/catalogue/versions/99999"), 404, "not_found")
    expect_error(trading.get("/catalogue/versions/0"), 422, "validation_error")
