"""Expert draws over a large pool: p50/p99 of ``POST /draws`` and of verification.

    python -m bench.bench_draw                              # 100,000 experts, 300 draws (a few minutes)
    python -m bench.bench_draw --experts 20000 --draws 100  # quicker
    python -m bench.bench_draw --reuse                      # keep the previous run's pool if the size matches

What runs: an embedded PostgreSQL under ``var/bench-draw-pgdata`` with a fresh database (every
service's migrations applied); a pool loaded with ``COPY`` (dummy ciphertext): ``--experts`` experts
with 1–3 of ``--specialties`` specialty codes whose popularity is skewed (Zipf, s = 1: the commonest
code is held by about a third of the pool), 5,000 employers (Zipf, s = 0.5), a past employment for
half of them, a declared conflict for 5 %, an unavailable period for 3 %, 2 % suspended, 0.5 %
banned by a bad-behaviour record in supervision.

Each draw goes through the real expert-pool app (TestClient: token check, validation, the two
transactions, the eligibility statement twice, the HTTP credit check, the writes) with supervision's
real app answering the credit checks in-process, as in production but without the network. A draw
asks for 7 members + 4 reserves on two lines (5 + 3 of a specialty picked by popularity, 2 + 1 of
another), with 20 bidders, a tenderee among 50 (so repeat service is judged) and an evaluation
within the next 60 days (so overlapping committees are judged).

Baseline, same run: the bare candidate scan for the same two specialties (``select id from experts
where specialties @> array[code]``, through the same engine), i.e. what any draw must at least read.
Verification: ``GET /draws/{id}/verify`` (recompute from the stored snapshot) and the offline
verifier's check of the published record (``tools.verify_draw.check``) on ``--verify`` draws.

Figures are printed and written to ``bench/results/draw.json``. Target: draw p99 <= 200 ms.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from services.expert_pool.app import create_app as expert_pool_app
from services.expert_pool.draws import service as draws
from services.expert_pool.settings import ExpertPoolSettings
from services.supervision.app import create_app as supervision_app
from services.supervision.settings import SupervisionSettings
from shared.auth import Principal
from shared.auth.deps import Authenticator
from shared.auth.keys import StaticKeySource
from shared.auth.revocations import StaticRevocations
from shared.clients.supervision import SupervisionClient
from shared.credit_code import make_credit_code
from shared.db import PROJECT_ROOT, make_engine
from shared.settings import normalise_database_url
from tests.support.inprocess import InProcessTransport
from tests.support.tokens import TestIssuer
from tools import devdb, migrate, verify_draw

RESULTS = Path(__file__).parent / "results" / "draw.json"
PGDATA = PROJECT_ROOT / "var" / "bench-draw-pgdata"
DATABASE = "bench_draw"
EMPLOYERS = 5_000
TENDEREES = 50
REGIONS = ["140502"] * 4 + ["140525", "140571", "140581", "140522", "140524", "140521"]
PLATFORM_OF_REGION = {
    "140502": "jincheng",
    "140525": "jincheng",
    "140571": "jincheng",
    "140581": "gaoping",
    "140522": "yangcheng",
    "140524": "lingchuan",
    "140521": "qinshui",
}


def organisation(n: int) -> str:
    return make_credit_code(f"91140500MA{n:07d}")


def specialty_codes(count: int) -> list[str]:
    return [f"B{n:03d}" for n in range(1, count + 1)]


def zipf_weights(count: int, s: float = 1.0) -> list[float]:
    return [1 / rank**s for rank in range(1, count + 1)]


# -- the pool --------------------------------------------------------------------------------------


@contextmanager
def database(reuse: bool) -> Iterator[str]:
    admin_url = devdb.start(PGDATA, database="postgres")
    admin = create_engine(normalise_database_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("select 1 from pg_database where datname = :d"), {"d": DATABASE}).first()
            if not (reuse and exists):
                conn.execute(text(f'drop database if exists "{DATABASE}" with (force)'))
                conn.execute(text(f'create database "{DATABASE}"'))
        url = devdb.start(PGDATA, database=DATABASE)
        migrate.upgrade_all(url)
        yield url
    finally:
        admin.dispose()
        devdb.stop(PGDATA)


def _copy(engine: Engine, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"copy {table} ({columns}) from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def load_pool(engine: Engine, experts: int, codes: list[str], rng: random.Random) -> dict[str, Any]:
    """Specialties, experts, history, conflicts, unavailability and bans; returns what draws need."""
    started = time.perf_counter()
    weights = zipf_weights(len(codes))
    # Milder for employers: the largest (a design institute, a university) has some 700 experts.
    employer_weights = zipf_weights(EMPLOYERS, 0.5)
    with engine.begin() as conn:
        for code in codes:
            conn.execute(
                text("insert into expert_pool.specialties (code, name, active) values (:c, :n, true)"),
                {"c": code, "n": f"评标专业{code}"},
            )
    now = datetime.now(UTC)
    expert_rows, employment_rows, conflict_rows, unavailable_rows, ids = [], [], [], [], []
    for n in range(experts):
        expert_id = uuid.uuid4()
        ids.append(expert_id)
        held = sorted(set(rng.choices(codes, weights=weights, k=rng.choice((1, 1, 2, 2, 3)))))
        region = rng.choice(REGIONS)
        status = "suspended" if rng.random() < 0.02 else "active"
        level = rng.choices(("senior", "associate_senior", "intermediate", "other"), weights=(35, 40, 20, 5))[0]
        employer = organisation(rng.choices(range(EMPLOYERS), weights=employer_weights)[0])
        expert_rows.append(
            (
                expert_id, PLATFORM_OF_REGION[region], region, f"专家{n}", b"\x00bench", f"{expert_id.hex}{n:032d}",
                "140502********0000", None, f"139{n:08d}", "高级工程师", level, rng.randrange(3, 36),
                "{" + ",".join(held) + "}", employer, "某单位", status, "测试" if status != "active" else None,
            )
        )  # fmt: skip
        if rng.random() < 0.5:
            ended = (now - timedelta(days=rng.randrange(30, 3650))).date()
            former = organisation(rng.choices(range(EMPLOYERS), weights=employer_weights)[0])
            employment_rows.append((uuid.uuid4(), expert_id, former, "前单位", ended - timedelta(days=2000), ended))
        if rng.random() < 0.05:
            conflict_rows.append(
                (uuid.uuid4(), expert_id, "relative", organisation(rng.randrange(EMPLOYERS)), "近亲属任职")
            )
        if rng.random() < 0.03:
            away = now + timedelta(days=rng.randrange(0, 60))
            unavailable_rows.append(
                (uuid.uuid4(), expert_id, away, away + timedelta(days=rng.randrange(1, 10)), "出差")
            )
    _copy(
        engine,
        "expert_pool.experts",
        "id, platform, region_code, name, id_number_ciphertext, id_number_hmac, id_number_masked, account_subject, "
        "phone, title, title_level, years_experience, specialties, employer_credit_code, employer_name, status, "
        "status_reason",
        expert_rows,
    )
    _copy(
        engine,
        "expert_pool.expert_employments",
        "id, expert_id, employer_credit_code, employer_name, started_on, ended_on",
        employment_rows,
    )
    _copy(
        engine,
        "expert_pool.expert_conflicts",
        "id, expert_id, kind, organisation_credit_code, description",
        conflict_rows,
    )
    _copy(engine, "expert_pool.expert_unavailability", "id, expert_id, starts_at, ends_at, reason", unavailable_rows)
    banned = rng.sample(ids, max(1, experts // 200))
    decided = (now - timedelta(days=10)).date()
    _copy(
        engine,
        "supervision.credit_records",
        "platform, subject_kind, subject_id, subject_name, law, act, legal_basis, decision, decision_number, "
        "department, decided_on, ban_start, ban_end, created_by",
        [
            ("jincheng", "expert", str(e), "某专家", "bidding", "收受财物", "招标投标法 第五十六条", "取消资格",
             f"晋〔2026〕{i}号", "晋城市发展和改革委员会", decided, decided, None, "bench")
            for i, e in enumerate(banned)
        ],
    )  # fmt: skip
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("expert_pool.experts", "expert_pool.expert_employments", "expert_pool.expert_conflicts",
                      "expert_pool.expert_unavailability", "supervision.credit_records"):  # fmt: skip
            conn.execute(text(f"vacuum (analyze) {table}"))
    print(f"  loaded {experts:,} experts in {time.perf_counter() - started:.1f} s", flush=True)
    return {"experts": experts}


def pool_size(engine: Engine) -> int:
    with engine.connect() as conn:
        exists = conn.execute(text("select to_regclass('expert_pool.experts') is not null")).scalar_one()
        return int(conn.execute(text("select count(*) from expert_pool.experts")).scalar_one()) if exists else 0


# -- the draws -------------------------------------------------------------------------------------


def apps(settings_url: str, issuer: TestIssuer) -> tuple[TestClient, TestClient]:
    def authenticator(audience: str) -> Authenticator:
        return Authenticator(audience=audience, keys=StaticKeySource([issuer.jwk]), revocations=StaticRevocations())

    supervision = TestClient(
        supervision_app(
            SupervisionSettings(
                environment="test", relay_enabled=False, ledger_signer_enabled=False, database_url=settings_url
            ),
            authenticator=authenticator("supervision"),
        )
    )
    supervision.__enter__()
    app = expert_pool_app(
        ExpertPoolSettings(environment="test", relay_enabled=False, database_url=settings_url),
        authenticator=authenticator("expert_pool"),
    )
    pool = TestClient(app)
    pool.__enter__()
    token = issuer.token(sub="svc-expert_pool", typ="service", aud="supervision", scope="credit:read", lifetime=3600)
    app.state.supervision = SupervisionClient(
        "http://supervision", transport=InProcessTransport(supervision), token_provider=lambda: token, retries=0
    )
    return pool, supervision


def request_body(rng: random.Random, codes: list[str], weights: list[float], index: int) -> dict[str, Any]:
    first = rng.choices(codes, weights=weights)[0]
    second = rng.choices(
        [c for c in codes if c != first], weights=[w for c, w in zip(codes, weights, strict=True) if c != first]
    )[0]
    start = (datetime.now(UTC) + timedelta(days=1 + rng.randrange(60), hours=rng.randrange(8))).replace(microsecond=0)
    bidders = sorted({organisation(rng.randrange(EMPLOYERS)) for _ in range(20)})
    return {
        "lot_id": str(uuid.uuid4()),
        "project_code": f"JC2026-{index:05d}",
        "platform": "jincheng",
        "region_code": "140502",
        "law": "bidding_law",
        "budget_fen": rng.randrange(10**8, 10**10),
        "evaluation_starts_at": start.isoformat(),
        "evaluation_ends_at": (start + timedelta(hours=8)).isoformat(),
        "specialties": [
            {"specialty": first, "count": 5, "reserves": 3},
            {"specialty": second, "count": 2, "reserves": 1},
        ],
        "tenderee_credit_code": organisation(EMPLOYERS + rng.randrange(TENDEREES)),
        "agency_credit_code": organisation(EMPLOYERS + TENDEREES + rng.randrange(20)),
        "bidder_credit_codes": bidders,
        "remote": False,
        "venues": [],
        "experts_outside_region": False,
        "requested_by": "bench",
    }


def ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def run(
    engine: Engine,
    pool: TestClient,
    issuer: TestIssuer,
    codes: list[str],
    draws_count: int,
    verify_count: int,
    rng: random.Random,
) -> dict[str, Any]:
    weights = zipf_weights(len(codes))
    headers = issuer.headers(sub="svc-trading", typ="service", aud="expert_pool", scope="experts:draw", lifetime=3600)
    bodies = [request_body(rng, codes, weights, i) for i in range(draws_count + 10)]
    for body in bodies[:10]:  # warm-up: connections, plans, imports
        pool.post("/draws", json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
    draw_times, baseline_times, drawn, refused = [], [], [], 0
    eligible, checked = [], []
    scan = text("select id from expert_pool.experts where specialties @> array[cast(:c as varchar(16))]")
    for body in bodies[10:]:
        gc.collect()  # outside the timed part: each call starts from the same collector state
        started = time.perf_counter()
        response = pool.post("/draws", json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
        draw_times.append(time.perf_counter() - started)
        if response.status_code != 201:
            refused += 1
            continue
        drawn.append(response.json()["id"])
        started = time.perf_counter()
        with engine.connect() as conn:
            for line in body["specialties"]:
                conn.execute(scan, {"c": line["specialty"]}).all()
        baseline_times.append(time.perf_counter() - started)
    with engine.connect() as conn:
        for draw_id in drawn:
            row = conn.execute(
                text("select exclusions, credit_checked from expert_pool.draws where id = :d"), {"d": draw_id}
            ).one()
            eligible.append(sum(v["eligible"] for v in row.exclusions.values()))
            checked.append(row.credit_checked)

    sample = drawn[:verify_count]
    verify_times, offline_times = [], []
    operator = Principal(subject="bench-op", typ="user", platform="jincheng", roles=frozenset({"operator"}))
    staff = issuer.headers(
        sub="bench-sup", roles=["supervisor"], platform="jincheng", aud="expert_pool", typ="user", lifetime=3600
    )
    with Session(engine) as session:
        for draw_id in sample:
            draws.reveal(session, uuid.UUID(draw_id), operator)
        session.commit()
    mismatches = 0
    for draw_id in sample:
        started = time.perf_counter()
        answer = pool.get(f"/draws/{draw_id}/verify", headers=staff).json()
        verify_times.append(time.perf_counter() - started)
        record = pool.get(f"/draws/{draw_id}/record", headers=staff).json()
        started = time.perf_counter()
        problems, _ = verify_draw.check(record)
        offline_times.append(time.perf_counter() - started)
        mismatches += (not answer["match"]) + bool(problems)
    draw_ms, baseline_ms = ms(draw_times), ms(baseline_times)
    return {
        "draws": len(draw_times),
        "draws_refused": refused,
        "draw": draw_ms,
        "eligible_per_draw_p50": statistics.median(eligible),
        "eligible_per_draw_max": max(eligible),
        "credit_checked_per_draw_p50": statistics.median(checked),
        "verify_endpoint": ms(verify_times),
        "verify_offline": ms(offline_times),
        "verification_mismatches": mismatches,
        "baseline_candidate_scan": baseline_ms,
        "draw_p50_ratio_to_baseline": round(draw_ms["p50_ms"] / baseline_ms["p50_ms"], 1),
        "draw_p99_ratio_to_baseline": round(draw_ms["p99_ms"] / baseline_ms["p99_ms"], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experts", type=int, default=100_000)
    parser.add_argument("--specialties", type=int, default=60)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--verify", type=int, default=50, help="draws revealed and verified (default 50)")
    parser.add_argument("--reuse", action="store_true", help="keep the pool of the previous run if the size matches")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    codes = specialty_codes(args.specialties)
    issuer = TestIssuer()
    with database(args.reuse) as url:
        engine = make_engine(normalise_database_url(url))
        size = pool_size(engine)
        if size == 0:
            load_pool(engine, args.experts, codes, rng)
        elif size == args.experts:
            print(f"  reusing the pool of {args.experts:,} experts", flush=True)
        else:
            # Supervision's credit records cannot be deleted (by design), so a pool is not reloaded in place.
            print(f"the kept pool has {size:,} experts, not {args.experts:,}: run without --reuse", file=sys.stderr)
            return 2
        with engine.begin() as conn:  # each run starts with no draws (re-used pools included)
            conn.execute(text("truncate expert_pool.draws cascade"))
        pool, supervision = apps(url, issuer)
        try:
            figures = {
                "experts": args.experts,
                "specialties": args.specialties,
                "machine_cpus": os.cpu_count(),
                **run(engine, pool, issuer, codes, args.draws, args.verify, rng),
            }
        finally:
            pool.__exit__(None, None, None)
            supervision.__exit__(None, None, None)
            engine.dispose()
    out = io.StringIO()
    json.dump(figures, out, indent=2, ensure_ascii=False)
    print(out.getvalue())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(out.getvalue() + "\n")
    print(f"written to {RESULTS}")
    return 0 if figures["verification_mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
