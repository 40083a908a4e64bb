"""Steps of a tender the end-to-end tests share: bidders with certificates, bids sealed by the
reference bidder tool, and the clock shims that compress the law's periods (see
test_tender_to_opening.py for why).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from sqlalchemy import text

from shared.db import PROJECT_ROOT
from tests.e2e.conftest import Platform
from tests.e2e.helpers import new_credit_code, wait_for
from tests.support import pki
from tests.trading.notices.conftest import PDF
from tools.seed import DEMO_PASSWORD

BIDDERS = ("a", "b", "c", "d", "e")
PRICES = {"a": 412_000_000, "b": 405_500_000, "c": 398_000_000, "d": 420_000_000, "e": 401_000_000}


@dataclass
class Bidder:
    name: str
    org_id: str
    credit_code: str
    headers: dict[str, str]
    cert_file: Path
    key_file: Path


def login(platform: Platform, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    response = platform.http.post(
        platform.url("portal", "/auth/login"), json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def org_of(platform: Platform, headers: dict[str, str]) -> str:
    me = platform.http.get(platform.url("portal", "/me"), headers=headers)
    assert me.status_code == 200, me.text
    return str(me.json()["organisation_id"])


def new_bidder(platform: Platform, admin: dict[str, str], name: str, workdir: Path) -> Bidder:
    """A bidder organisation and user in the portal, and a certificate from a recognised CA naming
    its credit code (what bid envelopes are signed with)."""
    code = new_credit_code()
    org = platform.http.post(
        platform.url("portal", "/organisations"),
        headers=admin,
        json={"name": f"投标人{name}建设有限公司", "credit_code": code, "org_type": "bidder"},
    )
    assert org.status_code == 201, org.text
    username = f"e2e-bidder-{name}-{uuid.uuid4().hex[:6]}"
    password = f"Bidder-{uuid.uuid4().hex}"
    user = platform.http.post(
        platform.url("portal", "/users"),
        headers=admin,
        json={
            "username": username,
            "display_name": f"投标人{name}",
            "password": password,
            "roles": ["bidder"],
            "organisation_id": org.json()["id"],
        },
    )
    assert user.status_code == 201, user.text
    leaf = pki.issue_leaf(platform.trusted_cas[0], common_name=f"投标人{name}建设有限公司", subject_serial=code)
    cert_file, key_file = workdir / f"{name}.pem", workdir / f"{name}.key"
    cert_file.write_bytes(leaf.pem)
    key_file.write_bytes(
        leaf.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Bidder(name, org.json()["id"], code, login(platform, username, password), cert_file, key_file)


def bidder_tool(*args: str | Path) -> str:
    """The free reference bidder tool, as a bidder runs it (电子招标投标办法 第十六条)."""
    done = subprocess.run(
        [sys.executable, "-m", "tools.bidder", *map(str, args)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def seal(bidder: Bidder, lot_id: str, workdir: Path, price: int, tag: str) -> Path:
    form = workdir / f"{bidder.name}-{tag}-form.json"
    form.write_text(
        json.dumps(
            {
                "price_fen": price,
                "duration_days": 180,
                "quality": "合格",
                "project_manager": {"name": f"项目经理{bidder.name}", "certificate_no": f"晋1140508{tag}{bidder.name}"},
            },
            ensure_ascii=False,
        )
    )
    attachment = workdir / f"{bidder.name}-{tag}-技术标.pdf"
    attachment.write_bytes(PDF + uuid.uuid4().bytes)
    out = workdir / f"{bidder.name}-{tag}.jcb"
    bidder_tool(
        "seal",
        "--lot",
        lot_id,
        "--credit-code",
        bidder.credit_code,
        "--form",
        form,
        "--attach",
        attachment,
        "--cert",
        bidder.cert_file,
        "--key",
        bidder.key_file,
        "--device-fingerprint",
        f"sha256:{bidder.name * 16}",
        "--author",
        f"编制人{bidder.name}",
        "--out",
        out,
    )
    return out


def submit(platform: Platform, bidder: Bidder, lot_id: str, envelope: Path, **headers: str) -> httpx.Response:
    return platform.http.post(
        platform.url("trading", f"/lots/{lot_id}/bids"),
        content=envelope.read_bytes(),
        headers={
            **bidder.headers,
            "Content-Type": "application/octet-stream",
            "X-Bidder-Credit-Code": bidder.credit_code,
            **headers,
        },
    )


def db_now(platform: Platform) -> datetime:
    with platform.engine.connect() as conn:
        value: datetime = conn.execute(text("select clock_timestamp()")).scalar_one()
    return value


class FeedListener(threading.Thread):
    """Reads the opening hall's server-sent events, as a bidder's browser would, until the feed
    ends or :meth:`close` hangs up (the feed of an unfinished opening stays open for minutes)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.headers = url, headers
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.error: BaseException | None = None
        self._client = httpx.Client(timeout=httpx.Timeout(10.0, read=120.0))
        self._closed = threading.Event()

    def run(self) -> None:
        try:
            with self._client.stream("GET", self.url, headers=self.headers) as reply:
                assert reply.status_code == 200, reply.read()
                event, data = "message", ""
                for line in reply.iter_lines():
                    if line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        data += line.split(":", 1)[1].strip()
                    elif line == "" and data:
                        self.events.append((event, json.loads(data)))
                        if event == "end":
                            return
                        event, data = "message", ""
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            if not self._closed.is_set():
                self.error = exc

    def close(self) -> None:
        self._closed.set()
        self._client.close()
        self.join(10)

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


def pass_deadline(platform: Platform, lot_id: str, *, seconds: int = 3) -> datetime:
    """Compress the bidding period: documents were on offer for the last 7 days and the deadline is
    ``seconds`` from the database's now. Returns the deadline once the database clock has passed it."""
    with platform.engine.begin() as conn:
        deadline: datetime = conn.execute(
            text(
                "update trading.lots set documents_from = t.now - interval '7 days', "
                "documents_until = t.now - interval '1 second', bid_deadline = t.now + make_interval(secs => :s) "
                "from (select clock_timestamp() as now) t where id = :id returning bid_deadline"
            ),
            {"id": lot_id, "s": seconds},
        ).scalar_one()
    wait_for(lambda: True if db_now(platform) >= deadline else None, what="the bid deadline", timeout=seconds + 10)
    return deadline


def end_decryption_window(platform: Platform, lot_id: str) -> None:
    """Compress the decryption window (at least 10 minutes by law's practice): it ends now."""
    with platform.engine.begin() as conn:
        conn.execute(
            text("update trading.openings set decryption_ends_at = clock_timestamp() where lot_id = :id"),
            {"id": lot_id},
        )


def org_credit_code(platform: Platform, headers: dict[str, str], org_id: str) -> str:
    found = platform.http.get(platform.url("portal", f"/organisations/{org_id}"), headers=headers)
    assert found.status_code == 200, found.text
    return str(found.json()["credit_code"])


@dataclass
class OpenedTender:
    project_id: str
    lot_id: str
    agency: dict[str, str]
    tenderee_org: str
    agency_org: str
    bidders: dict[str, Bidder]


def open_tender(
    platform: Platform, workdir: Path, *, evaluation: dict[str, Any], names: tuple[str, ...]
) -> OpenedTender:
    """Register, publish, bid with every named bidder, pass the deadline, open, decrypt every bid and
    publish the record: the state a lot is in when its committee is drawn and evaluates it."""
    http = platform.http
    admin, agency = login(platform, "demo-admin"), login(platform, "demo-agency")
    tenderee_org, agency_org = org_of(platform, login(platform, "demo-tenderee")), org_of(platform, agency)
    project = http.post(
        platform.url("trading", "/projects"),
        headers=agency,
        json={
            "name": f"E2E 评标项目 {uuid.uuid4().hex[:6]}",
            "category_code": "engineering_works",
            "region_code": "140502",
            "estimated_price_fen": 500_000_000,
            "funding_source": "财政资金",
            "tenderee_org": tenderee_org,
            "agency_org": agency_org,
        },
    )
    assert project.status_code == 201, project.text
    now = datetime.now(UTC)
    lot = http.post(
        platform.url("trading", f"/projects/{project.json()['id']}/lots"),
        headers=agency,
        json={
            "name": "1标段",
            "estimated_price_fen": 500_000_000,
            "procurement_method": "open_tender",
            "evaluation": evaluation,
            "documents_from": (now - timedelta(hours=1)).isoformat(),
            "documents_until": (now + timedelta(days=6)).isoformat(),
            "bid_deadline": (now + timedelta(days=21)).isoformat(),
            "deposit": {"required": False},
        },
    )
    assert lot.status_code == 201, lot.text
    lot_id = lot.json()["id"]
    notice = http.post(
        platform.url("trading", f"/projects/{project.json()['id']}/notices"),
        headers=agency,
        json={"title": "招标公告", "body": "现对该项目进行公开招标。", "lot_ids": [lot_id]},
    )
    assert notice.status_code == 201, notice.text
    document = http.post(
        platform.url("trading", f"/notices/{notice.json()['id']}/documents"),
        params={"filename": "招标文件.pdf"},
        content=PDF,
        headers={**agency, "Content-Type": "application/pdf"},
    )
    assert document.status_code == 201, document.text
    assert (
        http.post(platform.url("trading", f"/notices/{notice.json()['id']}/publish"), headers=agency).status_code == 200
    )
    bidders = {name: new_bidder(platform, admin, name, workdir) for name in names}
    envelopes = {}
    for index, (name, bidder) in enumerate(bidders.items()):
        envelopes[name] = seal(bidder, lot_id, workdir, 400_000_000 + index * 3_000_000, "v1")
        response = submit(platform, bidder, lot_id, envelopes[name])
        assert response.status_code == 201, response.text
    pass_deadline(platform, lot_id)
    assert http.post(platform.url("trading", f"/lots/{lot_id}/opening/start"), headers=agency).status_code == 200
    for name, bidder in bidders.items():
        assert http.post(platform.url("trading", f"/lots/{lot_id}/opening/sign-in"), headers=bidder.headers).is_success
        release = json.loads(bidder_tool("release-key", f"{envelopes[name]}.key.json"))
        opened = http.post(platform.url("trading", f"/lots/{lot_id}/opening/key"), headers=bidder.headers, json=release)
        assert opened.status_code == 200, opened.text
    closed = http.post(platform.url("trading", f"/lots/{lot_id}/opening/close"), headers=agency, json={})
    assert closed.status_code == 200, closed.text
    record = http.post(platform.url("trading", f"/lots/{lot_id}/opening/record"), headers=agency)
    assert record.status_code == 201, record.text
    return OpenedTender(project.json()["id"], lot_id, agency, tenderee_org, agency_org, bidders)
