"""Trading (交易平台) FastAPI app: ``uvicorn --factory services.trading.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from services.trading.settings import TradingSettings
from services.trading.venues.router import router as venues_router
from shared.auth.deps import Authenticator
from shared.service_app import ServiceParts, create_service_app

DESCRIPTION = """晋城市公共资源交易平台 (交易平台) — projects, tenders, encrypted bids and remote opening.

This release carries the venues of each platform; tendering and bidding arrive with later issues."""


def create_app(
    settings: TradingSettings | None = None, *, engine: Engine | None = None, authenticator: Authenticator | None = None
) -> FastAPI:
    return create_service_app(
        ServiceParts(
            settings=settings or TradingSettings(),
            title="Jincheng trading (交易平台)",
            description=DESCRIPTION,
            routers=[venues_router],
            engine=engine,
            authenticator=authenticator,
        )
    )
