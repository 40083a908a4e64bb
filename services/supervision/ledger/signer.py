"""The background thread that signs a tree head at least every interval while the ledger grows."""

from __future__ import annotations

import logging
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from services.supervision.ledger.models import LedgerTreeHead
from services.supervision.ledger.tree_heads import sign_if_grown
from shared.background import BackgroundLoop
from shared.db import make_session_factory
from shared.ed25519_keys import signing_key

log = logging.getLogger("services.supervision.ledger.signer")


class TreeHeadSigner(BackgroundLoop):
    def __init__(self, sessions: Callable[[], Session], key: Ed25519PrivateKey, interval: float) -> None:
        self._sessions = sessions
        self._key = key
        self._interval = interval
        super().__init__("ledger-tree-head-signer")

    def sign_once(self) -> LedgerTreeHead | None:
        """Sign if the ledger grew since the last tree head; returns the new head or None."""
        with self._sessions() as session, session.begin():
            # Never wait indefinitely on a lock: a stuck signer would also hold up shutdown.
            session.execute(text("set local lock_timeout = '5s'"))
            session.execute(text("set local statement_timeout = '60s'"))
            return sign_if_grown(session, self._key)

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                head = self.sign_once()
            except Exception:  # keep signing later; the failure is logged with its traceback
                log.exception("signing a ledger tree head failed")
                continue
            if head is not None:
                log.info("signed ledger tree head of size %d", head.tree_size)


def start_signer(app: FastAPI) -> None:
    """App startup hook. Sessions come from the engine, not ``app.state.session_factory``: the
    signer commits on its own schedule, outside any request's transaction."""
    settings = app.state.settings
    app.state.ledger_signer = None
    if not settings.ledger_signer_enabled:
        return
    engine: Engine = app.state.engine
    signer = TreeHeadSigner(
        make_session_factory(engine), signing_key(settings.ledger_signing_key), settings.ledger_sign_interval_seconds
    )
    signer.start()
    app.state.ledger_signer = signer


def stop_signer(app: FastAPI) -> None:
    signer: TreeHeadSigner | None = getattr(app.state, "ledger_signer", None)
    if signer is not None:
        signer.stop()
        app.state.ledger_signer = None
