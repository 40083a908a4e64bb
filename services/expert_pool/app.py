"""Expert pool FastAPI app: ``uvicorn --factory services.expert_pool.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from services.expert_pool.draws import notifications as draw_notifications
from services.expert_pool.draws.router import router as draws_router
from services.expert_pool.evaluation import delivery as evaluation_delivery
from services.expert_pool.evaluation.router import router as evaluation_router
from services.expert_pool.registry.router import router as registry_router
from services.expert_pool.settings import ExpertPoolSettings
from shared.auth.deps import Authenticator
from shared.service_app import ServiceParts, create_service_app

DESCRIPTION = """评标专家库与远程异地评标 — the expert database, random draws and remote evaluation.

The expert registry (ID numbers encrypted at rest, entry rules, CSV import, declared conflicts),
provably fair draws with avoidance, reserves and a sealed list (docs/draw.md), and remote
cross-site evaluation: check-in at venues, scoring, corrections, the report returned to trading
(docs/evaluation.md)."""


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
            routers=[registry_router, draws_router, evaluation_router],
            engine=engine,
            authenticator=authenticator,
            # Background loops started with the app: experts' draw notifications; signed evaluation
            # reports delivered to trading, and evaluations paused past their limit sealed.
            on_startup=[draw_notifications.install, evaluation_delivery.start_loop],
            on_shutdown=[draw_notifications.uninstall, evaluation_delivery.stop_loop],
        )
    )
