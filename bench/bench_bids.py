"""Deadline surge: sealed bids streamed into a real trading process, then a burst across the deadline.

``python -m bench.bench_bids [--bidders 500] [--size-mib 1] [--concurrency 64] [--lead 5] [--late 100]
[--large-clients 64] [--large-mib 50] [--rounds 5] [--workers 2]``

What runs, all on loopback:

- PostgreSQL: the embedded cluster under ``var/bench-bids-pgdata``, a fresh database each run;
- trading and supervision as real ``uvicorn`` processes (the service's own settings; trading with
  ``--workers`` worker processes, supervision with one), so every bid pays for the certificate
  check, the credit check over HTTP, the streamed store with fsync and the locked transaction; the
  audit relay is off (it runs beside requests);
- a stand-in for the portal in this process serving only the JWKS, an empty revocation list and
  service tokens, since bidders' tokens are minted here (logging 500 people in is not the subject);
- a baseline in its own ``uvicorn`` process (as many workers as trading, so that the ratio compares
  like with like): a plain Starlette route that streams the body to a file (hashing it, fsync,
  rename, like the blob store) and inserts one row, with no checks at all.

Before the measured phases, each server gets one unmeasured round of ``--concurrency`` uploads
(trading's to a lot of their own), and every client is made before its phase starts: a platform
meets a surge warm, after hours of serving. Phases: (1) every bidder submits one envelope of
``--size-mib`` MiB with ``--concurrency`` clients, far from the deadline, in ``--rounds`` rounds
(the first its bid, then new versions of it), each right after the baseline got the same uploads:
bids/s, latency and the CPU milliseconds per bid of each process tree (trading, supervision,
PostgreSQL, the clients here), and the ratio to the baseline, the median of the rounds' ratios.
This machine's speed drifts by 10–20 % from one minute to the next (it is shared); one pair of
runs gave ratios from 0.35 to 0.49 for the same code, alternating rounds seconds apart put the
drift on both sides of each ratio. (1b) ``--large-clients`` bidders upload an
envelope of ``--large-mib`` MiB all at once: how much trading's resident memory grows (it must
stream, not buffer); (2) the deadline is set to the database's
``clock_timestamp() + --lead`` seconds and every bidder submits a modification at once, so the burst
runs into the deadline, while a probe takes the lot ``FOR UPDATE`` every 0.25 s as a deadline change
would (its longest wait); (3) ``--late`` more submissions after it. Then the database is compared with
the answers: late accepts (a version with a database time at or after the deadline, or a 201
claiming one), lost bids (a 201 whose version is not stored) and duplicated ones (a stored version
no 201 answered, or a receipt twice) must all be 0. The baseline gets the same uploads: the small
ones in the rounds of phase 1 (each round after the page cache was written back, so that none runs
in the wake of the other's writes), the large ones after trading's.

Figures are printed and written to ``bench/results/bids.json``; the exit status is 1 if a late,
lost or duplicated bid was found. The default run takes about three minutes on a 2-core machine and
needs ``3 x (bidders x size + large-clients x large-mib)`` of free disk in the temporary directory
(about 11 GB: envelopes, trading's store, the baseline's files), all removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import create_engine, text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.credit_code import make_credit_code
from shared.db import PROJECT_ROOT
from shared.envelope import BidForm, build_plaintext_zip, seal, signer_for
from shared.settings import normalise_database_url
from tests.support.pki import IssuedCert, issue_leaf, make_ca
from tests.support.tokens import TestIssuer
from tests.trading.notices.conftest import PDF, on_offer_lot
from tests.trading.projects.test_router import AGENCY, project_body
from tools import devdb, migrate

RESULTS = Path(__file__).parent / "results" / "bids.json"
PGDATA = PROJECT_ROOT / "var" / "bench-bids-pgdata"
DATABASE = "bench_bids"
FORM = BidForm.model_validate(
    {
        "price_fen": 388_000_000,
        "duration_days": 180,
        "quality": "合格",
        "project_manager": {"name": "李四", "certificate_no": "晋114050800001"},
    }
)


# -- the baseline: what an upload costs with no checks at all ---------------------------------------


def baseline_app() -> Starlette:
    """``uvicorn --factory bench.bench_bids:baseline_app``: stream to disk, hash, fsync, one INSERT."""
    directory = Path(os.environ["BENCH_BASELINE_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    engine = create_engine(normalise_database_url(os.environ["BENCH_BASELINE_DATABASE_URL"]), pool_size=10)
    insert = text("insert into bench.uploads (sha256, size) values (:sha256, :size) returning id")

    async def upload(request: Request) -> JSONResponse:
        digest, size = hashlib.sha256(), 0
        partial = directory / f"{uuid.uuid4().hex}.part"
        with partial.open("wb") as out:
            async for chunk in request.stream():
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            await run_in_threadpool(os.fsync, out.fileno())
        partial.replace(directory / digest.hexdigest())

        def record() -> int:
            with engine.begin() as conn:
                return int(conn.execute(insert, {"sha256": digest.hexdigest(), "size": size}).scalar_one())

        return JSONResponse({"id": await run_in_threadpool(record), "sha256": digest.hexdigest()}, status_code=201)

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/upload", upload, methods=["POST"]), Route("/ready", health)])


# -- the portal stand-in ---------------------------------------------------------------------------


def portal_stand_in(issuer: TestIssuer) -> Starlette:
    """JWKS, revocations and client-credential tokens; nothing else of the portal is needed here."""

    async def jwks(_: Request) -> JSONResponse:
        return JSONResponse({"keys": [issuer.jwk]})

    async def revocations(_: Request) -> JSONResponse:
        return JSONResponse({"revoked": []})

    async def token(request: Request) -> JSONResponse:
        form = await request.form()
        client = f"svc-{form.get('audience', '')}-caller"
        access = issuer.token(
            sub=client,
            typ="service",
            aud=str(form.get("audience", "")),
            scope=str(form.get("scope", "")),
            lifetime=300,
        )
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": 300})

    return Starlette(
        routes=[
            Route("/.well-known/jwks.json", jwks),
            Route("/.well-known/revocations", revocations),
            Route("/oauth/token", token, methods=["POST"]),
        ]
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served_in_thread(app: Starlette) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def process(
    target: str, env: dict[str, str], log: Path, *, factory: bool = True, workers: int = 1
) -> Iterator[tuple[str, int]]:
    """A ``uvicorn`` process on a free port (with ``workers`` worker processes under it when more
    than one); yields its URL and pid once ``/ready`` answers 200."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", *(["--factory"] if factory else []), target]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    if workers > 1:
        command += ["--workers", str(workers)]
    with log.open("ab") as out:
        proc = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{target} exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{target} not ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces; everything after its closing parenthesis splits cleanly.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(root: int) -> set[int]:
    """``root`` and its descendants: uvicorn's workers, PostgreSQL's backends."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (OSError, IndexError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return tree


def tree_cpu_seconds(root: int) -> float:
    """CPU time of ``root`` and its descendants, counting children that already exited (their time
    is in the parent's cutime/cstime once reaped), so a difference of two readings is what the whole
    tree used in between."""
    ticks = 0
    for pid in process_tree(root):
        try:
            fields = _stat(pid)
        except OSError:
            continue
        # utime, stime, cutime, cstime (fields 14-17 of proc(5); index 11-14 after the name)
        ticks += sum(int(v) for v in fields[11:15])
    return ticks / _TICKS


def machine_jiffies() -> tuple[int, int]:
    """(busy, all) jiffies of every CPU since boot, from the first line of ``/proc/stat``."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


class CpuMeter:
    """CPU milliseconds per request of each process tree over a phase: where the machine's two cores
    go; and how busy the whole machine was (what no process tree accounts for included: the kernel's
    soft interrupts of loopback traffic, writeback, other tenants of a shared machine)."""

    def __init__(self, trees: dict[str, int]) -> None:
        self.trees = trees

    def read(self) -> dict[str, float]:
        found = {name: tree_cpu_seconds(pid) for name, pid in self.trees.items()}
        usage = resource.getrusage(resource.RUSAGE_SELF)  # this process: the clients and the portal stand-in
        busy, total = machine_jiffies()
        return found | {"clients": usage.ru_utime + usage.ru_stime, "_busy": busy, "_total": total}

    @staticmethod
    def per_request(before: dict[str, float], after: dict[str, float], count: int, prefix: str) -> dict[str, float]:
        figures = {
            f"{prefix}_cpu_ms_{name}": round((after[name] - before[name]) * 1000 / count, 2)
            for name in before
            if not name.startswith("_")
        }
        elapsed = after["_total"] - before["_total"]
        figures[f"{prefix}_machine_busy_pct"] = round(100 * (after["_busy"] - before["_busy"]) / elapsed, 1)
        return figures


class MemoryWatch:
    """How much the resident memory of a server grows over a phase: the peak during it (summed over
    the worker processes) minus what they held before. The kernel's high-water mark is reset first
    (``/proc/PID/clear_refs``), and a 10 ms sampler covers kernels that refuse the reset."""

    def __init__(self, pid: int) -> None:
        self.processes = process_tree(pid) - {pid} or {pid}
        self.growth_mib = float("nan")
        self._peak = 0
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _resident(self) -> int:
        return sum(_status_kib(p, "VmRSS") for p in self.processes)

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self._peak = max(self._peak, self._resident())

    def __enter__(self) -> MemoryWatch:
        self._before = self._resident()
        self._reset = True
        for p in self.processes:
            try:
                Path(f"/proc/{p}/clear_refs").write_text("5")
            except OSError:
                self._reset = False
        self._sampler.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._sampler.join()
        peak = self._peak
        if self._reset:
            peak = max(peak, sum(_status_kib(p, "VmHWM") for p in self.processes))
        self.growth_mib = round((peak - self._before) / 1024, 1)


def postmaster_pid() -> int:
    return int((PGDATA / "postmaster.pid").read_text().split()[0])


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def peak_rss_mib(pid: int) -> float:
    """The high-water mark of resident memory, summed over the worker processes if there are any
    (uvicorn's supervisor itself serves nothing then)."""
    workers = process_tree(pid) - {pid} or {pid}
    return round(sum(_status_kib(p, "VmHWM") for p in workers) / 1024, 1)


@contextmanager
def fresh_database() -> Iterator[str]:
    admin_url = devdb.start(PGDATA, database="postgres")
    admin = create_engine(normalise_database_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{DATABASE}" with (force)'))
            conn.execute(text(f'create database "{DATABASE}"'))
        url = devdb.start(PGDATA, database=DATABASE)
        migrate.upgrade_all(url, services=("trading", "supervision"))
        engine = create_engine(normalise_database_url(url))
        with engine.begin() as conn:
            conn.execute(text("create schema bench"))
            conn.execute(text("create table bench.uploads (id bigserial primary key, sha256 text, size bigint)"))
        engine.dispose()
        yield url
    finally:
        admin.dispose()
        devdb.stop(PGDATA)


# -- the bidders -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BidderFiles:
    org: str
    credit_code: str
    envelope: Path
    cert: IssuedCert


@dataclass(frozen=True)
class Answer:
    status: int
    seconds: float
    body: dict[str, Any]
    started: float


def seal_all(ca: IssuedCert, lot_id: str, count: int, size: int, workdir: Path) -> list[BidderFiles]:
    attachment = workdir / "technical.pdf"
    attachment.write_bytes(b"%PDF-1.7\n" + os.urandom(max(size - 2048, 1)))
    bidders = []
    for n in range(count):
        # One plaintext per bidder: its archive comment is random, as the reference tool writes it.
        plaintext = build_plaintext_zip(FORM, [attachment], out=workdir / "plain.zip")
        code = make_credit_code(f"91140500MB{n:07d}")
        cert = issue_leaf(ca, common_name=f"投标人{n}", subject_serial=code)
        out, _ = seal(
            plaintext,
            out=workdir / f"bid-{n}.jcb",
            lot_id=lot_id,
            bidder_credit_code=code,
            certificate_pem=cert.pem,
            signer=signer_for(cert.key),
            device_fingerprint=f"sha256:{n:064x}",
        )
        bidders.append(BidderFiles(str(uuid.uuid4()), code, out, cert))
    return bidders


def seal_large(bidders: list[BidderFiles], lot_id: str, size: int, workdir: Path) -> list[BidderFiles]:
    """A new version of ``size`` bytes for each of ``bidders``: one plaintext, sealed for each (a
    fresh key and nonce each time, so every ciphertext differs), to keep sealing GiBs short."""
    attachment = workdir / "large.pdf"
    with attachment.open("wb") as pdf:
        pdf.write(b"%PDF-1.7\n")
        for _ in range(max(size - 2048, 1) // (1 << 20) + 1):
            pdf.write(os.urandom(1 << 20))
        pdf.truncate(max(size - 2048, 1))
    plaintext = build_plaintext_zip(FORM, [attachment], out=workdir / "large.zip")
    attachment.unlink()
    large = []
    for n, bidder in enumerate(bidders):
        out, _ = seal(
            plaintext,
            out=workdir / f"large-{n}.jcb",
            lot_id=lot_id,
            bidder_credit_code=bidder.credit_code,
            certificate_pem=bidder.cert.pem,
            signer=signer_for(bidder.cert.key),
            device_fingerprint=f"sha256:{n:064x}",
        )
        large.append(BidderFiles(bidder.org, bidder.credit_code, out, bidder.cert))
    plaintext.unlink()
    return large


def upload_all(
    url: str, jobs: list[tuple[Path, dict[str, str]]], concurrency: int, *, ready: Callable[[], object] = lambda: None
) -> list[Answer]:
    """Every job, ``concurrency`` at a time; ``ready`` is called once the clients are made, right
    before the first request (where a CPU meter starts: making the clients is not the servers' work)."""
    # Every client is made before the first request: making one (its TLS context) takes this
    # process's CPU, which would otherwise delay the first requests and count as the server's.
    idle = [httpx.Client(timeout=300) for _ in range(min(concurrency, len(jobs)))]
    clients = list(idle)
    ready()
    local = threading.local()
    taking = threading.Lock()

    def one(job: tuple[Path, dict[str, str]]) -> Answer:
        if not hasattr(local, "http"):
            with taking:
                local.http = idle.pop()
        path, headers = job
        started = time.perf_counter()
        with path.open("rb") as body:
            response = local.http.post(url, content=body, headers=headers)
        elapsed = time.perf_counter() - started
        return Answer(response.status_code, elapsed, response.json(), started)

    try:
        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(one, jobs))
    finally:
        for client in clients:
            client.close()


def percentiles_ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return round(statistics.median(ordered) * 1000, 1), round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 1)


def rate(answers: list[Answer]) -> float:
    first = min(a.started for a in answers)
    last = max(a.started + a.seconds for a in answers)
    return len(answers) / (last - first)


def settle() -> None:
    """Write back what earlier phases left in the page cache (sealing writes the envelopes) before a
    measured phase, so that each starts alike."""
    os.sync()


def plain_jobs(files: list[BidderFiles]) -> list[tuple[Path, dict[str, str]]]:
    return [(b.envelope, {"Content-Type": "application/octet-stream"}) for b in files]


def baseline_round(baseline: str, pid: int, bidders: list[BidderFiles], concurrency: int) -> Round:
    """One round of the baseline: the same uploads as a round of trading's phase 1."""
    settle()
    meter = CpuMeter({"baseline": pid, "postgres": postmaster_pid()})
    before: list[dict[str, float]] = []
    answers = upload_all(
        f"{baseline}/upload", plain_jobs(bidders), concurrency, ready=lambda: before.append(meter.read())
    )
    cpu = CpuMeter.per_request(before[0], meter.read(), len(answers), "baseline")
    if any(a.status != 201 for a in answers):
        raise RuntimeError("baseline uploads failed")
    return Round(answers, {"baseline_uploads_per_s": round(rate(answers), 1)} | cpu)


def trading_round(url: str, issuer: TestIssuer, bidders: list[BidderFiles], concurrency: int, meter: CpuMeter) -> Round:
    """One round of trading's phase 1: every bidder submits (the first round its bid, later rounds a
    new version of it: the same file, which costs the same but for the bid's row, updated not inserted)."""
    submissions = bid_jobs(issuer, bidders)  # tokens minted before the meter starts: it measures the uploads
    settle()
    before: list[dict[str, float]] = []
    answers = upload_all(url, submissions, concurrency, ready=lambda: before.append(meter.read()))
    cpu = CpuMeter.per_request(before[0], meter.read(), len(answers), "bid")
    refused = [a.body for a in answers if a.status != 201]
    if refused:
        raise RuntimeError(f"{len(refused)} bids refused before the deadline, e.g. {refused[0]}")
    return Round(answers, {"bids_per_s": round(rate(answers), 1)} | cpu)


@dataclass(frozen=True)
class Round:
    answers: list[Answer]
    figures: dict[str, float]


def run_phase_one(
    baseline: str,
    baseline_pid: int,
    bids_url: str,
    bidders: list[BidderFiles],
    issuer: TestIssuer,
    args: Any,
    meter: CpuMeter,
) -> tuple[dict[str, Any], list[Answer]]:
    """``--rounds`` rounds of the baseline's uploads and trading's bids, alternately; the figures of
    :func:`phase_one` and every bid's answer."""
    rounds = []
    for n in range(1, args.rounds + 1):
        print(
            f"phase 1, round {n} of {args.rounds}: {len(bidders)} uploads to the baseline, then {len(bidders)} bids …"
        )
        plain = baseline_round(baseline, baseline_pid, bidders, args.concurrency)
        rounds.append((plain, trading_round(bids_url, issuer, bidders, args.concurrency, meter)))
    return phase_one(rounds), [a for _, bids in rounds for a in bids.answers]


def phase_one(rounds: list[tuple[Round, Round]]) -> dict[str, Any]:
    """Rates and CPU figures: the median over the rounds; latencies: over every request of every
    round; the ratio: the median of the rounds' own ratios, each of a baseline run and a trading run
    seconds apart, so that the machine's drift between runs weighs on both sides of each ratio."""
    figures: dict[str, Any] = {}
    for side in (0, 1):
        for name in rounds[0][side].figures:
            figures[name] = round(statistics.median(r[side].figures[name] for r in rounds), 2)
    for prefix, side in (("baseline", 0), ("bid", 1)):
        p50, p99 = percentiles_ms([a.seconds for r in rounds for a in r[side].answers])
        figures |= {f"{prefix}_p50_ms": p50, f"{prefix}_p99_ms": p99}
    ratios = [t.figures["bids_per_s"] / b.figures["baseline_uploads_per_s"] for b, t in rounds]
    figures["bids_per_s_ratio_to_baseline"] = round(statistics.median(ratios), 3)
    figures["rounds"] = [
        {
            "baseline_uploads_per_s": b.figures["baseline_uploads_per_s"],
            "bids_per_s": t.figures["bids_per_s"],
            "ratio": round(ratio, 3),
        }
        for (b, t), ratio in zip(rounds, ratios, strict=True)
    ]
    return figures


def run_baseline_large(baseline: str, pid: int, large_files: list[BidderFiles]) -> dict[str, Any]:
    """The same large uploads as trading's phase 1b, to the baseline, its memory watched too."""
    if not large_files:
        return {}
    jobs = plain_jobs(large_files)
    with MemoryWatch(pid) as memory:
        answers = upload_all(f"{baseline}/upload", jobs, len(jobs))
    if any(a.status != 201 for a in answers):
        raise RuntimeError("baseline uploads failed")
    return {"baseline_large_rss_growth_mib": memory.growth_mib}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bidders", type=int, default=500, help="bidders, one envelope each (default 500)")
    parser.add_argument("--size-mib", type=float, default=1.0, help="envelope size in MiB (default 1)")
    parser.add_argument("--concurrency", type=int, default=64, help="parallel clients (default 64)")
    parser.add_argument(
        "--lead", type=float, default=5.0, help="seconds from the burst's start to the deadline (default 5)"
    )
    parser.add_argument("--late", type=int, default=100, help="submissions after the deadline (default 100)")
    parser.add_argument(
        "--large-clients",
        type=int,
        default=64,
        help="bidders that then upload a large envelope all at once, for memory growth; 0 skips it (default 64)",
    )
    parser.add_argument("--large-mib", type=float, default=50.0, help="size of those envelopes in MiB (default 50)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="rounds of phase 1, each the baseline's uploads then trading's bids; figures are medians (default 5)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="uvicorn worker processes for trading and the baseline alike (default 2: one per core of the "
        "2-core reference machine, as deployed)",
    )
    return parser.parse_args()


def main() -> int:
    args = arguments()
    size = int(args.size_mib * 1024 * 1024)
    issuer = TestIssuer()
    figures: dict[str, Any] = {
        "bidders": args.bidders,
        "envelope_bytes": size,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "machine_cpus": os.cpu_count(),
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-bids-"))
    try:
        with fresh_database() as url, served_in_thread(portal_stand_in(issuer)) as portal:
            env = dict(os.environ, DATABASE_URL=url)
            common = {"ENVIRONMENT": "test", "RELAY_ENABLED": "false", "PORTAL_URL": portal}
            env |= {f"SUPERVISION_{k}": v for k, v in common.items()} | {"SUPERVISION_LEDGER_SIGNER_ENABLED": "false"}
            with process("services.supervision.app:create_app", env, workdir / "supervision.log") as (
                supervision,
                supervision_pid,
            ):
                ca = make_ca("Bench CA")
                (workdir / "ca.pem").write_bytes(ca.pem)
                env |= {f"TRADING_{k}": v for k, v in common.items()} | {
                    "TRADING_SUPERVISION_URL": supervision,
                    "TRADING_STORAGE_DIR": str(workdir / "blobs"),
                    "TRADING_TRUSTED_CA_FILES": str(workdir / "ca.pem"),
                }
                base_env = env | {
                    "BENCH_BASELINE_DIR": str(workdir / "baseline"),
                    "BENCH_BASELINE_DATABASE_URL": url,
                }
                trading_log, baseline_log = workdir / "trading.log", workdir / "baseline.log"
                # Both servers up at once (the idle one costs nothing): each round of the baseline's small
                # uploads runs right before a round of trading's, on the same freshly sealed files, and
                # both large phases after, so that no small phase runs in the wake of GBs of writes.
                with (
                    process("services.trading.app:create_app", env, trading_log, workers=args.workers) as (
                        trading,
                        pid,
                    ),
                    process("bench.bench_bids:baseline_app", base_env, baseline_log, workers=args.workers) as (
                        baseline,
                        baseline_pid,
                    ),
                ):
                    lot_id = publish_lot(trading, issuer)
                    print(f"sealing {args.bidders} envelopes of {args.size_mib:g} MiB …")
                    bidders = seal_all(ca, lot_id, args.bidders, size, workdir)
                    # The warm-up's bids go to a lot of their own, outside every figure and check.
                    warm_lot = publish_lot(trading, issuer)
                    (workdir / "warm").mkdir()
                    warm = seal_all(ca, warm_lot, args.concurrency, size, workdir / "warm")
                    warm_up(f"{baseline}/upload", plain_jobs(warm), args.concurrency)
                    warm_up(f"{trading}/lots/{warm_lot}/bids", bid_jobs(issuer, warm), args.concurrency)
                    meter = CpuMeter({"trading": pid, "supervision": supervision_pid, "postgres": postmaster_pid()})
                    bids_url = f"{trading}/lots/{lot_id}/bids"
                    found, first = run_phase_one(baseline, baseline_pid, bids_url, bidders, issuer, args, meter)
                    figures |= found
                    found, large_files = run_trading(trading, url, lot_id, bidders, first, issuer, args, pid, workdir)
                    figures |= found
                    figures["trading_peak_rss_mib"] = peak_rss_mib(pid)
                    figures |= run_baseline_large(baseline, baseline_pid, large_files)
                    figures["baseline_peak_rss_mib"] = peak_rss_mib(baseline_pid)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    print(f"written to {RESULTS}")
    failed = figures["late_accepts"] or figures["lost_bids"] or figures["duplicated_bids"]
    return 1 if failed else 0


def publish_lot(trading: str, issuer: TestIssuer) -> str:
    """A lot of a published tender, 21 days before its deadline, through trading's own API."""
    organiser = issuer.headers(sub="bench-agency", roles=["agency"], org=AGENCY, aud="trading", lifetime=900)
    with httpx.Client(base_url=trading, headers=organiser, timeout=30) as http:
        project = http.post("/projects", json=project_body()).json()
        lot = http.post(f"/projects/{project['id']}/lots", json=on_offer_lot()).json()
        notice = http.post(
            f"/projects/{project['id']}/notices", json={"title": "招标公告", "body": "公开招标", "lot_ids": [lot["id"]]}
        ).json()
        http.post(
            f"/notices/{notice['id']}/documents",
            params={"filename": "招标文件.pdf"},
            content=PDF,
            headers={"Content-Type": "application/pdf"},
        ).raise_for_status()
        http.post(f"/notices/{notice['id']}/publish").raise_for_status()
    return str(lot["id"])


def bid_jobs(issuer: TestIssuer, chosen: list[BidderFiles]) -> list[tuple[Path, dict[str, str]]]:
    """One submission per bidder: the envelope and the headers of a bidder's request (its own token)."""
    return [
        (
            b.envelope,
            {
                **issuer.headers(sub=f"bidder-{b.org[:8]}", roles=["bidder"], org=b.org, aud="trading", lifetime=900),
                "X-Bidder-Credit-Code": b.credit_code,
                "Idempotency-Key": uuid.uuid4().hex,
                "Content-Type": "application/octet-stream",
                "X-Device-Fingerprint": f"bench-{b.org[:8]}",
            },
        )
        for b in chosen
    ]


def warm_up(url: str, jobs: list[tuple[Path, dict[str, str]]], concurrency: int) -> None:
    """One round of uploads before a measured phase, unmeasured, the same for trading and the
    baseline: a platform meets a deadline surge after hours of serving, with its connection pools
    open, its routes and clients built and its interpreter warm."""
    answers = upload_all(url, jobs, concurrency)
    if any(a.status != 201 for a in answers):
        raise RuntimeError(f"warm-up uploads failed, e.g. {next(a.body for a in answers if a.status != 201)}")


def run_trading(
    trading: str,
    database_url: str,
    lot_id: str,
    bidders: list[BidderFiles],
    first: list[Answer],
    issuer: TestIssuer,
    args: Any,
    pid: int,
    workdir: Path,
) -> tuple[dict[str, Any], list[BidderFiles]]:
    """Phases 1b, 2 and 3 after phase 1's ``first`` answers, then every answer checked against the
    database."""
    engine = create_engine(normalise_database_url(database_url))

    url = f"{trading}/lots/{lot_id}/bids"
    figures: dict[str, Any] = {}
    large: list[Answer] = []
    large_files: list[BidderFiles] = []
    if args.large_clients:
        count = min(args.large_clients, len(bidders))
        print(f"phase 1b: sealing {count} envelopes of {args.large_mib:g} MiB …")
        large_files = seal_large(bidders[:count], lot_id, int(args.large_mib * 1024 * 1024), workdir)
        print(f"phase 1b: {count} bids of {args.large_mib:g} MiB uploaded at once …")
        large, found = run_large(url, bid_jobs(issuer, large_files), pid)
        figures |= found | {"large_envelope_bytes": large_files[0].envelope.stat().st_size}

    with engine.begin() as conn:
        deadline = conn.execute(
            text(
                "update trading.lots set documents_until = clock_timestamp(), "
                "bid_deadline = clock_timestamp() + :lead * interval '1 second' where id = :id returning bid_deadline"
            ),
            {"lead": args.lead, "id": lot_id},
        ).scalar_one()
    print(f"phase 2: {len(bidders)} modifications into a deadline {args.lead:g} s away …")
    surge, waits = run_surge(url, bid_jobs(issuer, bidders), args.concurrency, engine, lot_id)
    with engine.connect() as conn:  # the database's clock decides, here too
        while not conn.execute(text("select clock_timestamp() >= :d"), {"d": deadline}).scalar_one():
            time.sleep(0.05)
    print(f"phase 3: {args.late} submissions after the deadline …")
    late = upload_all(url, bid_jobs(issuer, bidders[: args.late]), args.concurrency)
    late_p50, late_p99 = percentiles_ms([a.seconds for a in late])

    answers = first + large + surge + late
    unexpected = [a for a in answers if a.status != 201 and a.body["error"]["code"] != "bid_deadline_passed"]
    if unexpected:
        raise RuntimeError(f"unexpected answers, e.g. {unexpected[0].body}")
    receipts = [a.body["receipt"] for a in answers if a.status == 201]
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select v.receipt_no, v.accepted_at from trading.bid_versions v "
                "join trading.bids b on b.id = v.bid_id where b.lot_id = :lot"
            ),
            {"lot": lot_id},
        ).all()
    engine.dispose()
    stored = {row.receipt_no for row in rows}
    answered = [r["receipt_no"] for r in receipts]

    def recorded(receipt: dict[str, Any]) -> datetime:
        return datetime.strptime(receipt["recorded_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    figures |= {
        "surge_accepted_before_deadline": sum(1 for a in surge if a.status == 201),
        "surge_refused_late": sum(1 for a in surge if a.status == 409),
        "after_deadline_refused": sum(1 for a in late if a.status == 409),
        "after_deadline_refusal_p50_ms": late_p50,
        "after_deadline_refusal_p99_ms": late_p99,
        "late_accepts": sum(1 for row in rows if row.accepted_at >= deadline)
        + sum(1 for r in receipts if recorded(r) >= deadline),
        "lost_bids": len(set(answered) - stored),
        "duplicated_bids": (len(answered) - len(set(answered))) + len(stored - set(answered)),
        "stored_versions": len(rows),
        # A deadline change or suspension (lots.lock, FOR UPDATE) waits for the bids holding the lot's
        # share lock: the longest such wait seen while the surge ran (a probe every 0.25 s).
        "surge_writer_lock_waits": len(waits),
        "surge_writer_lock_wait_max_ms": round(max(waits, default=0) * 1000, 1),
    }
    return figures, large_files


def run_large(url: str, jobs: list[tuple[Path, dict[str, str]]], pid: int) -> tuple[list[Answer], dict[str, Any]]:
    """Every large upload at once, the server's memory watched: it must stream, not buffer."""
    with MemoryWatch(pid) as memory:
        answers = upload_all(url, jobs, len(jobs))
    refused = [a.body for a in answers if a.status != 201]
    if refused:
        raise RuntimeError(f"{len(refused)} large bids refused, e.g. {refused[0]}")
    p50, p99 = percentiles_ms([a.seconds for a in answers])
    return answers, {
        "large_bids": len(answers),
        "large_bids_per_s": round(rate(answers), 2),
        "large_bid_p50_ms": p50,
        "large_bid_p99_ms": p99,
        "large_rss_growth_mib": memory.growth_mib,
    }


def run_surge(
    url: str, jobs: list[tuple[Path, dict[str, str]]], concurrency: int, engine: Any, lot_id: str
) -> tuple[list[Answer], list[float]]:
    """The burst into the deadline, with a writer taking the lot's lock now and then meanwhile."""
    probing = threading.Event()
    waits: list[float] = []
    probe = threading.Thread(target=probe_writer, args=(engine, lot_id, probing, waits), daemon=True)
    probe.start()
    try:
        return upload_all(url, jobs, concurrency), waits
    finally:
        probing.set()
        probe.join()


def probe_writer(engine: Any, lot_id: str, stop: threading.Event, waits: list[float]) -> None:
    """Take the lot ``FOR UPDATE`` as a deadline change would, and let go at once, until ``stop``."""
    while not stop.wait(0.25):
        with engine.connect() as conn:
            transaction = conn.begin()
            started = time.perf_counter()
            conn.execute(text("select id from trading.lots where id = :id for update"), {"id": lot_id})
            waits.append(time.perf_counter() - started)
            transaction.rollback()


if __name__ == "__main__":
    sys.exit(main())
