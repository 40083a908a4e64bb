"""Expert pool FastAPI app: ``uvicorn --factory services.expert_pool.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from services.expert_pool.registry.router import router as registry_router
from services.expert_pool.settings import ExpertPoolSettings
from shared.auth.deps import Authenticator
from shared.service_app import ServiceParts, create_service_app

DESCRIPTION = """评标专家库与远程异地评标 — the expert database, random draws and remote evaluation.

This release carries the specialty code list and expert records; draws and evaluation arrive with
later issues."""


def create_app(
    settings: ExpertPoolSettings | None = None,
    *,
    engine: Engine | None = None,
    authenticator: Authenticator | None = None,
) -> FastAPI:
    return create_service_app(
        ServiceParts(
            settings=settings or ExpertPoolSettings(),
            title="Jincheng expert pool (评标专家库)",
            description=DESCRIPTION,
            routers=[registry_router],
            engine=engine,
            authenticator=authenticator,
        )
    )
