"""What the tamper-evident ledger costs: ingestion with the ledger against plain INSERTs of the same
rows, a full verification, and proof latency on a ledger of a million events.

``python -m bench.bench_ledger [--events 1000000] [--ingest-events 20000] [--no-baseline]``. Figures
are printed and written to ``bench/results/ledger.json``.

The full verification is timed as shipped, then (unless ``--no-baseline``) with its fast path and
helper processes switched off: every leaf through the detailed per-leaf checks in one process, as
verification went before issue #5. Both must find the ledger intact; the ratio is the speed-up. (The
baseline already has the newer row fetching and leaf spelling: the code before #5 measured about
23,000 events/s on the 2-core reference machine.)

How the big ledger is built: ``generate_series`` inserts the audit event rows in one statement,
then the service's own ``append_rows`` (the code ingestion runs, minus HTTP) appends them in
batches of 50,000, each batch one transaction, so the stored tree is exactly what ingestion builds.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, create_engine, insert, select, text
from sqlalchemy.orm import Session

from services.supervision.app import create_app
from services.supervision.ingest import service as ingest_service
from services.supervision.ingest.models import StoredEvent
from services.supervision.ledger import fast_pass, leaf_hashes, merkle
from services.supervision.ledger.append import append_events, append_rows
from services.supervision.ledger.leaf_data import WIRE_COLUMNS
from services.supervision.ledger.models import LedgerLeaf
from services.supervision.ledger.tree_heads import sign_tree_head
from services.supervision.ledger.verify import verify_database
from services.supervision.settings import SupervisionSettings
from shared.auth.deps import Authenticator
from shared.auth.keys import StaticKeySource
from shared.auth.revocations import StaticRevocations
from shared.contracts.audit import AuditEventIn
from shared.db import make_engine
from shared.ed25519_keys import signing_key
from tests.supervision.events import make_event
from tests.support.tokens import TestIssuer
from tools import devdb, migrate

RESULTS = Path(__file__).parent / "results" / "ledger.json"
PGDATA = Path("var/bench-pgdata")
DATABASE = "bench_ledger"
BATCH = 500  # what a relay posts
BULK_BATCH = 50_000
PROOF_SAMPLES = 1000

# One statement makes the bulk rows: varied content, contiguous delivery_seq for one source so the
# verifier's sequence check holds. (Their digests are not over their change; nothing here checks it.)
BULK_INSERT = """
insert into supervision.audit_events (event_id, source, delivery_seq, occurred_at, actor, actor_role,
    organisation, platform, action, object_type, object_id, project_id, lot_id, change, digest,
    client_ip, user_agent, device_fingerprint, request_id)
select gen_random_uuid(), 'expert_pool', g, timestamptz '2026-11-01 09:00+00' + g * interval '1 second',
    'op-' || (g % 97), 'operator', 'org-' || (g % 13),
    (array['jincheng','gaoping','yangcheng','lingchuan','qinshui'])[1 + g % 5],
    'expert.updated', 'expert', 'e-' || g, 'P-' || (g % 1000), null,
    jsonb_build_object('name', '专家 ' || g, 'specialties', jsonb_build_array('A' || (g % 40)), 'active', g % 2 = 0),
    encode(sha256(g::text::bytea), 'hex'), '10.0.' || (g % 256) || '.' || (g % 251), 'bench', null, 'req-' || g
from generate_series(cast(:first as integer), cast(:last as integer)) as g  -- small counts would bind as smallint
"""


def percentiles_ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, migrated database on the benchmark's embedded server, stopped afterwards."""
    pgdata = PGDATA.resolve()
    admin_url = devdb.start(pgdata, database="postgres")
    admin = create_engine(admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{DATABASE}" with (force)'))
            conn.execute(text(f'create database "{DATABASE}"'))
        url = devdb.start(pgdata, database=DATABASE)
        migrate.upgrade_all(url, services=("supervision",))
        yield url
    finally:
        admin.dispose()
        devdb.stop(pgdata)


def wire_batches(count: int) -> list[list[dict[str, Any]]]:
    events = [make_event("trading", n, change={"n": n, "name": f"开标室 {n}"}) for n in range(1, count + 1)]
    return [events[i : i + BATCH] for i in range(0, count, BATCH)]


def plain_insert_rate(engine: Engine, batches: list[list[dict[str, Any]]]) -> float:
    """The same rows INSERTed into a copy of the table, a transaction per batch: no HTTP, no checks, no ledger."""
    with engine.begin() as conn:
        conn.execute(text("create schema if not exists bench"))
        conn.execute(text("drop table if exists bench.audit_events"))
        conn.execute(text("create table bench.audit_events (like supervision.audit_events including all)"))
    table = StoredEvent.metadata.tables["supervision.audit_events"].to_metadata(MetaData(), schema="bench")
    prepared = [[AuditEventIn(**event).model_dump() for event in batch] for batch in batches]
    start = time.perf_counter()
    for rows in prepared:
        with engine.begin() as conn:
            conn.execute(insert(table), rows)
    return sum(map(len, batches)) / (time.perf_counter() - start)


def ingest_rate(
    client: TestClient, headers: dict[str, str], batches: list[list[dict[str, Any]]]
) -> tuple[float, float]:
    """Events per second through POST /ingest/events, and the share of that time spent appending."""
    in_ledger = 0.0

    def timed(session: Session, ids: Any) -> Any:
        nonlocal in_ledger
        start = time.perf_counter()
        try:
            return append_events(session, ids)
        finally:
            in_ledger += time.perf_counter() - start

    with patch.object(ingest_service, "append_events", timed):
        start = time.perf_counter()
        for batch in batches:
            response = client.post("/ingest/events", json={"events": batch}, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"ingestion failed: {response.text}")
        elapsed = time.perf_counter() - start
    return sum(map(len, batches)) / elapsed, in_ledger / elapsed


def build_bulk(engine: Engine, total: int) -> tuple[float, float]:
    """Grow the ledger to ``total`` leaves; returns (row generation s, append events/s)."""
    with Session(engine) as session:
        have = session.scalar(select(LedgerLeaf.leaf_index).order_by(LedgerLeaf.leaf_index.desc()).limit(1))
    start_size = (have or -1) + 1
    missing = total - start_size
    if missing <= 0:
        return 0.0, 0.0
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(BULK_INSERT), {"first": 1, "last": missing})
        conn.execute(text("analyze supervision.audit_events"))
    generated = time.perf_counter() - start
    start = time.perf_counter()
    last_id = appended = 0
    while True:
        with Session(engine) as session, session.begin():
            rows = list(
                session.connection()
                .execute(
                    select(StoredEvent.id, *WIRE_COLUMNS)
                    .where(StoredEvent.id > last_id, StoredEvent.source == "expert_pool")
                    .order_by(StoredEvent.id)
                    .limit(BULK_BATCH)
                )
                .mappings()
            )
            if not rows:
                break
            append_rows(session, rows)
            last_id, appended = rows[-1]["id"], appended + len(rows)
        print(f"  appended {appended:>9,} of {missing:,}", end="\r", flush=True)
    print()
    with engine.begin() as conn:
        conn.execute(text("analyze supervision.ledger_leaves; analyze supervision.ledger_nodes"))
    return generated, missing / (time.perf_counter() - start)


def verification_rate(engine: Engine, public_key: Ed25519PublicKey) -> tuple[float, float]:
    """(events/s, seconds) of one full verification, which must find the ledger intact."""
    start = time.perf_counter()
    report = verify_database(engine, public_key)
    elapsed = time.perf_counter() - start
    if not report.ok:
        print(report.render())
        raise RuntimeError("the benchmark ledger failed verification; the figures would be meaningless")
    return report.leaves / elapsed, elapsed


def detailed_only_rate(engine: Engine, public_key: Ed25519PublicKey) -> tuple[float, float]:
    """The same verification with the fast path and the helper processes switched off."""
    with (
        patch.object(fast_pass, "check_run", lambda *_: None),
        patch.object(leaf_hashes, "HELPERS_FROM", sys.maxsize),
    ):
        return verification_rate(engine, public_key)


def proof_latencies(
    client: TestClient, headers: dict[str, str], engine: Engine, size: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    rng = random.Random(6962)
    indexes = rng.sample(range(size), PROOF_SAMPLES)
    with engine.connect() as conn:
        event_ids = {
            row.leaf_index: str(row.event_id)
            for row in conn.execute(
                text(
                    "select l.leaf_index, e.event_id from supervision.ledger_leaves l "
                    "join supervision.audit_events e on e.id = l.audit_event_id where l.leaf_index = any(:i)"
                ),
                {"i": indexes},
            )
        }

    def timed(path: str) -> tuple[float, Any]:
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise RuntimeError(f"proof request failed: {response.text}")
        return elapsed, response.json()

    inclusion, consistency = [], []
    for index in indexes:
        elapsed, body = timed(f"/ledger/events/{event_ids[index]}/inclusion-proof")
        inclusion.append(elapsed)
        path = [bytes.fromhex(h) for h in body["audit_path"]]
        if not merkle.verify_inclusion(
            index, size, bytes.fromhex(body["leaf_hash"]), path, bytes.fromhex(body["root_hash"])
        ):
            raise RuntimeError(f"inclusion proof for leaf {index} does not verify")
    for first in (rng.randrange(1, size) for _ in range(PROOF_SAMPLES)):
        elapsed, body = timed(f"/ledger/consistency-proof?first={first}")
        consistency.append(elapsed)
        proof = [bytes.fromhex(h) for h in body["proof"]]
        roots = bytes.fromhex(body["first_root"]), bytes.fromhex(body["second_root"])
        if not merkle.verify_consistency(first, size, proof, *roots):
            raise RuntimeError(f"consistency proof {first} -> {size} does not verify")
    return percentiles_ms(inclusion), percentiles_ms(consistency)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="ledger size for proofs and verification")
    parser.add_argument("--ingest-events", type=int, default=20_000, help="events posted through the API")
    parser.add_argument("--no-baseline", action="store_true", help="skip timing the verification without its fast path")
    args = parser.parse_args()
    if args.events < args.ingest_events:
        parser.error("--events must be at least --ingest-events")
    issuer = TestIssuer()
    relay = issuer.headers(sub="relay", roles=[], aud="supervision", typ="service", scope="audit:ingest:trading")
    supervisor = issuer.headers(sub="sup", roles=["supervisor"], aud="supervision", typ="user")
    figures: dict[str, Any] = {}
    with fresh_database() as url:
        settings = SupervisionSettings(environment="test", relay_enabled=False, database_url=url)
        engine = make_engine(settings.sqlalchemy_url())
        authenticator = Authenticator(
            audience="supervision", keys=StaticKeySource([issuer.jwk]), revocations=StaticRevocations()
        )
        app = create_app(settings, engine=engine, authenticator=authenticator)
        batches = wire_batches(args.ingest_events)
        with TestClient(app) as client:
            print(f"ingesting {args.ingest_events:,} events in batches of {BATCH} …")
            baseline = plain_insert_rate(engine, batches)
            rate, ledger_share = ingest_rate(client, relay, batches)
            figures |= {
                "ingest_events": args.ingest_events,
                "ingest_batch_size": BATCH,
                "ingest_with_ledger_events_per_s": round(rate),
                "plain_insert_events_per_s": round(baseline),
                "ingest_ratio_to_plain_insert": round(rate / baseline, 3),
                "ledger_append_share_of_ingest_time": round(ledger_share, 3),
            }
            print(f"building a ledger of {args.events:,} events …")
            generated, bulk_rate = build_bulk(engine, args.events)
            figures |= {
                "ledger_events": args.events,
                "bulk_build": "generate_series rows, then append_rows() in 50,000-row transactions",
                "bulk_rows_generated_s": round(generated, 1),
                "bulk_append_events_per_s": round(bulk_rate),
            }
            with Session(engine) as session, session.begin():
                start = time.perf_counter()
                sign_tree_head(session, signing_key(settings.ledger_signing_key))
                figures["sign_tree_head_ms"] = round((time.perf_counter() - start) * 1000, 2)
            print(f"proof latency over {PROOF_SAMPLES} random requests each …")
            (inc50, inc99), (con50, con99) = proof_latencies(client, supervisor, engine, args.events)
            figures |= {
                "inclusion_proof_p50_ms": round(inc50, 2),
                "inclusion_proof_p99_ms": round(inc99, 2),
                "consistency_proof_p50_ms": round(con50, 2),
                "consistency_proof_p99_ms": round(con99, 2),
            }
        public_key = signing_key(settings.ledger_signing_key).public_key()
        print("verifying the whole ledger …")
        rate, elapsed = verification_rate(engine, public_key)
        figures |= {"full_verification_events_per_s": round(rate), "full_verification_s": round(elapsed, 1)}
        if not args.no_baseline:
            print("… and again with every leaf through the detailed checks, in one process (the baseline) …")
            baseline_rate, baseline_elapsed = detailed_only_rate(engine, public_key)
            figures |= {
                "detailed_checks_only_events_per_s": round(baseline_rate),
                "detailed_checks_only_s": round(baseline_elapsed, 1),
                "full_verification_speedup": round(rate / baseline_rate, 2),
            }
        engine.dispose()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    print(f"written to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
