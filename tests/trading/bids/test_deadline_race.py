"""Many bidders racing the deadline from parallel clients, over HTTP, against trading and supervision
served by real uvicorn servers on a database of their own (the bids must be committed for other
connections to see them, so the rolled-back test transaction cannot be used).

Properties: no version accepted with a database time at or after the deadline; every 201 is in the
database (none lost); every version in the database was answered with a 201 (none invented), once
(none duplicated); versions of each bid are 1..n without gaps; one Idempotency-Key yields at most one
receipt; no claim, temporary file or lock is left behind.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from services.supervision.app import create_app as supervision_app
from services.supervision.settings import SupervisionSettings
from services.trading.app import create_app as trading_app
from services.trading.settings import TradingSettings
from shared.auth.deps import Authenticator
from shared.auth.keys import StaticKeySource
from shared.auth.revocations import StaticRevocations
from shared.clients.supervision import SupervisionClient
from shared.envelope import build_plaintext_zip, seal, signer_for
from tests.support.pki import IssuedCert, issue_leaf, make_ca
from tests.support.served import Served, migrated_database
from tests.trading.bids.conftest import FORM, credit_code_for
from tests.trading.notices.conftest import PDF, on_offer_lot
from tests.trading.projects.test_router import AGENCY, project_body

BIDDERS = 24
ENVELOPES_PER_BIDDER = 3
CLIENTS = 16
DEADLINE_IN = timedelta(seconds=2)


@pytest.fixture(scope="module")
def race_db(database_server) -> Iterator[str]:
    with migrated_database(database_server, "bids", ("trading", "supervision")) as url:
        yield url


@dataclass
class Platform:
    trading: str
    engine: Engine
    storage: Path
    issuer: Any


@pytest.fixture
def platform(race_db, issuer, tmp_path) -> Iterator[Platform]:
    ca = make_ca("Race CA")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.pem)
    authenticator = {
        name: Authenticator(audience=name, keys=StaticKeySource([issuer.jwk]), revocations=StaticRevocations())
        for name in ("trading", "supervision")
    }
    supervision = supervision_app(
        SupervisionSettings(environment="test", database_url=race_db, relay_enabled=False, ledger_signer_enabled=False),
        authenticator=authenticator["supervision"],
    )
    trading = trading_app(
        TradingSettings(
            environment="test",
            database_url=race_db,
            relay_enabled=False,
            storage_dir=tmp_path / "blobs",
            trusted_ca_files=str(ca_file),
        ),
        authenticator=authenticator["trading"],
    )
    engine = create_engine(race_db)
    with Served(supervision) as sup, Served(trading) as trd:
        token = issuer.token(sub="svc-trading", typ="service", aud="supervision", scope="credit:read", lifetime=600)
        client = SupervisionClient(sup.url, token_provider=lambda: token, retries=0)
        trading.state.supervision = client
        platform = Platform(trd.url, engine, tmp_path / "blobs", issuer)
        platform.ca = ca  # type: ignore[attr-defined]
        try:
            yield platform
        finally:
            client.close()
    for app in (trading, supervision):
        app.state.engine.dispose()
    engine.dispose()


def _published_lot(platform: Platform) -> str:
    organiser = platform.issuer.headers(sub="agency-race", roles=["agency"], org=AGENCY, aud="trading")
    with httpx.Client(base_url=platform.trading, headers=organiser, timeout=30) as http:
        project = http.post("/projects", json=project_body()).json()
        lot = http.post(f"/projects/{project['id']}/lots", json=on_offer_lot()).json()
        notice = http.post(
            f"/projects/{project['id']}/notices", json={"title": "招标公告", "body": "公开招标", "lot_ids": [lot["id"]]}
        ).json()
        uploaded = http.post(
            f"/notices/{notice['id']}/documents",
            params={"filename": "招标文件.pdf"},
            content=PDF,
            headers={"Content-Type": "application/pdf"},
        )
        assert uploaded.status_code == 201, uploaded.text
        assert http.post(f"/notices/{notice['id']}/publish").status_code == 200
    return str(lot["id"])


@dataclass
class Attempt:
    bidder: int
    key: str
    status: int
    code: str | None
    receipt: dict[str, Any] | None
    replayed: bool


def _seal_all(platform: Platform, lot_id: str, workdir: Path) -> dict[int, tuple[str, str, list[bytes]]]:
    ca: IssuedCert = platform.ca  # type: ignore[attr-defined]
    sealed = {}
    for n in range(BIDDERS):
        code = credit_code_for(1000 + n)
        cert = issue_leaf(ca, common_name=f"竞速投标人{n}", subject_serial=code)
        envelopes = []
        for _ in range(ENVELOPES_PER_BIDDER):
            attachment = workdir / f"{uuid.uuid4().hex}.pdf"
            attachment.write_bytes(os.urandom(4096))
            plaintext = build_plaintext_zip(FORM, [attachment], out=workdir / f"{uuid.uuid4().hex}.zip")
            out, _ = seal(
                plaintext,
                out=workdir / f"{uuid.uuid4().hex}.jcb",
                lot_id=lot_id,
                bidder_credit_code=code,
                certificate_pem=cert.pem,
                signer=signer_for(cert.key),
            )
            envelopes.append(out.read_bytes())
        sealed[n] = (str(uuid.uuid4()), code, envelopes)
    return sealed


def test_many_bidders_race_the_deadline(platform: Platform, tmp_path: Path):
    lot_id = _published_lot(platform)
    sealed = _seal_all(platform, lot_id, tmp_path)
    with platform.engine.begin() as conn:
        deadline = conn.execute(
            text(
                "update trading.lots set documents_from = now() - interval '8 days', "
                "documents_until = now() - interval '1 second', bid_deadline = clock_timestamp() + :d "
                "where id = :id returning bid_deadline"
            ),
            {"d": DEADLINE_IN, "id": lot_id},
        ).scalar_one()

    attempts: list[Attempt] = []
    lock = threading.Lock()

    def send(http: httpx.Client, n: int, key: str, body: bytes) -> Attempt:
        org, code, _ = sealed[n]
        headers = {
            **platform.issuer.headers(sub=f"race-{n}", roles=["bidder"], org=org, aud="trading", lifetime=600),
            "X-Bidder-Credit-Code": code,
            "Idempotency-Key": key,
            "Content-Type": "application/octet-stream",
        }
        response = http.post(f"/lots/{lot_id}/bids", content=body, headers=headers)
        payload = response.json()
        attempt = Attempt(
            bidder=n,
            key=key,
            status=response.status_code,
            code=payload["error"]["code"] if response.status_code >= 400 else None,
            receipt=payload["receipt"] if response.status_code == 201 else None,
            replayed=response.headers.get("Idempotent-Replayed") == "true",
        )
        with lock:
            attempts.append(attempt)
        return attempt

    def bidder(n: int) -> None:
        """Keep modifying until the deadline refuses; every other attempt is sent twice at once
        with the same key (a client retrying while its first request is still running)."""
        _, _, envelopes = sealed[n]
        with httpx.Client(base_url=platform.trading, timeout=60) as http, ThreadPoolExecutor(2) as twin:
            round_ = 0
            while True:
                key = f"{n}-{round_}"
                body = envelopes[round_ % len(envelopes)]
                if round_ % 2:
                    futures = [twin.submit(send, http, n, key, body) for _ in range(2)]
                    results = [f.result() for f in futures]
                else:
                    results = [send(http, n, key, body)]
                round_ += 1
                if any(r.code == "bid_deadline_passed" for r in results):
                    return
                assert time.monotonic() < give_up, "the deadline never refused"

    give_up = time.monotonic() + 60
    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(bidder, n) for n in range(BIDDERS)]:
            future.result()

    # Every answer is one of the expected ones.
    unexpected = [
        a
        for a in attempts
        if (a.status, a.code) not in {(201, None), (409, "bid_deadline_passed"), (409, "idempotency_in_progress")}
    ]
    assert not unexpected, unexpected[:5]
    accepted = [a for a in attempts if a.status == 201 and not a.replayed]
    assert accepted, "nothing was accepted before the deadline"
    assert any(a.code == "bid_deadline_passed" for a in attempts)

    with platform.engine.connect() as conn:
        rows = conn.execute(
            text(
                "select v.receipt_no, v.version, v.accepted_at, b.bidder_org, b.latest_version, b.id "
                "from trading.bid_versions v join trading.bids b on b.id = v.bid_id where b.lot_id = :lot"
            ),
            {"lot": lot_id},
        ).all()
        leftover_claims = conn.execute(
            text("select count(*) from trading.bid_submission_keys where receipt_no is null")
        ).scalar_one()
        events = conn.execute(
            text("select count(*) from trading.audit_outbox where lot_id = :lot and object_type = 'bid'"),
            {"lot": lot_id},
        ).scalar_one()
        # Nothing left hanging: no session of this database sits in an unfinished transaction (the
        # relays' own session-level advisory lock is legitimate and cluster-wide lock counts would
        # also see other tests' databases).
        hanging = conn.execute(
            text(
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and state like 'idle in transaction%' and pid <> pg_backend_pid()"
            )
        ).scalar_one()

    # Late: none accepted with a database time at or after the deadline.
    assert all(row.accepted_at < deadline for row in rows)
    for a in accepted:
        assert a.receipt is not None
        recorded = datetime.strptime(a.receipt["recorded_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert recorded < deadline
    # Lost / invented / duplicated: the 201s and the rows are the same set, each once.
    answered = [a.receipt["receipt_no"] for a in accepted if a.receipt]
    assert len(answered) == len(set(answered))
    assert sorted(answered) == sorted(row.receipt_no for row in rows)
    # Replays returned the receipt their key produced.
    by_key: dict[str, set[str]] = defaultdict(set)
    for a in attempts:
        if a.receipt is not None:
            by_key[a.key].add(a.receipt["receipt_no"])
    assert all(len(receipts) == 1 for receipts in by_key.values())
    # Versions of each bid are 1..n with no gap, and the bid points at the last.
    versions: dict[Any, list[int]] = defaultdict(list)
    latest: dict[Any, int] = {}
    for row in rows:
        versions[row.id].append(row.version)
        latest[row.id] = row.latest_version
    for bid_id, numbers in versions.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
        assert latest[bid_id] == len(numbers)
    assert events == len(rows)  # one audit event per accepted version
    assert leftover_claims == 0  # every refused attempt freed its key
    assert hanging == 0
    tmp = platform.storage / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())
