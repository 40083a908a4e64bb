"""The bidder's credit, asked of supervision's real app before the bid's transaction: banned bidders
are refused, and no answer means no bid (never "assumed clean")."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from services.trading.bids.credit import applicable_bans
from shared.clients.supervision import SupervisionClient
from shared.contracts.credit import CreditStatus
from shared.credit_code import make_credit_code
from tests.support.inprocess import InProcessTransport

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _record(bidding, issuer, supervision, law: str, **overrides):
    today = datetime.now(SHANGHAI).date()
    body = {
        "subject_kind": "organisation",
        "subject_id": bidding.bidder("a").credit_code,
        "subject_name": "投标人a有限公司",
        "law": law,
        "act": "串通投标",
        "legal_basis": "《招标投标法》第五十三条",
        "decision": "取消一年内参加依法必须进行招标的项目的投标资格",
        "decision_number": "晋市发改罚〔2026〕7号",
        "department": "晋城市发展和改革委员会",
        "decided_on": (today - timedelta(days=3)).isoformat(),
        "ban_start": (today - timedelta(days=1)).isoformat(),
        "ban_end": (today + timedelta(days=360)).isoformat(),
        **overrides,
    }
    headers = issuer.headers(sub="sup-1", roles=["supervisor"], platform="jincheng", aud="supervision")
    response = supervision.post("/credit/records", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_banned_bidder_is_refused(bidding, issuer, supervision, connection, expect_error, blob_files):
    record = _record(bidding, issuer, supervision, "bidding")
    details = expect_error(bidding.submit("a", **{"Idempotency-Key": "banned-1"}), 403, "bidder_banned")
    assert [r["id"] for r in details["active_records"]] == [record["id"]]
    assert details["active_records"][0]["decision_number"] == "晋市发改罚〔2026〕7号"
    assert connection.execute(text("select count(*) from trading.bids")).scalar_one() == 0
    assert connection.execute(text("select count(*) from trading.bid_submission_keys")).scalar_one() == 0
    assert blob_files()["blobs"] == []  # refused before a byte of the envelope was read
    # Another bidder is not affected.
    assert bidding.submit("b").status_code == 201


def test_a_ban_under_the_other_law_does_not_bar_this_lot(bidding, issuer, supervision):
    """The tender is engineering works (招标投标法); a government-procurement ban bars GP only."""
    today = datetime.now(SHANGHAI).date()
    _record(
        bidding,
        issuer,
        supervision,
        "government_procurement",
        legal_basis="《政府采购法》第七十七条",
        decision="一年内禁止参加政府采购活动",
        ban_start=today.isoformat(),
        ban_end=(today.replace(year=today.year + 1) - timedelta(days=1)).isoformat(),
    )
    assert bidding.submit("a").status_code == 201


def test_an_expired_ban_does_not_bar(bidding, issuer, supervision):
    today = datetime.now(SHANGHAI).date()
    _record(
        bidding,
        issuer,
        supervision,
        "bidding",
        decided_on=(today - timedelta(days=400)).isoformat(),
        ban_start=(today - timedelta(days=399)).isoformat(),
        ban_end=(today - timedelta(days=35)).isoformat(),
    )
    assert bidding.submit("a").status_code == 201


@pytest.mark.parametrize("failure", ["unreachable", "server_error", "token_refused"])
def test_no_answer_from_supervision_means_no_bid(
    bidding, trading, issuer, supervision, connection, expect_error, failure
):
    if failure == "unreachable":
        # Nothing listens on port 9 (discard) here: a refused connection, as when supervision is down.
        client = SupervisionClient("http://127.0.0.1:9", timeout=1.0, retries=0, token_provider=lambda: "x")
    elif failure == "server_error":
        transport = httpx.MockTransport(lambda _: httpx.Response(500, text="boom"))
        client = SupervisionClient("http://supervision", transport=transport, retries=0, token_provider=lambda: "x")
    else:  # supervision answers, but refuses trading's token: still no usable answer for the bidder
        client = SupervisionClient(
            "http://supervision", transport=InProcessTransport(supervision), retries=0, token_provider=lambda: "bogus"
        )
    trading.app.state.supervision = client
    try:
        details = expect_error(bidding.submit("a", **{"Idempotency-Key": "down-1"}), 503, "dependency_unavailable")
        # Unreachable: the transport's generic 503 (no details); otherwise supervision is named.
        assert details is None or details["service"] == "supervision"
    finally:
        client.close()
    assert connection.execute(text("select count(*) from trading.bids")).scalar_one() == 0
    assert connection.execute(text("select count(*) from trading.bid_submission_keys")).scalar_one() == 0


def _status(*laws: str) -> CreditStatus:
    records = [
        {
            "id": n,
            "platform": "jincheng",
            "law": law,
            "department": "d",
            "decision_number": f"n{n}",
            "decided_on": "2026-01-01",
            "ban_start": "2026-01-02",
            "ban_end": None,
        }
        for n, law in enumerate(laws, start=1)
    ]
    return CreditStatus.model_validate(
        {
            "subject_kind": "organisation",
            "subject_id": "91140500MA00000017",
            "on": "2026-11-29",
            "status": "banned" if records else "clean",
            "has_records": bool(records),
            "active_records": records,
        }
    )


def test_which_bans_apply_to_which_lots():
    both = _status("bidding", "government_procurement")
    assert [r["law"] for r in applicable_bans(both, "bidding_law")] == ["bidding"]
    assert [r["law"] for r in applicable_bans(both, "government_procurement")] == ["government_procurement"]
    # Markets without a credit law of their own: every ban counts.
    assert len(applicable_bans(both, "land")) == 2
    assert applicable_bans(_status(), "bidding_law") == []


class _Supervision:
    """Supervision's answers for CreditChecks alone (a unit test of its batching; the bids' own
    tests ask supervision's real app)."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def credit_status_batch(self, subjects):
        from shared.contracts.credit import CreditStatusBatch

        self.batches.append([s.subject_id for s in subjects])
        results = [_status().model_copy(update={"subject_id": s.subject_id}) for s in subjects]
        return CreditStatusBatch(on=results[0].on, results=results)


def _checks(supervision):
    from types import SimpleNamespace

    from services.trading.bids.credit import CreditChecks

    app = SimpleNamespace(state=SimpleNamespace(supervision=supervision))
    return CreditChecks(app)  # type: ignore[arg-type]


def test_a_question_asked_as_the_last_call_ends_is_still_asked():
    """A bid woken by a call's answer may ask again before that call's task has finished off: the
    question must start a call of its own, not wait for one that never comes."""
    import asyncio

    supervision = _Supervision()
    checks = _checks(supervision)

    async def bid() -> CreditStatus:
        await checks.status(first)
        # Asked in the very step its answer woke it in (wait_for would start a task, a step later).
        async with asyncio.timeout(5):
            return await checks.status(second)

    first, second = make_credit_code("91140500MB0000001"), make_credit_code("91140500MB0000002")
    assert asyncio.run(bid()).subject_id == second
    assert supervision.batches == [[first], [second]]


def test_questions_asked_together_go_out_in_one_call():
    import asyncio

    supervision = _Supervision()
    checks = _checks(supervision)
    codes = [make_credit_code(f"91140500MB{n:07d}") for n in range(10, 15)]

    async def surge() -> list[CreditStatus]:
        return await asyncio.gather(*(checks.status(code) for code in codes))

    answers = asyncio.run(surge())
    assert [a.subject_id for a in answers] == codes
    # All five were waiting before the one call went out.
    assert supervision.batches == [codes]


def test_a_lone_question_goes_out_at_once_and_a_call_under_load_waits_for_more(monkeypatch):
    """The gathering window costs latency, so it is paid only while calls follow each other."""
    import asyncio

    from services.trading.bids import credit

    windows: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(seconds: float) -> None:
        windows.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)  # what credit calls, through the module
    supervision = _Supervision()
    checks = _checks(supervision)
    first, second = make_credit_code("91140500MB0000021"), make_credit_code("91140500MB0000022")

    async def two_bids() -> None:
        await checks.status(first)  # nothing before it: no window
        assert windows == []
        await checks.status(second)  # a call just ended: this one gathers first
        assert windows == [credit.BATCH_WINDOW_SECONDS]

    asyncio.run(two_bids())
    assert supervision.batches == [[first], [second]]
