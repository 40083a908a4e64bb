"""Issue #3, done when: a tender from registration to the published opening record, over HTTP with
the real processes, bids sealed by the reference bidder tool, every step stored by supervision.

Time is the one thing compressed: the law's 20-day bidding period and the 10-minute minimum
decryption window cannot be waited out in a test, so the test moves the lot's dates (and, once,
the end of the decryption window) in the database, relative to the database's own clock. Every
decision is still the services' own, taken by PostgreSQL's clock_timestamp().
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.e2e.conftest import Platform
from tests.e2e.helpers import all_audit_events, wait_for
from tests.e2e.tendering import (
    BIDDERS,
    PRICES,
    FeedListener,
    bidder_tool,
    end_decryption_window,
    login,
    new_bidder,
    org_of,
    pass_deadline,
    seal,
    submit,
)
from tests.trading.notices.conftest import PDF
from tests.trading.projects.test_router import project_body


@pytest.mark.e2e
def test_register_publish_bid_and_open_remotely(platform: Platform, tmp_path: Path) -> None:
    http = platform.http
    admin = login(platform, "demo-admin")
    agency = login(platform, "demo-agency")
    operator = login(platform, "demo-operator")
    supervisor = login(platform, "demo-supervisor")
    tenderee_org = org_of(platform, login(platform, "demo-tenderee"))
    agency_org = org_of(platform, agency)

    # -- register, lot, notice, document, publish --------------------------------------------------
    project = http.post(
        platform.url("trading", "/projects"),
        headers=agency,
        json=project_body(
            tenderee_org=tenderee_org, agency_org=agency_org, name=f"E2E 道路工程 {uuid.uuid4().hex[:6]}"
        ),
    )
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    now = datetime.now(UTC)
    lot = http.post(
        platform.url("trading", f"/projects/{project_id}/lots"),
        headers=agency,
        json={
            "name": "1标段",
            "estimated_price_fen": 500_000_000,
            "ceiling_price_fen": 450_000_000,
            "procurement_method": "open_tender",
            "evaluation": {"method": "lowest_evaluated_price"},
            "documents_from": (now - timedelta(hours=1)).isoformat(),
            "documents_until": (now + timedelta(days=6)).isoformat(),
            "bid_deadline": (now + timedelta(days=21)).isoformat(),
            "decryption_window_minutes": 30,
            "deposit": {"required": True, "amount_fen": 5_000_000, "forms": ["guarantee_letter", "e_guarantee"]},
        },
    )
    assert lot.status_code == 201, lot.text
    lot_id = lot.json()["id"]
    notice = http.post(
        platform.url("trading", f"/projects/{project_id}/notices"),
        headers=agency,
        json={"title": "E2E 招标公告", "body": "现对该项目进行公开招标。", "lot_ids": [lot_id]},
    )
    assert notice.status_code == 201, notice.text
    notice_id = notice.json()["id"]
    document = http.post(
        platform.url("trading", f"/notices/{notice_id}/documents"),
        params={"filename": "招标文件.pdf"},
        content=PDF,
        headers={**agency, "Content-Type": "application/pdf"},
    )
    assert document.status_code == 201, document.text
    published = http.post(platform.url("trading", f"/notices/{notice_id}/publish"), headers=agency)
    assert published.status_code == 200, published.text
    # Art. 9: anyone reads published notices, without signing in.
    public = http.get(platform.url("trading", f"/public/notices/{notice_id}"))
    assert public.status_code == 200, public.text

    # -- five bidders (and a latecomer) download and seal with the bidder tool ---------------------
    workdir = tmp_path / "bidders"
    workdir.mkdir()
    bidders = {name: new_bidder(platform, admin, name, workdir) for name in (*BIDDERS, "late")}
    for bidder in bidders.values():
        download = http.get(
            platform.url("trading", f"/documents/{document.json()['id']}/content"), headers=bidder.headers
        )
        assert download.status_code == 200 and download.content == PDF
    envelopes = {name: seal(bidders[name], lot_id, workdir, PRICES[name], "v1") for name in BIDDERS}

    receipts: dict[str, dict[str, Any]] = {}
    for name in BIDDERS:
        key = {"Idempotency-Key": f"e2e-{name}-{uuid.uuid4()}"} if name == "c" else {}
        response = submit(platform, bidders[name], lot_id, envelopes[name], **key)
        assert response.status_code == 201, response.text
        receipts[name] = response.json()
        if name == "c":
            # A retry with the same key and file (a lost answer): the same receipt, nothing new.
            retry = submit(platform, bidders["c"], lot_id, envelopes["c"], **key)
            assert retry.status_code == 201 and retry.headers.get("Idempotent-Replayed") == "true"
            assert retry.json() == receipts["c"]
    # b modifies its bid: a new version supersedes the first.
    envelopes["b"] = seal(bidders["b"], lot_id, workdir, PRICES["b"] - 1_500_000, "v2")
    modified = submit(platform, bidders["b"], lot_id, envelopes["b"])
    assert modified.status_code == 201, modified.text
    assert modified.json()["receipt"]["version"] == 2
    # e withdraws.
    withdrawn = http.delete(platform.url("trading", f"/lots/{lot_id}/bids/mine"), headers=bidders["e"].headers)
    assert withdrawn.status_code == 200, withdrawn.text
    for name in BIDDERS:
        deposit = http.put(
            platform.url("trading", f"/lots/{lot_id}/bids/mine/deposit"),
            headers=bidders[name].headers,
            json={"form": "e_guarantee", "reference": f"BH-{name}-001"},
        )
        assert deposit.status_code in (200, 201, 409), deposit.text  # e's bid is withdrawn

    # Secrecy before the deadline: not even the host learns who bid (电子招标投标办法 第二十一条).
    early = http.get(platform.url("trading", f"/lots/{lot_id}/opening"), headers=agency)
    assert early.status_code == 409 and early.json()["error"]["code"] == "opening_not_due"

    # -- the deadline, compressed: a few seconds from the database's now ---------------------------
    late_envelope = seal(bidders["late"], lot_id, workdir, 390_000_000, "v1")
    pass_deadline(platform, lot_id)
    late = submit(platform, bidders["late"], lot_id, late_envelope)
    assert late.status_code == 409, late.text
    assert late.json()["error"]["code"] == "bid_deadline_passed"

    # -- remote opening ------------------------------------------------------------------------------
    feed = FeedListener(platform.url("trading", f"/lots/{lot_id}/opening/feed"), bidders["a"].headers)
    started = http.post(platform.url("trading", f"/lots/{lot_id}/opening/start"), headers=agency)
    assert started.status_code == 200, started.text
    assert started.json()["status"] != "failed"
    assert sorted(b["bidder_credit_code"] for b in started.json()["bids"]) == sorted(
        bidders[n].credit_code for n in ("a", "b", "c", "d")
    )
    feed.start()
    for name in ("a", "b", "c", "d"):
        signed_in = http.post(platform.url("trading", f"/lots/{lot_id}/opening/sign-in"), headers=bidders[name].headers)
        assert signed_in.status_code == 200, signed_in.text
    decrypted: dict[str, dict[str, Any]] = {}
    for name in ("a", "b", "c"):
        release = json.loads(bidder_tool("release-key", f"{envelopes[name]}.key.json"))
        answer = http.post(
            platform.url("trading", f"/lots/{lot_id}/opening/key"), headers=bidders[name].headers, json=release
        )
        assert answer.status_code == 200, answer.text
        decrypted[name] = answer.json()
    assert decrypted["b"]["bid_form"]["price_fen"] == PRICES["b"] - 1_500_000  # the modified version counts
    # d sends a key that does not open its bid (its own key of another envelope), then gives up.
    wrong = json.loads(bidder_tool("release-key", f"{envelopes['a']}.key.json"))
    failed = http.post(platform.url("trading", f"/lots/{lot_id}/opening/key"), headers=bidders["d"].headers, json=wrong)
    assert failed.status_code in (409, 422), failed.text
    # The window, compressed: it ends now. Closing revokes d's bid (its own fault, 电子办法 第三十一条).
    end_decryption_window(platform, lot_id)
    closed = http.post(platform.url("trading", f"/lots/{lot_id}/opening/close"), headers=agency, json={})
    assert closed.status_code == 200, closed.text
    status = {b["bidder_credit_code"]: b["status"] for b in closed.json()["bids"]}
    assert status[bidders["d"].credit_code] == "revoked"
    assert {status[bidders[n].credit_code] for n in ("a", "b", "c")} == {"decrypted"}

    # -- the opening record, a confirmation, an objection and its answer ----------------------------
    record = http.post(platform.url("trading", f"/lots/{lot_id}/opening/record"), headers=agency)
    assert record.status_code == 201, record.text
    rows = json.dumps(record.json()["record"], ensure_ascii=False)
    for name in ("a", "c"):
        assert bidders[name].credit_code in rows and str(PRICES[name]) in rows
    assert bidders["e"].credit_code not in rows  # withdrawn before the deadline: not part of the opening
    confirm = http.post(
        platform.url("trading", f"/lots/{lot_id}/opening/record/confirmation"), headers=bidders["a"].headers
    )
    assert confirm.status_code == 200, confirm.text
    objection = http.post(
        platform.url("trading", f"/lots/{lot_id}/opening/objections"),
        headers=bidders["c"].headers,
        json={"body": "开标记录中我单位工期应为180日历天，请核实。"},
    )
    assert objection.status_code == 201, objection.text
    answered = http.post(
        platform.url("trading", f"/lots/{lot_id}/opening/objections/{objection.json()['id']}/answer"),
        headers=agency,
        json={"answer": "经核实，开标记录所载工期为180日历天，与投标文件一致。"},
    )
    assert answered.status_code == 200, answered.text
    read = http.get(platform.url("trading", f"/lots/{lot_id}/opening/objections"), headers=operator)
    assert read.status_code == 200 and read.json()[0]["answer"]

    # -- the hall's live feed saw it all -------------------------------------------------------------
    wanted = {"bidder.signed_in", "bid.decrypted", "decryption.closed", "record.published", "objection.answered"}
    try:
        wait_for(lambda: True if wanted <= set(feed.names()) or feed.error else None, what="the feed's events")
        assert feed.error is None, feed.error
        assert wanted <= set(feed.names())
    finally:
        feed.close()

    # -- every step is in supervision's stored audit events ------------------------------------------
    with platform.engine.connect() as conn:
        emitted = {
            str(row.event_id): row.action
            for row in conn.execute(
                text("select event_id, action from trading.audit_outbox where project_id = :p or lot_id = :l"),
                {"p": project_id, "l": lot_id},
            )
        }

    def stored() -> list[dict[str, Any]] | None:
        events = all_audit_events(http, platform.url("supervision"), supervisor, page_size=200)
        mine = [e for e in events if str(e["event_id"]) in emitted]
        return mine if len(mine) == len(emitted) else None

    events = wait_for(stored, what="every trading event of the tender in supervision", timeout=30)
    actions = {e["action"] for e in events}
    for action in (
        "project.registered",
        "lot.created",
        "notice.published",
        "bid.submitted",
        "bid.modified",
        "bid.withdrawn",
        "opening.started",
        "opening.signed_in",
        "opening.bid_decrypted",
        "opening.decryption_failed",
        "opening.decryption_closed",
        "opening.record_confirmed",
        "document.downloaded",
        "opening.record_published",
        "opening.objection_raised",
        "opening.objection_answered",
    ):
        assert action in actions, f"{action} not stored; stored: {sorted(actions)}"
