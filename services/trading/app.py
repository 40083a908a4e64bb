"""Trading (交易平台) FastAPI app: ``uvicorn --factory services.trading.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from services.trading.bids import state as bids_state
from services.trading.bids.router import router as bids_router
from services.trading.catalogue.router import router as catalogue_router
from services.trading.documents.router import router as documents_router
from services.trading.evaluation.router import router as evaluation_router
from services.trading.lots.router import router as lots_router
from services.trading.notices.public import router as public_notices_router
from services.trading.notices.router import router as notices_router
from services.trading.opening.router import router as opening_router
from services.trading.projects.router import router as projects_router
from services.trading.settings import TradingSettings
from services.trading.venues.router import router as venues_router
from shared.auth.deps import Authenticator
from shared.service_app import ServiceParts, create_service_app

DESCRIPTION = """晋城市公共资源交易平台 (交易平台) — projects, tenders and encrypted bids.

The trading catalogue, project registration, lots checked against the law, tender notices and
documents, clarifications and objections, encrypted bid submission with signed receipts (the
envelope format is open: docs/bid-envelope.md), and remote opening: sign-in, key release and
decryption, the opening record, objections and a live feed for the hall (docs/opening.md)."""


def create_app(
    settings: TradingSettings | None = None, *, engine: Engine | None = None, authenticator: Authenticator | None = None
) -> FastAPI:
    settings = settings or TradingSettings()
    app = create_service_app(
        ServiceParts(
            settings=settings,
            title="Jincheng trading (交易平台)",
            description=DESCRIPTION,
            routers=[
                catalogue_router,
                projects_router,
                lots_router,
                notices_router,
                documents_router,
                public_notices_router,
                bids_router,
                opening_router,
                evaluation_router,
                venues_router,
            ],
            engine=engine,
            authenticator=authenticator,
            on_shutdown=[bids_state.stop],
        )
    )
    bids_state.install(app, settings)
    return app
