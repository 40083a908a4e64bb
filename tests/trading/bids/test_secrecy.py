"""Before the deadline nobody but the bidder itself can tell that it bid (电子招标投标办法 第二十一条;
招标投标法 第二十二条): not the organiser, the trading centre, supervisors, county systems nor other
bidders, through any read they can make."""

from __future__ import annotations

from typing import Any

from tests.trading.watchers import secrecy_watchers


def keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def test_nobody_else_learns_who_or_how_many_bid(bidding, service, expect_error):
    tender, client = bidding.tender, bidding.client
    project, notice = tender.project, tender.notice
    lot_ids = [lot["id"] for lot in tender.lots]
    watchers = secrecy_watchers(tender, service)
    reads = [
        f"/projects/{project['id']}",
        f"/projects/{project['id']}/lots",
        *[f"/lots/{lot}" for lot in lot_ids],
        *[f"/lots/{lot}/summary" for lot in lot_ids],
        f"/projects/{project['id']}/notices",
        f"/notices/{notice['id']}",
        *[f"/lots/{lot}/objections" for lot in lot_ids],
    ]
    public = ["/public/notices?limit=100", f"/public/notices/{notice['id']}"]

    def snapshot() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for who, headers in watchers.items():
            for path in reads:
                response = client.get(path, headers=headers)
                seen[f"{who} {path}"] = (response.status_code, response.json())
        for path in public:
            seen[f"public {path}"] = client.get(path).json()
        # Another bidder, who did not bid, asking about its own bid.
        for lot in lot_ids:
            response = client.get(f"/lots/{lot}/bids/mine", headers=bidding.headers("bystander"))
            seen[f"bystander {lot}"] = (response.status_code, response.json()["error"]["code"])
        return seen

    before = snapshot()
    assert sum(1 for v in before.values() if isinstance(v, tuple) and v[0] == 200) >= 40
    receipts = []
    for name in ("a", "b", "c"):
        receipts.append(bidding.submit(name).json()["receipt"])
        bidding.client.put(
            f"/lots/{lot_ids[0]}/bids/mine/deposit",
            json={"form": "guarantee_letter", "reference": f"BH-{name}"},
            headers=bidding.headers(name),
        )
    bidding.submit("a")  # a modification
    bidding.client.delete(f"/lots/{lot_ids[0]}/bids/mine", headers=bidding.headers("c"))

    # Identical answers before and after three bids, a modification and a withdrawal.
    assert snapshot() == before
    secret = [bidding.bidder(n).org for n in "abc"] + [bidding.bidder(n).credit_code for n in "abc"]
    secret += [r["receipt_no"] for r in receipts] + [r["bid_id"] for r in receipts]
    for who, headers in watchers.items():
        for lot in lot_ids:
            response = client.get(f"/lots/{lot}/deposits", headers=headers)
            if who in ("operator", "admin", "supervisor"):
                expect_error(response, 403, "secret_until_deadline")
            else:
                assert response.status_code == 403  # not theirs at all
            assert not any(s in response.text for s in secret)
    for body in before.values():
        payload = body[1] if isinstance(body, tuple) else body
        assert not {k for k in keys(payload) if "bid" in k.lower() and k != "bid_deadline"} - {"bidding_period"}

    # A bidder sees only its own bid and receipts.
    b_view = client.get(f"/lots/{lot_ids[0]}/bids/mine", headers=bidding.headers("b")).json()
    assert b_view["bidder_org"] == bidding.bidder("b").org and len(b_view["versions"]) == 1
    b_receipts = client.get(f"/lots/{lot_ids[0]}/bids/mine/receipts", headers=bidding.headers("b")).json()
    assert [r["receipt"]["bidder_org"] for r in b_receipts] == [bidding.bidder("b").org]
    for text in (str(b_view), str(b_receipts)):
        assert bidding.bidder("a").org not in text and bidding.bidder("c").org not in text
