"""Apply every service's migrations: ``python -m tools.migrate [service ...]``."""

from __future__ import annotations

import os
import sys

from alembic import command
from alembic.config import Config

from shared.db import PROJECT_ROOT
from shared.settings import SERVICE_NAMES
from tools import devdb


def alembic_config(service: str, database_url: str | None = None) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"), ini_section=service)
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations" / service))
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def upgrade_all(database_url: str | None = None, services: tuple[str, ...] = SERVICE_NAMES) -> None:
    for service in services:
        command.upgrade(alembic_config(service, database_url), "head")


def check_all(database_url: str | None = None) -> None:
    """Fail if any model differs from its migrations (``alembic check`` for every tree)."""
    for service in SERVICE_NAMES:
        command.check(alembic_config(service, database_url))
        print(f"{service}: no drift")


def main() -> int:
    """Migrate (or, with ``--check``, migrate then check for drift). Without ``DATABASE_URL`` this
    uses the embedded PostgreSQL under ``var/pgdata``, the same one ``make run`` uses."""
    args = sys.argv[1:]
    pgdata = PROJECT_ROOT / "var" / "pgdata"
    embedded = not os.environ.get("DATABASE_URL")
    # With a configured database, each tree resolves its own URL (<SERVICE>_DATABASE_URL first).
    url = devdb.start(pgdata) if embedded else None
    try:
        if args[:1] == ["--check"]:
            upgrade_all(url)
            check_all(url)
        else:
            upgrade_all(url, services=tuple(args) or SERVICE_NAMES)
            print(f"migrated: {', '.join(tuple(args) or SERVICE_NAMES)}")
    finally:
        if embedded:
            devdb.stop(pgdata)
    return 0


if __name__ == "__main__":
    sys.exit(main())
