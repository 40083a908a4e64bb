"""``make run``: database, migrations, seed, the four services as separate processes.

With no ``DATABASE_URL`` a private PostgreSQL starts under ``var/pgdata`` (kept between runs).
Ctrl-C stops the services and that PostgreSQL. ``--smoke`` starts everything, checks that all
four ``/ready`` answer, and stops (CI uses it).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shared.db import PROJECT_ROOT
from shared.settings import DEFAULT_PORTS, SERVICE_NAMES
from tools import devdb, migrate, seed

PGDATA = PROJECT_ROOT / "var" / "pgdata"
CURL_EXAMPLE = """\
  TOKEN=$(curl -s -X POST http://127.0.0.1:{portal}/auth/login -H 'Content-Type: application/json' \\
    -d '{{"username":"demo-operator","password":"{password}"}}' \\
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s http://127.0.0.1:{trading}/venues -H "Authorization: Bearer $TOKEN"
"""


def service_env(database_url: str, ports: dict[str, int]) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url
    for name in SERVICE_NAMES:
        prefix = name.upper()
        env[f"{prefix}_PORT"] = str(ports[name])
        for other in SERVICE_NAMES:
            env[f"{prefix}_{other.upper()}_URL"] = f"http://127.0.0.1:{ports[other]}"
    return env


Procs = dict[str, subprocess.Popen[bytes]]


def start_services(env: dict[str, str], ports: dict[str, int], log_dir: Path | None = None) -> Procs:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name in SERVICE_NAMES:
        out = (log_dir / f"{name}.log").open("ab") if log_dir else None
        procs[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                f"services.{name}.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(ports[name]),
                "--no-access-log",
            ],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
        )
        if out is not None:
            out.close()  # the child holds its own descriptor
    return procs


def wait_ready(ports: dict[str, int], procs: dict[str, subprocess.Popen[bytes]], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    pending = set(ports)
    while pending:
        for name in sorted(pending):
            if procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with code {procs[name].returncode} before it was ready")
            try:
                if httpx.get(f"http://127.0.0.1:{ports[name]}/ready", timeout=1.0).status_code == 200:
                    pending.discard(name)
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))}")
        time.sleep(0.2)


def stop_services(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            # Graceful shutdown waits for open connections (an opening hall's live feed, say).
            proc.kill()
            proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="start, check /ready of all four, stop")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    embedded = not database_url
    if embedded:
        database_url = devdb.start(PGDATA)
        os.environ["DATABASE_URL"] = database_url
        print(f"embedded PostgreSQL: {PGDATA}")
    ports = {name: int(os.environ.get(f"{name.upper()}_PORT", DEFAULT_PORTS[name])) for name in SERVICE_NAMES}
    migrate.upgrade_all(database_url)
    seed.main()
    procs = start_services(service_env(database_url, ports), ports)
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        wait_ready(ports, procs)
        print("\nJincheng public-resource trading platform is up:")
        for name in SERVICE_NAMES:
            print(f"  {name:<12} http://127.0.0.1:{ports[name]}   (docs: http://127.0.0.1:{ports[name]}/docs)")
        print("\nGet a token and call a service:")
        print(CURL_EXAMPLE.format(portal=ports["portal"], trading=ports["trading"], password=seed.DEMO_PASSWORD))
        if args.smoke:
            print("smoke: all four services ready")
            return 0
        print("\nCtrl-C stops everything.")
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited with code {proc.returncode}; stopping the platform", file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    finally:
        stop_services(procs)
        if embedded:
            devdb.stop(PGDATA)
        print("stopped")


if __name__ == "__main__":
    sys.exit(main())
