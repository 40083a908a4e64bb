"""Issue #4, done when: trading opens a lot, asks for a committee, one expert declines and is
replaced from the reserves, the committee checks in at two venues and scores, the report reaches
trading, and the draw's revealed seed reproduces the committee — over HTTP with the real processes.

The experts are real portal users (role ``expert``) linked to expert-pool records; every token is
obtained by password login, and trading talks to the expert pool with its own service token.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.db import PROJECT_ROOT
from tests.e2e.conftest import Platform
from tests.e2e.helpers import wait_for
from tests.e2e.tendering import login, open_tender, org_credit_code
from tests.expert_pool.factories import make_credit_code, make_id_number, make_phone

EVALUATION = {
    "method": "comprehensive_scoring",
    "criteria": [
        {"code": "price", "name": "投标报价", "kind": "price", "weight_pct": "40"},
        {"code": "technical", "name": "施工组织设计", "kind": "technical", "weight_pct": "40"},
        {"code": "commercial", "name": "业绩与信誉", "kind": "commercial", "weight_pct": "20"},
    ],
}
# Home regions: four experts of the city, four of Gaoping; the main venue is the city's, the
# sub-venue Gaoping's (远程异地评标).
REGIONS = ("140502",) * 4 + ("140581",) * 4


def _expert_user(platform: Platform, admin: dict[str, str], n: int) -> tuple[str, str]:
    """A portal account with role ``expert``; returns its user id (the token's ``sub``) and password."""
    password = f"Expert-{uuid.uuid4().hex}"
    user = platform.http.post(
        platform.url("portal", "/users"),
        headers=admin,
        json={
            "username": f"e2e-expert-{n}-{uuid.uuid4().hex[:6]}",
            "display_name": f"专家{n}",
            "password": password,
            "roles": ["expert"],
        },
    )
    assert user.status_code == 201, user.text
    return str(user.json()["id"]), password


def _venue(platform: Platform, headers: dict[str, str], name: str) -> str:
    venue = platform.http.post(
        platform.url("trading", "/venues"),
        headers=headers,
        json={"name": name, "kind": "evaluation_room", "location": "评标区", "capacity": 10},
    )
    assert venue.status_code == 201, venue.text
    return str(venue.json()["id"])


@pytest.mark.e2e
def test_draw_decline_replace_evaluate_report_and_verify(platform: Platform, tmp_path: Path) -> None:
    http = platform.http
    operator = login(platform, "demo-operator")
    admin = login(platform, "demo-admin")
    tender = open_tender(platform, tmp_path, evaluation=EVALUATION, names=("a", "b", "c"))
    lot_id = tender.lot_id

    # -- the pool: a specialty and eight qualified experts, each linked to a portal account --------
    specialty = f"T{uuid.uuid4().int % 10**8:08d}"
    created = http.post(
        platform.url("expert_pool", "/specialties"), headers=operator, json={"code": specialty, "name": "市政道路工程"}
    )
    assert created.status_code == 201, created.text
    experts: dict[str, dict[str, Any]] = {}  # expert id -> {"headers", "name"}
    for n, region in enumerate(REGIONS):
        subject, password = _expert_user(platform, admin, n)
        body = {
            "name": f"专家{n}号",
            "id_number": make_id_number(uuid.uuid4().int % 10**6, region=region),
            "region_code": region,
            "phone": make_phone(uuid.uuid4().int % 10**6),
            "title": "高级工程师",
            "title_level": "senior",
            "years_experience": 12 + n,
            "specialties": [specialty],
            "employer_credit_code": make_credit_code(uuid.uuid4().int % 10**6),
            "employer_name": f"晋城某设计院{n}",
            "employed_since": "2015-03-01",
            "account_subject": subject,
        }
        registered = http.post(platform.url("expert_pool", "/experts"), headers=operator, json=body)
        assert registered.status_code == 201, registered.text
        response = http.post(
            platform.url("portal", "/auth/login"),
            json={"username": _username_of(platform, admin, subject), "password": password},
        )
        assert response.status_code == 200, response.text
        experts[registered.json()["id"]] = {"headers": {"Authorization": f"Bearer {response.json()['access_token']}"}}

    main = _venue(platform, operator, f"晋城主场-{uuid.uuid4().hex[:4]}")
    sub = _venue(platform, login(platform, "gaoping-operator"), f"高平副场-{uuid.uuid4().hex[:4]}")
    venues = [
        {"venue_id": main, "platform": "jincheng", "role": "main", "seats": 3},
        {"venue_id": sub, "platform": "gaoping", "role": "sub", "seats": 2},
    ]

    # -- trading asks for the committee: 5 members and 2 reserves ------------------------------------
    starts = datetime.now(UTC) + timedelta(minutes=2)
    draw = http.post(
        platform.url("trading", f"/lots/{lot_id}/expert-draws"),
        headers={**tender.agency, "Idempotency-Key": f"e2e-{uuid.uuid4()}"},
        json={
            "specialties": [{"specialty": specialty, "count": 5, "reserves": 2}],
            "evaluation_starts_at": starts.isoformat(),
            "evaluation_ends_at": (starts + timedelta(hours=4)).isoformat(),
            "tenderee_credit_code": org_credit_code(platform, admin, tender.tenderee_org),
            "agency_credit_code": org_credit_code(platform, admin, tender.agency_org),
            "remote": True,
            "venues": venues,
        },
    )
    assert draw.status_code == 201, draw.text
    summary = draw.json()["draw"]
    draw_id = summary["id"]
    assert summary["members_required"] == 5 and summary["pending"] == 5 and summary["reserves_left"] == 2
    assert "name" not in draw.text  # sealed: counts and status only

    def pending(expert_id: str) -> dict[str, Any] | None:
        mine = http.get(platform.url("expert_pool", "/me/assignments"), headers=experts[expert_id]["headers"])
        assert mine.status_code == 200, mine.text
        return next((a for a in mine.json() if a["draw_id"] == draw_id and a["status"] == "pending"), None)

    # -- one expert declines; the first reserve is asked; everyone else accepts ----------------------
    asked = {e: a for e in experts if (a := pending(e)) is not None}
    assert len(asked) == 5
    decliner = sorted(asked)[0]
    declined = http.post(
        platform.url("expert_pool", f"/me/assignments/{asked[decliner]['id']}/decline"),
        headers=experts[decliner]["headers"],
        json={"reason": "当日另有公务，无法参加评标"},
    )
    assert declined.status_code == 200, declined.text
    replacement = wait_for(
        lambda: next((e for e in experts if e not in asked and pending(e) is not None), None), what="the reserve"
    )
    committee = [e for e in asked if e != decliner] + [replacement]
    venue_of: dict[str, str] = {}
    for expert_id in committee:
        assignment = pending(expert_id)
        assert assignment is not None
        accepted = http.post(
            platform.url("expert_pool", f"/me/assignments/{assignment['id']}/accept"),
            headers=experts[expert_id]["headers"],
        )
        assert accepted.status_code == 200, accepted.text
        venue_of[expert_id] = accepted.json()["venue_id"]
    assert set(venue_of.values()) == {main, sub}  # the committee sits at both venues
    status = http.get(platform.url("trading", f"/lots/{lot_id}/expert-draws"), headers=tender.agency)
    assert status.status_code == 200 and status.json()[0]["draw"]["accepted"] == 5

    # -- the remote evaluation ------------------------------------------------------------------------
    opened = http.post(
        platform.url("expert_pool", "/evaluations"), headers=operator, json={"lot_id": lot_id, "venues": venues}
    )
    assert opened.status_code == 201, opened.text
    evaluation = opened.json()["id"]
    path = f"/evaluations/{evaluation}"
    for expert_id in committee:
        evidence = hashlib.sha256(f"face:{expert_id}".encode()).hexdigest()
        checked = http.post(
            platform.url("expert_pool", f"{path}/check-ins"),
            headers=experts[expert_id]["headers"],
            json={
                "venue_id": venue_of[expert_id],
                "attestation": {
                    "device_id": f"venue-{venue_of[expert_id][:8]}/cam-1",
                    "method": "face",
                    "result": "passed",
                    "attested_at": datetime.now(UTC).isoformat(),
                    "evidence_ref": f"capture/{evidence[:16]}.jpg",
                    "evidence_sha256": evidence,
                },
            },
        )
        assert checked.status_code in (200, 201), checked.text
    leader = committee[0]
    # A strict majority (3 of 5) elects the leader; the election is over after the third vote.
    for expert_id in committee[:3]:
        voted = http.post(
            platform.url("expert_pool", f"{path}/leader-votes"),
            headers=experts[expert_id]["headers"],
            json={"candidate_expert_id": leader},
        )
        assert voted.status_code in (200, 201), voted.text
    started = http.post(platform.url("expert_pool", f"{path}/start"), headers=operator)
    assert started.status_code == 200, started.text

    bids = http.get(platform.url("expert_pool", f"{path}/bids"), headers=experts[leader]["headers"])
    assert bids.status_code == 200, bids.text
    bid_ids = [b["bid_id"] for b in bids.json()["opening"]["bids"]]
    assert len(bid_ids) == 3
    for rank, expert_id in enumerate(committee):
        scores = [
            {"bid_id": bid, "criterion": criterion, "points": f"{top - i * 2 - rank * 0.5:.2f}"}
            for i, bid in enumerate(bid_ids)
            for criterion, top in (("technical", 36), ("commercial", 18))
        ]
        signed = http.post(
            platform.url("expert_pool", f"{path}/sheets"),
            headers=experts[expert_id]["headers"],
            json={"scores": scores},
        )
        assert signed.status_code in (200, 201), signed.text
    completed = http.post(platform.url("expert_pool", f"{path}/complete"), headers=experts[leader]["headers"])
    assert completed.status_code in (200, 201), completed.text

    # -- the report reaches trading -------------------------------------------------------------------
    def delivered() -> dict[str, Any] | None:
        report = http.get(platform.url("trading", f"/lots/{lot_id}/evaluation-report"), headers=tender.agency)
        return report.json() if report.status_code == 200 else None

    report = wait_for(delivered, what="the evaluation report in trading", timeout=30)
    assert [c["rank"] for c in report["candidates"]] == [1, 2, 3]
    assert {c["bid_id"] for c in report["candidates"]} == set(bid_ids)
    assert report["evaluation_id"] == evaluation

    # -- the draw is revealed and verifies, on the server and with the offline tool ------------------
    verified = http.get(platform.url("expert_pool", f"/draws/{draw_id}/verify"), headers=operator)
    assert verified.status_code == 200, verified.text
    assert verified.json()["match"] is True, verified.text
    revealed = http.get(platform.url("expert_pool", f"/draws/{draw_id}/committee"), headers=operator)
    assert revealed.status_code == 200, revealed.text
    entries = revealed.json()["entries"]
    assert {str(e["expert_id"]) for e in entries if e["status"] == "accepted"} == set(committee)
    assert any(e["status"] == "declined" and str(e["expert_id"]) == decliner for e in entries)
    token = operator["Authorization"].removeprefix("Bearer ")
    tool = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.verify_draw",
            "--url",
            platform.url("expert_pool"),
            "--draw",
            draw_id,
            "--token",
            token,
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert tool.returncode == 0, tool.stdout + tool.stderr


def _username_of(platform: Platform, admin: dict[str, str], user_id: str) -> str:
    user = platform.http.get(platform.url("portal", f"/users/{user_id}"), headers=admin)
    assert user.status_code == 200, user.text
    return str(user.json()["username"])
