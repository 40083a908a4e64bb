"""Portal (服务平台) FastAPI app: ``uvicorn --factory services.portal.app:create_app``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from services.portal.identity.auth_router import router as auth_router
from services.portal.identity.router import router as identity_router
from services.portal.keys.router import router as keys_router
from services.portal.keys.service import KeyRing, mint, published_jwks
from services.portal.oauth.router import router as oauth_router
from services.portal.revocations import revoked_subjects
from services.portal.settings import PortalSettings
from shared.auth.deps import Authenticator
from shared.auth.keys import CallableKeySource
from shared.auth.revocations import CallableRevocations
from shared.certificates import TrustStore
from shared.service_app import ServiceParts, create_service_app

DESCRIPTION = """晋城市公共资源交易服务平台 — the single entry point (统一入口一体化登录).

Organisations, users and roles bound to the city platform or a county sub-platform; password and
certificate login (certificates of every CA in the trust list are accepted: 数字证书互认); OAuth2
client credentials for county sub-platforms and services; ES256 tokens with a JWKS for offline
verification. Errors always come as `{"error": {"code", "message", "details"}}`."""


def create_app(
    settings: PortalSettings | None = None, *, engine: Engine | None = None, authenticator: Authenticator | None = None
) -> FastAPI:
    settings = settings or PortalSettings()
    ring = KeyRing(settings.key_encryption_secret)
    holder: dict[str, FastAPI] = {}

    def load_jwks() -> list[dict[str, Any]]:
        with holder["app"].state.session_factory() as session:
            return published_jwks(session)

    def load_revocations() -> dict[str, int]:
        with holder["app"].state.session_factory() as session:
            return revoked_subjects(session)

    def relay_token() -> str:
        # The portal is the issuer, so it signs its own ingestion token instead of calling itself.
        with holder["app"].state.session_factory.begin() as session:
            token, _ = mint(
                session,
                ring,
                subject=settings.client_id,
                typ="service",
                audience=["supervision"],
                roles=[],
                org=None,
                platform="jincheng",
                lifetime_seconds=settings.service_token_seconds,
                scope="audit:ingest:portal",
            )
            return token

    parts = ServiceParts(
        settings=settings,
        title="Jincheng portal (服务平台)",
        description=DESCRIPTION,
        routers=[auth_router, keys_router, oauth_router, identity_router],
        engine=engine,
        authenticator=authenticator
        or Authenticator(
            audience="portal",
            keys=CallableKeySource(load_jwks),
            revocations=CallableRevocations(load_revocations, ttl=settings.revocation_cache_seconds),
        ),
        relay_token_provider=relay_token,
    )
    app = create_service_app(parts)
    holder["app"] = app
    app.state.key_ring = ring
    app.state.trust_store = TrustStore.from_pem_files([Path(p) for p in settings.trusted_ca_paths()])
    return app
