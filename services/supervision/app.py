"""Supervision (监管平台) FastAPI app: ``uvicorn --factory services.supervision.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from services.supervision.credit.router import router as credit_router
from services.supervision.ingest.router import router as ingest_router
from services.supervision.ledger.router import router as ledger_router
from services.supervision.ledger.signer import start_signer, stop_signer
from services.supervision.settings import SupervisionSettings
from services.supervision.trail.router import router as trail_router
from shared.auth.deps import Authenticator
from shared.service_app import ServiceParts, create_service_app

DESCRIPTION = """晋城市公共资源交易监管平台 — every step of every trade recorded (数据全程留痕).

Receives audit events from the other platforms' outboxes exactly once and in order, and lets
supervisors (city: all; county: their own) search them."""


def create_app(
    settings: SupervisionSettings | None = None,
    *,
    engine: Engine | None = None,
    authenticator: Authenticator | None = None,
) -> FastAPI:
    return create_service_app(
        ServiceParts(
            settings=settings or SupervisionSettings(),
            title="Jincheng supervision (监管平台)",
            description=DESCRIPTION,
            routers=[ingest_router, ledger_router, trail_router, credit_router],
            engine=engine,
            authenticator=authenticator,
            on_startup=[start_signer],
            on_shutdown=[stop_signer],
        )
    )
