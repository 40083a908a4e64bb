"""Starting and closing decryption: at the deadline, once; closed after the window or once every
bid is decrypted; what is not decrypted is revoked (the bidder's fault) or, as the host records
it, withdrawn (the platform's) (电子招标投标办法 第三十一条)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def started(hall):
    hall.bid("a", "b", "c", "d")
    hall.pass_deadline()
    hall.start()
    hall.sign_in("a", "b", "c")
    return hall


def test_start_once_and_not_while_suspended(hall, service, expect_error):
    hall.bid("a", "b", "c")
    hall.pass_deadline()
    reference = f"complaint:{uuid.uuid4()}"
    suspended = hall.client.put(
        f"/lots/{hall.lot}/suspensions/{reference}",
        json={"reason": "投诉处理中，暂停"},
        headers=service("trading:suspend"),
    )
    assert suspended.status_code == 200, suspended.text
    expect_error(hall.client.post(hall.url("/start"), headers=hall.host), 409, "lot_suspended")
    hall.client.delete(f"/lots/{hall.lot}/suspensions/{reference}", headers=service("trading:suspend"))
    started = hall.start()
    assert started["status"] == "decrypting"
    expect_error(hall.client.post(hall.url("/start"), headers=hall.host), 409, "opening_already_started")


def test_close_waits_for_the_window_unless_all_are_decrypted(started, expect_error):
    hall = started
    expect_error(hall.client.post(hall.url("/close"), headers=hall.host), 409, "decryption_window_open")
    hall.decrypt("a", "b", "c")
    details = expect_error(hall.client.post(hall.url("/close"), headers=hall.host), 409, "decryption_window_open")
    assert details["pending"] == 1  # d has not even signed in
    hall.sign_in("d")
    hall.decrypt("d")
    closed = hall.close()  # everyone decrypted: no need to wait for the window
    assert closed["status"] == "decryption_closed"
    assert {b["status"] for b in closed["bids"]} == {"decrypted"}
    expect_error(hall.client.post(hall.url("/close"), headers=hall.host), 409, "decryption_already_closed")


def test_close_before_the_start(hall, expect_error):
    hall.bid("a", "b", "c")
    hall.pass_deadline()
    expect_error(hall.client.post(hall.url("/close"), headers=hall.host), 409, "opening_not_started")


def test_revoked_by_default_withdrawn_for_the_platform(started, outbox, expect_error):
    hall = started
    hall.decrypt("a")
    hall.end_window()
    ids = {n: hall.bid_id(n) for n in "abcd"}
    bad = [
        (
            {"platform_faults": [{"bid_id": ids["a"], "reason": "平台故障"}]},
            {"not_pending": [ids["a"]], "duplicates": []},
        ),
        (
            {"platform_faults": [{"bid_id": str(uuid.UUID(int=7)), "reason": "平台故障"}]},
            {"not_pending": [str(uuid.UUID(int=7))], "duplicates": []},
        ),
        (
            {"platform_faults": [{"bid_id": ids["b"], "reason": "平台故障"}] * 2},
            {"not_pending": [], "duplicates": [ids["b"]]},
        ),
    ]
    for body, expected in bad:
        response = hall.client.post(hall.url("/close"), json=body, headers=hall.host)
        assert expect_error(response, 422, "invalid_platform_faults") == expected
    short = hall.client.post(
        hall.url("/close"), json={"platform_faults": [{"bid_id": ids["b"], "reason": "短"}]}, headers=hall.host
    )
    expect_error(short, 422, "validation_error")

    closed = hall.close(platform_faults=[{"bid_id": ids["b"], "reason": "10:05–10:40 解密服务中断（平台原因）"}])
    by_id = {b["bid_id"]: b for b in closed["bids"]}
    assert (by_id[ids["a"]]["status"], by_id[ids["a"]]["fault"]) == ("decrypted", None)
    assert (by_id[ids["b"]]["status"], by_id[ids["b"]]["fault"]) == ("withdrawn", "platform")
    assert by_id[ids["b"]]["fault_reason"] == "10:05–10:40 解密服务中断（平台原因）"
    assert (by_id[ids["c"]]["status"], by_id[ids["c"]]["fault"]) == ("revoked", "bidder")
    assert by_id[ids["c"]]["fault_reason"] == "未在解密时限内解密"
    assert by_id[ids["d"]]["fault_reason"] == "未签到且未在解密时限内解密"
    event = next(e for e in outbox() if e["action"] == "opening.decryption_closed")
    assert {b["bid_id"]: b["status"] for b in event["change"]["bids"]} == {
        ids["a"]: "decrypted",
        ids["b"]: "withdrawn",
        ids["c"]: "revoked",
        ids["d"]: "revoked",
    }
    # The opening continues for the rest: the record reads out what was decrypted.
    record = hall.publish()["record"]
    assert record["summary"] == {"valid_bid_count": 4, "decrypted": 1, "revoked": 2, "withdrawn": 1}
