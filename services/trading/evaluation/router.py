from __future__ import annotations

import threading
import uuid

from fastapi import APIRouter, Depends, Header, Request, Response

from services.trading.evaluation import service
from services.trading.evaluation.models import EvaluationReportRecord
from services.trading.evaluation.schemas import EvaluationReportOut, ExpertDrawIn, ExpertDrawOut
from services.trading.settings import TradingSettings
from shared.auth import Principal, require
from shared.clients.expert_pool import ExpertPoolClient
from shared.clients.portal import PortalClient, ServiceTokenProvider
from shared.contracts.experts import Candidate, EvaluationReport, RejectedBid
from shared.db import DbSession
from shared.errors import Unprocessable

router = APIRouter(tags=["evaluation"])
organisers = require("tenderee", "agency", "operator", "admin", typ="user")
readers = require("tenderee", "agency", "operator", "admin", "supervisor", typ="user")
expert_pool_service = require(typ="service", scopes=("trading:evaluation",))
_lock = threading.Lock()

IDEMPOTENCY_KEY = Header(
    alias="Idempotency-Key",
    min_length=1,
    max_length=100,
    description="any unique string per draw request: a retry with it returns the same draw, never a second panel",
)


def expert_pool_client(request: Request) -> ExpertPoolClient:
    """``app.state.expert_pool`` if a deployment (or a test) set one, else a client of
    ``TRADING_EXPERT_POOL_URL`` with trading's own service token (scope ``experts:draw``)."""
    client: ExpertPoolClient | None = getattr(request.app.state, "expert_pool", None)
    if client is not None:
        return client
    with _lock:
        client = getattr(request.app.state, "expert_pool", None)
        if client is None:
            settings: TradingSettings = request.app.state.settings
            portal = PortalClient(settings.portal_url, timeout=settings.http_timeout_seconds)
            token = ServiceTokenProvider(
                portal, settings.client_id, settings.client_secret, audience="expert_pool", scope="experts:draw"
            )
            client = ExpertPoolClient(
                settings.expert_pool_url, timeout=settings.http_timeout_seconds, token_provider=token
            )
            request.app.state.expert_pool = client
    return client


@router.post("/lots/{lot_id}/expert-draws", status_code=201, response_model=ExpertDrawOut)
def request_draw(
    lot_id: uuid.UUID,
    body: ExpertDrawIn,
    response: Response,
    session: DbSession,
    principal: Principal = Depends(organisers),
    client: ExpertPoolClient = Depends(expert_pool_client),
    idempotency_key: str = IDEMPOTENCY_KEY,
) -> ExpertDrawOut:
    """Ask the expert pool to draw the evaluation committee (抽取评标专家) for a lot, after the bid
    deadline: the project's tenderee or agency, or trading-centre staff. Trading adds the lot's law,
    budget, region and every bidder (for avoidance) to your request.

    The answer carries counts and status only: the experts' names stay sealed in the expert pool
    until the result is decided (招标投标法 第三十七条). The committee's size is checked there (odd,
    at least 5; at least 7 for government procurement of 10,000,000 CNY or more): its refusals come
    back with their code. Before the deadline 409 ``bidding_not_closed``; a lot without bids 409
    ``no_bids``. The same ``Idempotency-Key`` returns the same draw (200); with another body 422
    ``idempotency_key_reused``."""
    out, created = service.request_draw(session, principal, lot_id, body, idempotency_key, client)
    if not created:
        response.status_code = 200
    return out


@router.get("/lots/{lot_id}/expert-draws", response_model=list[ExpertDrawOut])
def list_draws(
    lot_id: uuid.UUID,
    session: DbSession,
    principal: Principal = Depends(readers),
    client: ExpertPoolClient = Depends(expert_pool_client),
) -> list[ExpertDrawOut]:
    """The lot's draws with their current counts (accepted, declined, reserves left) as the expert
    pool reports them: the organiser, trading-centre staff and supervisors."""
    return service.draws_of(session, principal, lot_id, client)


@router.put("/lots/{lot_id}/evaluation-report", response_model=EvaluationReportOut)
def receive_report(
    lot_id: uuid.UUID,
    body: EvaluationReport,
    response: Response,
    session: DbSession,
    principal: Principal = Depends(expert_pool_service),
) -> EvaluationReportOut:
    """For the expert pool (scope ``trading:evaluation``): the committee's report (评标报告) with up
    to three ranked candidates. ``report_sha256`` must be the SHA-256 of the canonical JSON of
    ``report`` (sorted keys, no whitespace, UTF-8). Sending the same report again answers 200 and
    changes nothing (201 the first time); a different report for the lot 409 ``report_exists``."""
    if body.lot_id != lot_id:
        raise Unprocessable("报告中的标段与地址中的标段不一致", code="lot_mismatch")
    created = service.receive_report(session, principal, lot_id, body)
    response.status_code = 201 if created else 200
    return _report_out(service.report_of_service(session, lot_id))


@router.get("/lots/{lot_id}/evaluation-report", response_model=EvaluationReportOut)
def get_report(lot_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)) -> EvaluationReportOut:
    """The committee's report for the lot: the project's tenderee or agency, trading-centre staff
    and supervisors. 404 ``report_not_found`` until the expert pool has returned it."""
    return _report_out(service.report_of(session, principal, lot_id))


def _report_out(record: EvaluationReportRecord) -> EvaluationReportOut:
    return EvaluationReportOut(
        lot_id=record.lot_id,
        evaluation_id=record.evaluation_id,
        method=record.method,
        candidates=[Candidate.model_validate(c) for c in record.candidates],
        rejected=[RejectedBid.model_validate(r) for r in record.rejected],
        report=record.report,
        report_sha256=record.report_sha256,
        completed_at=record.completed_at,
        received_at=record.received_at,
    )
