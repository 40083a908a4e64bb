"""Trading, as the evaluation calls it, and the work done outside requests: delivering signed
reports to trading until it has them, and sealing evaluations paused past their limit.

No transaction is held open across a call to trading: a report is claimed in one short
transaction, sent, and the outcome recorded in another. Sending twice is harmless (trading's
``PUT /lots/{id}/evaluation-report`` is idempotent); losing one is not, so a report stays pending
until trading has acknowledged it, retried with a capped backoff.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from fastapi import FastAPI, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.expert_pool.evaluation import service
from services.expert_pool.evaluation.models import EvaluationReportRecord, EvaluationSession
from services.expert_pool.settings import ExpertPoolSettings
from shared.auth import Principal
from shared.background import BackgroundLoop
from shared.clients.portal import PortalClient, ServiceTokenProvider
from shared.clients.trading import TradingClient
from shared.contracts.experts import EvaluationReport
from shared.contracts.trading import LotSummary, OpeningResult
from shared.db import db_now

log = logging.getLogger("expert_pool.evaluation")

# A claimed report is left alone by other deliverers this long (longer than one call can take).
CLAIM = timedelta(seconds=60)
FIRST_RETRY = timedelta(seconds=5)
MAX_RETRY = timedelta(minutes=5)
LOOP_INTERVAL_SECONDS = 5.0

_lock = threading.Lock()


class Trading(Protocol):
    """The part of :class:`TradingClient` the evaluation uses (tests give a fake)."""

    def lot_summary(self, lot_id: uuid.UUID) -> LotSummary: ...

    def opening_result(self, lot_id: uuid.UUID) -> OpeningResult: ...

    def submit_evaluation_report(self, report: EvaluationReport) -> None: ...


def trading_of(app: FastAPI) -> Trading:
    """``app.state.trading`` if set (a deployment, a test), else a client of ``EXPERT_POOL_TRADING_URL``
    with the expert pool's own service token (scopes ``trading:read trading:evaluation``)."""
    client: Trading | None = getattr(app.state, "trading", None)
    if client is not None:
        return client
    with _lock:
        client = getattr(app.state, "trading", None)
        if client is None:
            settings: ExpertPoolSettings = app.state.settings
            portal = PortalClient(settings.portal_url, timeout=settings.http_timeout_seconds)
            token = ServiceTokenProvider(
                portal,
                settings.client_id,
                settings.client_secret,
                audience="trading",
                scope="trading:read trading:evaluation",
            )
            client = TradingClient(settings.trading_url, timeout=settings.http_timeout_seconds, token_provider=token)
            app.state.trading = client
    return client


def trading(request: Request) -> Trading:
    return trading_of(request.app)


def system_principal(settings: ExpertPoolSettings, platform: str) -> Principal:
    """The expert pool itself, for steps no person takes (sealing on a timer, delivering)."""
    return Principal(subject=settings.client_id, typ="service", platform=platform)


def backoff(attempts: int) -> timedelta:
    return min(FIRST_RETRY * (1 << min(max(attempts - 1, 0), 16)), MAX_RETRY)


def _claim(session: Session, report_id: uuid.UUID, *, force: bool) -> EvaluationReportRecord | None:
    query = (
        select(EvaluationReportRecord)
        .where(EvaluationReportRecord.id == report_id, EvaluationReportRecord.delivered_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    if not force:
        query = query.where(EvaluationReportRecord.next_attempt_at <= func.clock_timestamp())
    record = session.scalars(query).one_or_none()
    if record is None:
        return None
    record.attempts += 1
    record.next_attempt_at = db_now(session) + CLAIM
    return record


def deliver(
    factory: Callable[[], Session], client: Trading, report_id: uuid.UUID, *, force: bool = False
) -> bool | None:
    """One delivery attempt: ``True`` delivered, ``False`` failed (retried later), ``None`` nothing
    to do (delivered before, or claimed by another deliverer). ``force`` ignores the backoff."""
    with factory() as session:
        record = _claim(session, report_id, force=force)
        if record is None:
            session.rollback()
            return None
        payload = EvaluationReport.model_validate(record.payload)
        attempts = record.attempts
        session.commit()
    try:
        client.submit_evaluation_report(payload)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the report stays pending and is retried
        with factory() as session:
            record = session.get(EvaluationReportRecord, report_id)
            assert record is not None  # noqa: S101 - never deleted
            record.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            record.next_attempt_at = db_now(session) + backoff(attempts)
            session.commit()
        log.warning("evaluation report %s not delivered (attempt %d): %s", report_id, attempts, exc)
        return False
    with factory() as session:
        record = session.get(EvaluationReportRecord, report_id, with_for_update=True)
        assert record is not None  # noqa: S101 - never deleted
        if record.delivered_at is None:
            record.delivered_at = db_now(session)
            record.last_error = None
            ev = session.get(EvaluationSession, record.session_id)
            assert ev is not None  # noqa: S101 - a foreign key
            service.audit(
                session,
                None,
                ev,
                "evaluation.report_delivered",
                {"report_sha256": record.sha256, "attempts": attempts, "delivered_at": record.delivered_at.isoformat()},
            )
        session.commit()
    return True


def due_reports(session: Session, limit: int = 20) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(EvaluationReportRecord.id)
            .where(
                EvaluationReportRecord.delivered_at.is_(None),
                EvaluationReportRecord.next_attempt_at <= func.clock_timestamp(),
            )
            .order_by(EvaluationReportRecord.next_attempt_at)
            .limit(limit)
        )
    )


def seal_overdue(factory: Callable[[], Session], settings: ExpertPoolSettings) -> int:
    """Seal every evaluation paused past its limit, each in its own transaction."""
    with factory() as session:
        overdue = service.overdue_pauses(session)
        session.rollback()
    sealed = 0
    for evaluation_id in overdue:
        try:
            with factory() as session:
                ev = service.load(session, evaluation_id)
                if service.seal_if_overdue(session, system_principal(settings, ev.platform), evaluation_id):
                    sealed += 1
                session.commit()
        except Exception:  # one evaluation that cannot be sealed must not keep the others open
            log.exception("could not seal evaluation %s", evaluation_id)
    return sealed


def run_once(factory: Callable[[], Session], client: Trading, settings: ExpertPoolSettings) -> None:
    seal_overdue(factory, settings)
    with factory() as session:
        due = due_reports(session)
        session.rollback()
    for report_id in due:
        deliver(factory, client, report_id)


class EvaluationLoop(BackgroundLoop):
    """A daemon thread running :func:`run_once` every few seconds until stopped."""

    def __init__(self, app: FastAPI, interval: float = LOOP_INTERVAL_SECONDS) -> None:
        self.app = app
        self.interval = interval
        super().__init__("evaluation-loop")

    def stop(self, timeout: float | None = None) -> None:
        super().stop(self.interval + 5 if timeout is None else timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                run_once(self.app.state.session_factory, trading_of(self.app), self.app.state.settings)
            except Exception:  # the loop must outlive one bad round; the error is logged
                log.exception("evaluation loop round failed")


def start_loop(app: FastAPI) -> None:
    """Runs with the audit relay: both ship this service's records to another service, and tests
    switch both off (``relay_enabled=False``) and drive :func:`run_once` themselves."""
    settings: ExpertPoolSettings = app.state.settings
    if not settings.relay_enabled:
        app.state.evaluation_loop = None
        return
    loop = EvaluationLoop(app)
    app.state.evaluation_loop = loop
    loop.start()


def stop_loop(app: FastAPI) -> None:
    loop: EvaluationLoop | None = getattr(app.state, "evaluation_loop", None)
    if loop is not None:
        loop.stop()
