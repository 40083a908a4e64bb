"""Verify supervision's audit ledger end to end: ``python -m tools.verify_audit`` (``make verify-audit``).

Recomputes every leaf from its ``audit_events`` row, the hash chain, every stored tree node, and
every stored signed tree head (root, chain head, signature). With ``--tree-head FILE`` (a tree head
saved earlier from ``GET /ledger/tree-heads/latest``) it also proves, by an RFC 6962 consistency
proof, that the current ledger extends that one, so rows removed from the end are caught too.

Prints OK with the counts, or the problems found (the first bad leaf first). Exit status: 0 OK,
1 the ledger failed verification, 2 the check could not be run (bad arguments, no database).

The database is ``--database-url``, else ``SUPERVISION_DATABASE_URL`` / ``DATABASE_URL``, else the
embedded PostgreSQL under ``var/pgdata`` (as ``make run`` uses it). The trusted public key is
``--public-key`` (PEM, or base64 of the raw 32 bytes, or a file holding either), else the key of
``SUPERVISION_LEDGER_SIGNING_KEY`` on this machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import create_engine, inspect

from services.supervision.ledger.tree_heads import SignedTreeHead
from services.supervision.ledger.verify import verify_database
from services.supervision.settings import SupervisionSettings
from shared.db import PROJECT_ROOT
from shared.ed25519_keys import load_public_key, signing_key
from shared.settings import normalise_database_url
from tools import devdb

USAGE_ERROR = 2


class CannotVerify(Exception):
    """The verification could not be run; says why."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.verify_audit", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--tree-head", type=Path, metavar="FILE", help="a signed tree head saved earlier (JSON)")
    parser.add_argument("--public-key", metavar="KEY", help="trusted public key: PEM, base64, or a file of either")
    parser.add_argument("--database-url", metavar="URL", help="default: SUPERVISION_DATABASE_URL or DATABASE_URL")
    args = parser.parse_args(argv)
    try:
        saved = _read_tree_head(args.tree_head) if args.tree_head else None
        settings = SupervisionSettings()
        public_key = _public_key(args.public_key, settings.ledger_signing_key)
        return _verify(args.database_url or settings.database_url, public_key, saved)
    except CannotVerify as exc:
        print(f"cannot verify: {exc}", file=sys.stderr)
        return USAGE_ERROR


def _verify(url: str, public_key: Ed25519PublicKey, saved: SignedTreeHead | None) -> int:
    pgdata = PROJECT_ROOT / "var" / "pgdata"
    embedded = not url
    # Stop the embedded server afterwards only if this run started it (make run may be using it).
    started_here = embedded and not (pgdata / "postmaster.pid").exists()
    if embedded:
        url = devdb.start(pgdata)
    engine = create_engine(normalise_database_url(url))
    try:
        if not inspect(engine).has_table("ledger_leaves", schema="supervision"):
            raise CannotVerify("the database has no supervision ledger (run `make migrate`)")
        report = verify_database(engine, public_key, saved)
    finally:
        engine.dispose()
        if started_here:
            devdb.stop(pgdata)
    print(report.render())
    return 0 if report.ok else 1


def _read_tree_head(path: Path) -> SignedTreeHead:
    try:
        return SignedTreeHead.from_json(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise CannotVerify(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError too
        raise CannotVerify(f"{path} is not a signed tree head: {exc}") from None


def _public_key(given: str | None, setting: str) -> Ed25519PublicKey:
    if given is None:
        return signing_key(setting).public_key()
    try:
        text = given if given.lstrip().startswith("-----BEGIN") or not _is_file(given) else Path(given).read_text()
        return load_public_key(text)
    except (OSError, ValueError) as exc:
        raise CannotVerify(f"unusable public key: {exc}") from None


def _is_file(name: str) -> bool:
    try:
        return Path(name).is_file()
    except OSError:  # e.g. a base64 key longer than a file name may be
        return False


if __name__ == "__main__":
    sys.exit(main())
