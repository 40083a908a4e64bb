"""Who may call each bid endpoint (roles, token types, counties) and bad input: always a 4xx, never a 500."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest

NOT_BIDDERS = ("operator", "tenderee", "agency", "supervisor", "admin", "expert")


def _bidder_calls(bidding) -> list[tuple[str, str, dict]]:
    lot = bidding.lot()
    return [
        (
            "POST",
            f"/lots/{lot}/bids",
            {"content": bidding.seal("a"), "headers": {"Content-Type": "application/octet-stream"}},
        ),
        ("GET", f"/lots/{lot}/bids/mine", {}),
        ("DELETE", f"/lots/{lot}/bids/mine", {}),
        ("GET", f"/lots/{lot}/bids/mine/receipts", {}),
        ("PUT", f"/lots/{lot}/bids/mine/deposit", {"json": {"form": "cash", "reference": "x"}}),
    ]


def _call(client, method, path, headers, options):
    merged = {**headers, **options.get("headers", {})}
    rest = {k: v for k, v in options.items() if k != "headers"}
    return client.request(method, path, headers=merged, **rest)


def test_bidder_endpoints_refuse_other_roles_and_tokens(bidding, service, expect_error):
    tender = bidding.tender
    for method, path, options in _bidder_calls(bidding):
        for role in NOT_BIDDERS:
            headers = {
                **tender.headers(role, org=str(uuid.uuid4())),
                "X-Bidder-Credit-Code": bidding.bidder("a").credit_code,
            }
            expect_error(_call(bidding.client, method, path, headers, options), 403, "forbidden_role")
        expect_error(
            _call(bidding.client, method, path, service("trading:read trading:write"), options), 403, "wrong_token_type"
        )
        expect_error(_call(bidding.client, method, path, {}, options), 401, "unauthenticated")
        no_org = {**tender.headers("bidder"), "X-Bidder-Credit-Code": bidding.bidder("a").credit_code}
        expect_error(_call(bidding.client, method, path, no_org, options), 403, "no_organisation")


def test_bidders_of_every_county_may_bid(bidding):
    """No regional barriers: a Gaoping bidder bids on a Jincheng lot and sees its own bid."""
    bidding.bidder("g", platform="gaoping")
    response = bidding.submit("g")
    assert response.status_code == 201, response.text
    mine = bidding.client.get(f"/lots/{bidding.lot()}/bids/mine", headers=bidding.headers("g"))
    assert mine.status_code == 200 and mine.json()["bidder_org"] == bidding.bidder("g").org


def test_centre_endpoints_refuse_other_roles_and_counties(bidding, set_times, service, expect_error):
    lot = bidding.lot()
    bid_id = bidding.submit("a").json()["receipt"]["bid_id"]
    set_times(lot, bid_deadline=timedelta(seconds=-1))
    tender = bidding.tender
    reads: tuple[str, str, dict] = ("GET", f"/lots/{lot}/deposits", {})
    writes = [
        ("PUT", f"/lots/{lot}/deposits/refund-due", {"json": {"result_on": "2026-11-29"}}),
        ("POST", f"/lots/{lot}/deposits/{bid_id}/refund", {}),
    ]
    for method, path, options in [reads, *writes]:
        for role in ("bidder", "tenderee", "agency", "expert"):
            expect_error(
                _call(bidding.client, method, path, tender.headers(role, org="o"), options), 403, "forbidden_role"
            )
        expect_error(_call(bidding.client, method, path, service("trading:read"), options), 403, "wrong_token_type")
        expect_error(_call(bidding.client, method, path, {}, options), 401, "unauthenticated")
        # A county's staff see only their county: a Jincheng lot does not exist for Gaoping.
        gaoping = tender.headers("operator", platform="gaoping")
        expect_error(_call(bidding.client, method, path, gaoping, options), 404, "not_found")
    for method, path, options in writes:
        expect_error(_call(bidding.client, method, path, tender.headers("supervisor"), options), 403, "forbidden_role")
    assert bidding.client.get(f"/lots/{lot}/deposits", headers=tender.headers("supervisor")).status_code == 200


def test_lots_bidders_cannot_see(bidding, draft_notice, expect_error):
    _, lots, _ = draft_notice(lot_count=1)  # a lot whose notice is still a draft
    for lot in (lots[0]["id"], str(uuid.uuid4())):
        response = bidding.client.post(
            f"/lots/{lot}/bids",
            content=bidding.seal("a", lot=lot),
            headers=bidding.headers("a", **{"Content-Type": "application/octet-stream"}),
        )
        expect_error(response, 404, "not_found")
        expect_error(bidding.client.get(f"/lots/{lot}/bids/mine", headers=bidding.headers("a")), 404, "not_found")


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"X-Bidder-Credit-Code": "91140500MA00000010"}, 422, "invalid_credit_code"),  # wrong check character
        ({"X-Bidder-Credit-Code": "not a code"}, 422, "invalid_credit_code"),
        ({"X-Bidder-Credit-Code": ""}, 422, "validation_error"),
        ({"X-Bidder-Credit-Code": "9" * 40}, 422, "validation_error"),
        ({"Content-Type": "multipart/form-data; boundary=x"}, 415, "unsupported_media_type"),
        ({"Content-Type": "application/json"}, 415, "unsupported_media_type"),
        ({"X-Deposit-Payer-Account": "账号"}, 422, "invalid_payer_account"),
        ({"X-Deposit-Payer-Account": "1" * 65}, 422, "validation_error"),
    ],
)
def test_bad_headers_are_4xx(bidding, headers, status, code, expect_error):
    base = bidding.headers("a", **{"Content-Type": "application/octet-stream"})
    encoded = {k: v.encode() for k, v in headers.items()}
    response = bidding.client.post(
        f"/lots/{bidding.lot()}/bids", content=bidding.seal("a"), headers={**base, **encoded}
    )
    expect_error(response, status, code)


def test_missing_credit_code_header(bidding, expect_error):
    headers = bidding.headers("a", **{"Content-Type": "application/octet-stream"})
    del headers["X-Bidder-Credit-Code"]
    expect_error(
        bidding.client.post(f"/lots/{bidding.lot()}/bids", content=b"x", headers=headers), 422, "validation_error"
    )


def test_bad_paths_are_4xx(bidding):
    for path in ("/lots/not-a-uuid/bids", "/lots/not-a-uuid/bids/mine", "/lots/%00/bids/mine/receipts"):
        for method in ("GET", "POST", "DELETE", "PUT"):
            response = bidding.client.request(method, path, headers=bidding.headers("a"))
            assert 400 <= response.status_code < 500, (method, path, response.text)


def test_garbage_bodies_are_refused_not_crashed(bidding):
    """Random bytes, random bytes behind the magic, a header of random JSON: 4xx every time."""
    good = bidding.seal("a")
    header_length = int.from_bytes(good[7:11], "big")
    samples = [os.urandom(n) for n in (1, 7, 11, 100, 5000)]
    samples += [b"JCBID1\n" + os.urandom(n) for n in (0, 3, 4, 50, 5000)]
    samples += [good[:11] + os.urandom(header_length) + good[11 + header_length :]]
    samples += [good[:7] + (5).to_bytes(4, "big") + b'{"a":1}' + good[11 + header_length :]]
    samples += [good[:7] + (2).to_bytes(4, "big") + b"[]", good[:7] + (4).to_bytes(4, "big") + b"null"]
    samples += [good[:7] + (len(b'"\xff\xfe"')).to_bytes(4, "big") + b'"\xff\xfe"']
    for body in samples:
        response = bidding.submit("a", body)
        assert response.status_code == 422, (body[:40], response.text)
        assert response.json()["error"]["code"] == "envelope_rejected"


def test_bad_json_bodies_are_422(bidding, set_times):
    lot = bidding.lot()
    bidding.submit("a")
    for body in (b"not json", b"[]", b'{"form": null}', b'{"form": "cash", "reference": 5}'):
        response = bidding.client.put(
            f"/lots/{lot}/bids/mine/deposit",
            content=body,
            headers={**bidding.headers("a"), "Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
    set_times(lot, bid_deadline=timedelta(seconds=-1))
    operator = bidding.tender.headers("operator")
    for body in (
        b"{}",
        b'{"result_on": "yesterday"}',
        b'{"result_on": "2026-02-30"}',
        b'{"result_on": "2026-11-29", "x": 1}',
    ):
        response = bidding.client.put(
            f"/lots/{lot}/deposits/refund-due", content=body, headers={**operator, "Content-Type": "application/json"}
        )
        assert response.status_code == 422, response.text
    response = bidding.client.post(
        f"/lots/{lot}/deposits/{uuid.uuid4()}/refund", json={"reference": ""}, headers=operator
    )
    assert response.status_code == 422
