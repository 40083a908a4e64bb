"""Supervision (监管平台) FastAPI app: ``uvicorn --factory services.supervision.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from services.supervision.complaints.router import router as complaints_router
from services.supervision.credit.router import router as credit_router
from services.supervision.ingest.router import router as ingest_router
from services.supervision.ledger.router import router as ledger_router
from services.supervision.ledger.signer import start_signer, stop_signer
from services.supervision.settings import SupervisionSettings
from services.supervision.trail.router import router as trail_router
from shared.auth.deps import Authenticator
from shared.clients.portal import PortalClient, ServiceTokenProvider
from shared.clients.trading import TradingClient
from shared.service_app import ServiceParts, create_service_app

DESCRIPTION = """晋城市公共资源交易监管平台 — every step of every trade recorded (数据全程留痕).

Receives audit events from the other platforms' outboxes exactly once and in order into a
tamper-evident ledger (hash chain, RFC 6962 Merkle tree, signed tree heads, proofs); lets supervisors
(city: all; county: their own) search them; keeps bad-behaviour records and the credit status
trading and the expert pool ask for; and handles complaints (投诉) with the law's deadlines."""


def trading_client(settings: SupervisionSettings) -> TradingClient:
    """Trading, called with supervision's own service token (lot look-ups and suspensions)."""
    portal = PortalClient(settings.portal_url, timeout=settings.http_timeout_seconds)
    token = ServiceTokenProvider(
        portal, settings.client_id, settings.client_secret, audience="trading", scope="trading:read trading:suspend"
    )
    return TradingClient(settings.trading_url, timeout=settings.http_timeout_seconds, token_provider=token)


def create_app(
    settings: SupervisionSettings | None = None,
    *,
    engine: Engine | None = None,
    authenticator: Authenticator | None = None,
) -> FastAPI:
    settings = settings or SupervisionSettings()
    app = create_service_app(
        ServiceParts(
            settings=settings,
            title="Jincheng supervision (监管平台)",
            description=DESCRIPTION,
            routers=[ingest_router, ledger_router, trail_router, credit_router, complaints_router],
            engine=engine,
            authenticator=authenticator,
            on_startup=[start_signer],
            on_shutdown=[stop_signer],
        )
    )
    app.state.trading = trading_client(settings)
    return app
