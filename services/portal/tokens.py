"""Issuing user token pairs (access + rotating refresh); shared by password, certificate and refresh."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from services.portal.identity.models import RefreshToken, User
from services.portal.keys.service import KeyRing, mint
from services.portal.settings import PortalSettings
from shared.auth.scopes import SERVICE_AUDIENCES
from shared.contracts.identity import TokenResponse
from shared.db import db_now


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_user_tokens(
    session: Session,
    ring: KeyRing,
    settings: PortalSettings,
    user: User,
    audience: list[str] | None,
    family_id: uuid.UUID | None = None,
) -> TokenResponse:
    aud = sorted(set(audience)) if audience else list(SERVICE_AUDIENCES)
    access, _ = mint(
        session,
        ring,
        subject=str(user.id),
        typ="user",
        audience=aud,
        roles=sorted(user.roles),
        org=str(user.organisation_id) if user.organisation_id else None,
        platform=user.platform,
        lifetime_seconds=settings.user_token_seconds,
    )
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id or uuid.uuid4(),
            token_hash=hash_refresh_token(refresh),
            audience=aud,
            expires_at=db_now(session) + timedelta(seconds=settings.refresh_token_seconds),
        )
    )
    return TokenResponse(
        access_token=access,
        expires_in=settings.user_token_seconds,
        refresh_token=refresh,
        refresh_expires_in=settings.refresh_token_seconds,
    )
