"""How the audit-trail queries scale: p50/p99 of the real endpoints over a large ledger.

    python -m bench.bench_trail                     # 1,000,000 events (a few minutes)
    python -m bench.bench_trail --events 10000000   # the issue's target, p99 <= 100 ms at 10M (~30 min)
    python -m bench.bench_trail --reuse             # keep the previous run's events if the count matches
    python -m bench.bench_trail --explain           # also print the plan of every query in the mix

Events are generated inside PostgreSQL (``INSERT ... SELECT generate_series``) in a dedicated embedded
cluster under ``var/bench-trail-pgdata``; the secondary indexes are dropped for the load and rebuilt
after it (as a restore would), then the table is ANALYZEd. The ledger grows at a fixed rate (one
event every 9.5 s, about 10M in three years), so a bigger ``--events`` means more history, not a
denser day: "the last 24 hours" holds the same number of events at 1M and at 10M, which is what
"response time stays flat as the ledger grows" is about.

Every figure is measured through the real app (token check, validation, query, JSON) with TestClient
and a supervisor token, and set against a baseline measured in the same run: a primary-key lookup
through the same app and token (``GET /audit/events?after=<id-1>&limit=1``), the cheapest request
the trail can answer. Python's full garbage collections (60-80 ms each here) land on whichever call
is running; p99 is given as measured and without the calls one hit. Results go to
``bench/results/trail.json``; ``--explain`` prints the plan of every statement of every shape.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import indent
from typing import Any, NamedTuple

from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event, text

from services.supervision.app import create_app
from services.supervision.settings import SupervisionSettings
from shared.auth.deps import Authenticator
from shared.auth.keys import StaticKeySource
from shared.auth.revocations import StaticRevocations
from shared.db import make_engine
from shared.settings import normalise_database_url
from tests.support.tokens import TestIssuer
from tools import devdb, migrate

PGDATA = Path("var/bench-trail-pgdata")
DATABASE = "trail_bench"
RESULTS = Path(__file__).parent / "results" / "trail.json"
TABLE = "supervision.audit_events"

START = datetime(2024, 1, 1, tzinfo=UTC)
SECONDS_PER_EVENT = 9.5
EVENTS_PER_PROJECT_BLOCK = 50_000  # a block of consecutive events shares 100 interleaved projects
PROJECTS_PER_BLOCK = 100
ORGANISATIONS = 5_000
ACTORS = 20_000
RARE_EVERY = 10_007  # one complaint in this many events: a rare action and a rare source

# (action, source, actor role, share of events in %, tied to a project)
ACTIONS: list[tuple[str, str, str, int, bool]] = [
    ("bid.submitted", "trading", "bidder", 25, True),
    ("bid.decrypted", "trading", "bidder", 12, True),
    ("document.downloaded", "trading", "bidder", 15, True),
    ("notice.published", "trading", "agency", 6, True),
    ("project.registered", "trading", "tenderee", 2, True),
    ("lot.opened", "trading", "agency", 4, True),
    ("opening.signed", "trading", "bidder", 6, True),
    ("expert.drawn", "expert_pool", "agency", 2, True),
    ("evaluation.scored", "expert_pool", "expert", 10, True),
    ("evaluation.reported", "expert_pool", "expert", 2, True),
    ("award.announced", "trading", "agency", 2, True),
    ("contract.signed", "trading", "tenderee", 2, True),
    ("user.login", "portal", "bidder", 10, False),
    ("venue.booked", "trading", "agency", 1, False),
    ("specialty.updated", "expert_pool", "operator", 1, False),
]

# A project's platform, by project number mod 25: the city trades 60 % of projects, each county 8-12 %.
PLATFORM_OF = (
    "case when {m} < 15 then 'jincheng' when {m} < 18 then 'gaoping' when {m} < 21 then 'yangcheng'"
    " when {m} < 23 then 'lingchuan' else 'qinshui' end"
)


def _array(values: list[str]) -> str:
    return "array[" + ",".join(f"'{v}'" for v in values) + "]"


def _pick(seed: int, n: int) -> str:
    """SQL for a pseudo-random integer in [0, n) from row number ``i``, independent for each seed."""
    return f"((hashint8extended(i, {seed}) & 9223372036854775807) % {n})"


def _slots(column: int) -> str:
    """A 100-element SQL array: indexed by a uniform pick, it draws values with ACTIONS' shares."""
    values: list[str] = []
    for row in ACTIONS:
        values += [str(row[column])] * row[3]
    if len(values) != 100:
        raise ValueError("ACTIONS shares must add up to 100")
    return _array(values)


def insert_sql() -> str:
    """One statement that writes events ``:lo`` to ``:hi``; every value is a function of the row number."""
    with_project = _array([a for a, _, _, _, tied in ACTIONS if tied])
    # Only this module's constants are formatted in; the row range is bound.
    return f"""
    insert into {TABLE} (id, event_id, source, delivery_seq, occurred_at, received_at, actor, actor_role,
        organisation, platform, action, object_type, object_id, project_id, lot_id, change, digest,
        client_ip, user_agent, device_fingerprint, request_id)
    select i, gen_random_uuid(), a.source, i, r.received - r.delay, r.received, 'user-' || {_pick(2, ACTORS)},
        a.role, 'org-' || {_pick(3, ORGANISATIONS)},
        case when a.action = 'specialty.updated' then null
             when a.tied then {PLATFORM_OF.format(m="p.num % 25")} else {PLATFORM_OF.format(m="i % 25")} end,
        a.action, split_part(a.action, '.', 1), split_part(a.action, '.', 1) || '-' || (i / 3),
        case when a.tied then p.code end, case when a.tied then p.code || '-L' || ({_pick(5, 3)} + 1) end,
        jsonb_build_object('n', i, 'note', '开标记录'), md5(i::text) || md5((i + 1)::text),
        '10.' || (i % 250) || '.' || (i / 250 % 250) || '.7', 'Mozilla/5.0 (Windows NT 10.0) bench',
        'fp-' || {_pick(2, ACTORS)}, 'req-' || i
    from generate_series(cast(:lo as bigint), cast(:hi as bigint)) as i
    cross join lateral (
        select timestamptz '{START.isoformat()}' + i * interval '{SECONDS_PER_EVENT} seconds' as received,
               -- one event in 500 arrives up to three days late (a relay outage); the rest within seconds
               case when i % 500 = 0 then (i % 72 + 1) * interval '1 hour'
                    else (i % 5) * interval '1 second' end as delay
    ) as r
    cross join lateral (
        select (i / {EVENTS_PER_PROJECT_BLOCK}) * {PROJECTS_PER_BLOCK} + {_pick(4, PROJECTS_PER_BLOCK)} as num
    ) as n
    cross join lateral (select n.num, 'JC' || lpad(n.num::text, 7, '0') as code) as p
    cross join lateral (select {_pick(1, 100)} as slot) as k
    cross join lateral (
        select case when i % {RARE_EVERY} = 0 then 'complaint.filed' else ({_slots(0)})[1 + k.slot] end
                   as action,
               case when i % {RARE_EVERY} = 0 then 'supervision' else ({_slots(1)})[1 + k.slot] end
                   as source,
               case when i % {RARE_EVERY} = 0 then 'bidder' else ({_slots(2)})[1 + k.slot] end as role
    ) as s
    cross join lateral (
        select s.action, s.source, s.role, s.action = 'complaint.filed' or s.action = any({with_project}) as tied
    ) as a
    """  # noqa: S608


def build(engine: Engine, events: int, *, chunk: int = 1_000_000) -> float:
    """Fill the table with ``events`` rows; returns the seconds it took."""
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(text("set maintenance_work_mem = '1GB'"))
        conn.execute(text("set max_parallel_maintenance_workers = 2"))
        rebuild = _drop_secondary_indexes(conn)
        conn.commit()
        for lo in range(1, events + 1, chunk):
            hi = min(lo + chunk - 1, events)
            conn.execute(text(insert_sql()), {"lo": lo, "hi": hi})
            conn.commit()
            print(f"  {hi:>11,} events  {time.perf_counter() - started:6.0f} s", flush=True)
        conn.execute(text(f"select setval(pg_get_serial_sequence('{TABLE}', 'id'), :n)"), {"n": events})
        for statement in rebuild:
            conn.execute(text(statement))
            conn.commit()
        print(f"  indexes rebuilt  {time.perf_counter() - started:6.0f} s", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # VACUUM sets the visibility map, as autovacuum would on a table this old, so that
        # index-only scans are possible; ANALYZE gives the planner the statistics it will have.
        conn.execute(text(f"vacuum (analyze) {TABLE}"))
    return time.perf_counter() - started


def _drop_secondary_indexes(conn: Connection) -> list[str]:
    """Drop every index but the primary key; return the statements that recreate them."""
    rows = (
        conn.execute(
            text("""
        select i.indexrelid::regclass::text as name, c.conname, pg_get_indexdef(i.indexrelid) as indexdef,
               pg_get_constraintdef(c.oid) as condef
        from pg_index i left join pg_constraint c on c.conindid = i.indexrelid and c.contype = 'u'
        where i.indrelid = cast(:table as regclass) and not i.indisprimary
        """),
            {"table": TABLE},
        )
        .mappings()
        .all()
    )
    rebuild: list[str] = []
    for row in rows:
        if row["conname"]:
            conn.execute(text(f"alter table {TABLE} drop constraint {row['conname']}"))
            rebuild.append(f"alter table {TABLE} add constraint {row['conname']} {row['condef']}")
        else:
            conn.execute(text(f"drop index {row['name']}"))
            rebuild.append(row["indexdef"])
    return rebuild


# -- measuring ------------------------------------------------------------------------------------


Request = tuple[str, dict[str, Any], str]  # path, query parameters, "city" or "county" supervisor


class Ledger:
    """What the generated ledger holds, so that the requests ask for things that exist."""

    def __init__(self, events: int, event_ids: list[str], second_pages: list[tuple[str, int]]) -> None:
        self.events = events
        self.event_ids = event_ids
        self.second_pages = second_pages  # (project, cursor of its timeline's second page)
        self.end = START + timedelta(seconds=events * SECONDS_PER_EVENT)
        self.projects = projects_made(events)

    def project(self, rng: random.Random, platform: str | None = None) -> str:
        """A random project, optionally of one platform (see PLATFORM_OF)."""
        slots = {None: range(25), "gaoping": range(15, 18), "yangcheng": range(18, 21)}[platform]
        while True:
            num = rng.randrange(self.projects)
            if num % 25 in slots:
                return f"JC{num:07d}"

    def moment(self, rng: random.Random, room: timedelta = timedelta(0)) -> str:
        """A random instant of the ledger's history, at least ``room`` before its end (ISO 8601)."""
        span = max((self.end - START - room).total_seconds(), 1.0)
        return (START + timedelta(seconds=rng.uniform(0, span))).isoformat()

    def second_page(self, rng: random.Random) -> Request:
        project, after = rng.choice(self.second_pages)
        return f"/audit/projects/{project}/timeline", {"after": after}, "city"

    def window(self, rng: random.Random, length: timedelta) -> dict[str, str]:
        since = self.moment(rng, room=length)
        return {"since": since, "until": (datetime.fromisoformat(since) + length).isoformat()}


def shapes(ledger: Ledger) -> dict[str, Callable[[random.Random], Request]]:
    """The requests supervisors make; each call draws fresh parameters."""
    day = timedelta(days=1)
    last = (ledger.end - day).isoformat(), (ledger.end - 7 * day).isoformat()

    def events(who: str = "city", **params: Any) -> Callable[[random.Random], Request]:
        def build(rng: random.Random) -> Request:
            return "/audit/events", {k: v(rng) if callable(v) else v for k, v in params.items()}, who

        return build

    def any_id(rng: random.Random) -> int:
        return rng.randrange(ledger.events)

    return {
        "city, no filter, random page": events(after=any_id),
        "county, no filter, random page": events("county", after=any_id),
        "city, project": events(project_id=ledger.project),
        "county, own project": events("county", project_id=lambda r: ledger.project(r, "gaoping")),
        "county, other county's project": events("county", project_id=lambda r: ledger.project(r, "yangcheng")),
        "city, lot": events(lot_id=lambda r: f"{ledger.project(r)}-L{r.randrange(1, 4)}"),
        "city, organisation": events(organisation=lambda r: f"org-{r.randrange(ORGANISATIONS)}"),
        "county, organisation": events("county", organisation=lambda r: f"org-{r.randrange(ORGANISATIONS)}"),
        "city, actor": events(actor=lambda r: f"user-{r.randrange(ACTORS)}"),
        "city, common action, random page": events(action="bid.submitted", after=any_id),
        "city, rare action": events(action="complaint.filed"),
        "county, action": events("county", action="award.announced"),
        "city, rare source": events(source="supervision"),
        "city, object": events(object_type="bid", object_id=lambda r: f"bid-{r.randrange(ledger.events // 3)}"),
        "city, last 24 hours": events(since=last[0]),
        "county, last 7 days": events("county", since=last[1]),
        "city, a past day": lambda r: ("/audit/events", ledger.window(r, day), "city"),
        "county, a past day": lambda r: ("/audit/events", ledger.window(r, day), "county"),
        "city, a past 30 days": lambda r: ("/audit/events", ledger.window(r, 30 * day), "city"),
        "city, action in a past week": lambda r: (
            "/audit/events", {**ledger.window(r, 7 * day), "action": "lot.opened"}, "city",
        ),
        "city, since a random time": events(since=ledger.moment),
        "city, until a random time, random page": events(until=ledger.moment, after=any_id),
        "county, own project since a random time": events(
            "county", project_id=lambda r: ledger.project(r, "gaoping"), since=ledger.moment
        ),
        "city, timeline": lambda r: (f"/audit/projects/{ledger.project(r)}/timeline", {}, "city"),
        "city, timeline, second page": ledger.second_page,
        "county, timeline": lambda r: (f"/audit/projects/{ledger.project(r, 'gaoping')}/timeline", {}, "county"),
        "city, one event by event_id": lambda r: (f"/audit/events/{r.choice(ledger.event_ids)}", {}, "city"),
    }  # fmt: skip


class Sample(NamedTuple):
    ms: float
    full_gc: bool  # a full (generation 2) garbage collection ran during the call


class FullCollections:
    """Counts Python's full garbage collections. One takes 60-80 ms in a supervision process here
    (130,000 objects after import) and lands on whichever request is running: it is not the
    query's cost, so the figures are given with and without the calls it hit."""

    count = 0

    @classmethod
    def install(cls) -> None:
        def callback(phase: str, info: dict[str, int]) -> None:
            if phase == "stop" and info["generation"] == 2:
                cls.count += 1

        gc.callbacks.append(callback)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


def summary(samples: list[Sample], base: dict[str, Any] | None = None) -> dict[str, Any]:
    every = [s.ms for s in samples]
    clean = [s.ms for s in samples if not s.full_gc] or every
    figures: dict[str, Any] = {
        "p50_ms": round(statistics.median(every), 2),
        "p99_ms": round(p99(every), 2),
        "p99_without_full_gc_ms": round(p99(clean), 2),
        "calls_hit_by_full_gc": len(every) - len(clean),
    }
    if base is not None:
        figures["p99_vs_baseline"] = round(figures["p99_ms"] / base["p99_ms"], 2)
        figures["p99_without_full_gc_vs_baseline"] = round(
            figures["p99_without_full_gc_ms"] / base["p99_without_full_gc_ms"], 2
        )
    return figures


def projects_made(events: int) -> int:
    """How many projects the generator made for ``events`` events (see EVENTS_PER_PROJECT_BLOCK)."""
    return (events // EVENTS_PER_PROJECT_BLOCK + 1) * PROJECTS_PER_BLOCK


SECOND_PAGE = f"select id from {TABLE} where project_id = :project order by occurred_at, id offset 99 limit 1"  # noqa: S608


class Bench:
    """The real supervision app on the bench database, called in-process with supervisor tokens."""

    def __init__(self, url: str, events: int) -> None:
        self.issuer = TestIssuer()
        self.engine = make_engine(normalise_database_url(url))
        keys = StaticKeySource([self.issuer.jwk])
        self.app = create_app(
            SupervisionSettings(environment="test", relay_enabled=False, database_url=url),
            engine=self.engine,
            authenticator=Authenticator(audience="supervision", keys=keys, revocations=StaticRevocations()),
        )
        picks = random.Random(7).sample(range(1, events + 1), min(events, 2000))
        with self.engine.connect() as conn:
            found = conn.execute(text(f"select event_id from {TABLE} where id = any(:ids)"), {"ids": picks})  # noqa: S608 - a constant
            event_ids = [str(e) for e in found.scalars()]
            second_pages: list[tuple[str, int]] = []
            for n in random.Random(8).sample(range(projects_made(events)), 50):
                # the 100th entry of a timeline is the cursor of its second page
                cursor = conn.execute(text(SECOND_PAGE), {"project": f"JC{n:07d}"}).scalar()
                if cursor is not None:
                    second_pages.append((f"JC{n:07d}", cursor))
        self.ledger = Ledger(events, event_ids, second_pages)

    def tokens(self) -> dict[str, dict[str, str]]:
        """Fresh headers (tokens live five minutes; a 10M run measures for longer)."""
        claims = {"roles": ["supervisor"], "aud": "supervision"}
        return {
            "city": self.issuer.headers(sub="sup-city", platform="jincheng", **claims),
            "county": self.issuer.headers(sub="sup-gaoping", platform="gaoping", **claims),
        }

    def measure(
        self, client: TestClient, build: Callable[[random.Random], Request], rng: random.Random, n: int
    ) -> list[Sample]:
        """``n`` calls after ten untimed ones: latency (ms), and whether a full collection ran meanwhile."""
        tokens = self.tokens()
        samples: list[Sample] = []
        for i in range(n + 10):
            path, params, who = build(rng)
            collections = FullCollections.count
            start = time.perf_counter()
            response = client.get(path, params=params, headers=tokens[who])
            elapsed = (time.perf_counter() - start) * 1000
            if response.status_code not in (200, 404):  # 404: a county asking for another's project
                raise RuntimeError(f"{path} {params} answered {response.status_code}: {response.text[:300]}")
            if i >= 10:
                samples.append(Sample(elapsed, FullCollections.count != collections))
        return samples

    def run(self, samples: int, *, explain: bool) -> dict[str, Any]:
        rng = random.Random(42)
        figures: dict[str, Any] = {"events": self.ledger.events, "samples_per_shape": samples}
        FullCollections.install()
        with TestClient(self.app) as client:

            def primary_key_lookup(rng: random.Random) -> Request:
                return "/audit/events", {"after": rng.randrange(self.ledger.events), "limit": 1}, "city"

            base = summary(self.measure(client, primary_key_lookup, rng, samples))
            figures["baseline"] = {"what": "GET /audit/events?after=<id - 1>&limit=1, a primary-key lookup", **base}
            everything: list[Sample] = []
            figures["shapes"] = {}
            for name, build in shapes(self.ledger).items():
                taken = self.measure(client, build, rng, samples)
                everything += taken
                figures["shapes"][name] = shape = summary(taken, base)
                print(
                    f"  {name:<42} p50 {shape['p50_ms']:6.2f} ms  p99 {shape['p99_ms']:6.2f} ms"
                    f" ({shape['p99_vs_baseline']:4.1f} x)  without full GCs {shape['p99_without_full_gc_ms']:6.2f} ms"
                    f" ({shape['p99_without_full_gc_vs_baseline']:4.1f} x)",
                    flush=True,
                )
                if explain:
                    print(indent(self.plans(client, build(rng)), "      "))
            figures["mix"] = summary(everything, base)
            figures["mix"]["worst_shape_p99_ms"] = max(s["p99_ms"] for s in figures["shapes"].values())
            figures["csv_export"] = self.export_rate(client)
        return figures

    def export_rate(self, client: TestClient) -> dict[str, Any]:
        """A streamed export of the newest 100,000 events (or all): rows per second, first byte."""
        since = START + timedelta(seconds=max(0, self.ledger.events - 100_000) * SECONDS_PER_EVENT)
        params = {"since": since.isoformat()}
        start = time.perf_counter()
        first_byte = 0.0
        size = lines = 0
        with client.stream("GET", "/audit/events.csv", params=params, headers=self.tokens()["city"]) as response:
            for chunk in response.iter_raw():
                first_byte = first_byte or time.perf_counter() - start
                size += len(chunk)
                lines += chunk.count(b"\r\n")
        seconds = time.perf_counter() - start
        rows = lines - 1  # the header
        print(f"  CSV export: {rows:,} rows, {size / 2**20:.1f} MiB in {seconds:.1f} s = {rows / seconds:,.0f} rows/s,"
              f" first byte after {1000 * first_byte:.0f} ms")  # fmt: skip
        return {
            "rows": rows,
            "mib": round(size / 2**20, 1),
            "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds),
            "first_byte_ms": round(1000 * first_byte, 1),
        }

    def plans(self, client: TestClient, request: Request) -> str:
        """EXPLAIN ANALYZE of each audit_events query one request runs, exactly as the app sent it."""
        statements: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            if statement.lstrip().lower().startswith("select") and "audit_events" in statement:
                statements.append((statement, parameters))

        path, params, who = request
        event.listen(self.engine, "before_cursor_execute", capture)
        try:
            client.get(path, params=params, headers=self.tokens()[who])
        finally:
            event.remove(self.engine, "before_cursor_execute", capture)
        lines = [f"{path} {params}"]
        with self.engine.connect() as conn:
            for statement, parameters in statements:
                plan = conn.exec_driver_sql("explain (analyze, costs off, summary off) " + statement, parameters)
                lines += [row[0] for row in plan]
        return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the ledger (default 1,000,000)")
    parser.add_argument("--samples", type=int, default=200, help="timed calls per request shape (default 200)")
    parser.add_argument("--reuse", action="store_true", help="keep the previous run's events if the count matches")
    parser.add_argument("--explain", action="store_true", help="print the plan of every query of every shape")
    args = parser.parse_args()
    pgdata = PGDATA.resolve()
    url = devdb.start(pgdata, database=DATABASE)
    try:
        if not (args.reuse and _count(url) == args.events):
            url = _fresh_database(pgdata)
            migrate.upgrade_all(url, services=("supervision",))
            engine = make_engine(normalise_database_url(url))
            print(f"building {args.events:,} events")
            print(f"built in {build(engine, args.events):.0f} s")
            engine.dispose()
        print(f"measuring, {args.samples} calls per request shape")
        bench = Bench(url, args.events)
        figures = bench.run(args.samples, explain=args.explain)
        bench.engine.dispose()
    finally:
        devdb.stop(pgdata)
    figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    base, mix = figures["baseline"], figures["mix"]
    print(
        f"baseline, a primary-key lookup through the app: p50 {base['p50_ms']} ms, p99 {base['p99_ms']} ms"
        f" ({base['p99_without_full_gc_ms']} ms without full GCs)"
    )
    print(
        f"whole mix: p50 {mix['p50_ms']} ms, p99 {mix['p99_ms']} ms = {mix['p99_vs_baseline']} x the baseline"
        f" ({mix['p99_without_full_gc_ms']} ms = {mix['p99_without_full_gc_vs_baseline']} x without full GCs);"
        f" worst shape's p99 {mix['worst_shape_p99_ms']} ms"
    )
    print(f"written to {RESULTS}")
    return 0


def _count(url: str) -> int | None:
    engine = make_engine(normalise_database_url(url))
    with engine.connect() as conn:
        exists = conn.execute(text("select to_regclass(:t) is not null"), {"t": TABLE}).scalar()
        count = conn.execute(text(f"select count(*) from {TABLE}")).scalar() if exists else None  # noqa: S608 - a constant
    engine.dispose()
    return count


def _fresh_database(pgdata: Path) -> str:
    admin = make_engine(normalise_database_url(devdb.start(pgdata, database="postgres")))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'drop database if exists "{DATABASE}" with (force)'))
    admin.dispose()
    return devdb.start(pgdata, database=DATABASE)


if __name__ == "__main__":
    sys.exit(main())
