"""Before the bid deadline nobody learns who or how many obtained the tender documents
(电子招标投标办法 第二十一条; 招标投标法 第二十二条): not the tenderee, the agency, the trading
centre or the supervisor, through any endpoint they can call."""

from __future__ import annotations

import json
from typing import Any

from tests.trading.notices.conftest import PDF, upload
from tests.trading.watchers import secrecy_watchers

OBJECTION = {"body": "评分标准第3项排斥潜在投标人，请予修改。"}


def keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def test_no_endpoint_reveals_downloaders_before_the_deadline(tender, service, outbox, expect_error):
    client = tender.client
    project, notice = tender.project, tender.notice
    lot_ids = [lot["id"] for lot in tender.lots]
    clarification = tender.clarify(lot=1).json()
    watchers = secrecy_watchers(tender, service)
    reads = [
        f"/projects/{project['id']}",
        f"/projects/{project['id']}/lots",
        *[f"/lots/{lot}" for lot in lot_ids],
        f"/projects/{project['id']}/notices",
        f"/notices/{notice['id']}",
        f"/clarifications/{clarification['id']}",
        *[f"/lots/{lot}/objections" for lot in lot_ids],
    ]
    public = ["/public/notices?limit=100", f"/public/notices/{notice['id']}"]
    bystander = tender.bidder("bystander")  # another bidder that took nothing

    def snapshot() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for who, headers in watchers.items():
            for path in reads:
                response = client.get(path, headers=headers)
                if response.status_code == 200:
                    seen[f"{who} {path}"] = response.json()
        for path in public:
            seen[f"public {path}"] = client.get(path).json()
        seen["bystander notifications"] = client.get("/notifications", headers=bystander).json()
        seen["bystander objections"] = client.get("/objections", headers=bystander).json()
        return seen

    before = snapshot()
    assert len(before) >= 45  # every watcher reached every read it may make
    for name in ("a", "b", "c"):
        tender.download(name)
    secret = [*(tender.bidders[n] for n in ("a", "b", "c")), "bidder-a", "bidder-b", "bidder-c"]

    # Identical answers before and after three downloads: neither names nor a count can leak.
    assert snapshot() == before
    for body in before.values():
        assert not {k for k in keys(body) if "download" in k or "count" in k}

    for path in (f"/lots/{lot}/downloads" for lot in lot_ids):
        for who in ("operator", "supervisor"):
            expect_error(client.get(path, headers=watchers[who]), 403, "secret_until_deadline")

    # What the organiser's own actions answer says nothing about them either.
    organiser = tender.organiser
    answers = []
    draft = client.post(
        f"/projects/{project['id']}/notices",
        json={"title": "补充公告", "body": "正文", "lot_ids": [lot_ids[0]]},
        headers=organiser,
    )
    answers += [draft, upload(client, f"/notices/{draft.json()['id']}/documents", organiser, content=PDF + b"2")]
    created = client.post(f"/lots/{lot_ids[0]}/clarifications", json={"body": "更正"}, headers=organiser)
    answers += [
        created,
        upload(client, f"/clarifications/{created.json()['id']}/documents", organiser, content=PDF + b"3"),
        client.post(f"/clarifications/{created.json()['id']}/publish", headers=organiser),
    ]
    # A downloader objects: the organiser, staff and supervisors are not told who.
    objection = client.post(f"/lots/{lot_ids[0]}/objections", json=OBJECTION, headers=tender.bidder("a")).json()
    answers.append(client.post(f"/objections/{objection['id']}/reply", json={"reply": "答复"}, headers=organiser))
    for headers in watchers.values():
        answers += [client.get(path, headers=headers) for path in reads]
    answers += [client.get(path) for path in public]
    assert all(a.status_code in (200, 201) for a in answers[:7]), [a.text for a in answers[:7]]
    for answer in answers:
        for value in secret:
            assert value not in answer.text, (answer.request.url, value)
        if answer.status_code < 300:
            assert not {k for k in keys(answer.json()) if "download" in k or "count" in k or "notif" in k}

    # The clarification's audit event carries no count of the organisations notified.
    event = next(e for e in reversed(outbox()) if e["action"] == "clarification.published")
    assert not {k for k in keys(event["change"]) if "count" in k or "notif" in k or "org" in k}
    assert not any(value in json.dumps(event["change"]) for value in secret)
    # The downloaders themselves were notified (stored for each of them, shown to nobody else).
    for name in ("a", "b", "c"):
        notes = client.get("/notifications", headers=tender.bidder(name)).json()
        assert created.json()["id"] in {n["clarification_id"] for n in notes}
    assert client.get("/notifications", headers=bystander).json() == []
