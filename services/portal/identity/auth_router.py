"""Login: password, certificate (any trusted CA), and refresh."""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from services.portal.audit import emit
from services.portal.deps import key_ring, portal_settings
from services.portal.identity import service
from services.portal.identity.models import CertChallenge, User
from services.portal.identity.schemas import CertChallengeOut, CertLoginRequest, LoginRequest, RefreshRequest
from services.portal.keys.service import KeyRing
from services.portal.settings import PortalSettings
from services.portal.tokens import issue_user_tokens
from shared.certificates import (
    CertificateRejected,
    TrustStore,
    verify_certificate,
    verify_signature,
)
from shared.contracts.identity import TokenResponse
from shared.db import DbSession, db_now
from shared.errors import ApiError, Unauthenticated

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=TokenResponse)
def login(
    session: DbSession,
    body: LoginRequest,
    settings: PortalSettings = Depends(portal_settings),
    ring: KeyRing = Depends(key_ring),
) -> TokenResponse:
    """Password login. Five failures in a row lock the account for 15 minutes (configurable)."""
    try:
        user = service.password_login(session, settings, body.username, body.password)
    except ApiError:
        # The failure count and its audit event must outlive the refusal.
        session.commit()
        raise
    return issue_user_tokens(session, ring, settings, user, list(body.audience or []))


@router.post("/refresh", response_model=TokenResponse)
def refresh(
    session: DbSession,
    body: RefreshRequest,
    settings: PortalSettings = Depends(portal_settings),
    ring: KeyRing = Depends(key_ring),
) -> TokenResponse:
    """Exchange a refresh token for a new pair. Each refresh token works once."""
    try:
        user, used = service.consume_refresh_token(session, body.refresh_token)
    except ApiError:
        session.commit()  # keep the family revocation when a reused token was presented
        raise
    return issue_user_tokens(session, ring, settings, user, used.audience, family_id=used.family_id)


def challenge_text(challenge: CertChallenge) -> str:
    return f"jincheng-portal-login:{challenge.id}:{challenge.nonce}"


@router.post("/cert/challenge", response_model=CertChallengeOut, status_code=201)
def cert_challenge(session: DbSession, settings: PortalSettings = Depends(portal_settings)) -> CertChallengeOut:
    """A one-time challenge to sign with the private key of your certificate (valid 2 minutes)."""
    challenge = CertChallenge(
        nonce=secrets.token_urlsafe(32), expires_at=db_now(session) + timedelta(seconds=settings.cert_challenge_seconds)
    )
    session.add(challenge)
    session.flush()
    return CertChallengeOut(
        challenge_id=challenge.id,
        nonce=challenge.nonce,
        expires_at=challenge.expires_at,
        sign_this=challenge_text(challenge),
    )


@router.post("/cert/login", response_model=TokenResponse)
def cert_login(
    session: DbSession,
    body: CertLoginRequest,
    request: Request,
    settings: PortalSettings = Depends(portal_settings),
    ring: KeyRing = Depends(key_ring),
) -> TokenResponse:
    """Certificate login (数字证书互认): a certificate from any CA in the trust list, its chain, and
    a signature over ``sign_this`` of a fresh challenge."""
    challenge = session.scalars(
        select(CertChallenge).where(CertChallenge.id == body.challenge_id).with_for_update()
    ).first()
    now = db_now(session)
    if challenge is None or challenge.used_at is not None or challenge.expires_at <= now:
        raise Unauthenticated("登录挑战无效或已过期", code="invalid_challenge")
    challenge.used_at = now
    store: TrustStore = request.app.state.trust_store
    try:
        signature = base64.b64decode(body.signature_b64, validate=True)
        identity = verify_certificate(
            body.certificate_pem.encode(), [p.encode() for p in body.intermediates_pem], store, at=now
        )
        verify_signature(body.certificate_pem.encode(), challenge_text(challenge).encode(), signature)
    except (binascii.Error, ValueError):
        session.commit()  # the challenge is spent either way
        raise Unauthenticated("签名格式错误", code="invalid_certificate", details={"reason": "malformed"}) from None
    except CertificateRejected as exc:
        session.commit()
        raise Unauthenticated(
            f"数字证书验证失败：{exc}", code="invalid_certificate", details={"reason": exc.reason}
        ) from None
    user = (
        session.scalars(select(User).where(User.cert_subject_serial == identity.subject_serial)).first()
        if identity.subject_serial
        else None
    )
    if user is None or user.disabled_at is not None:
        session.commit()
        raise Unauthenticated("该证书未绑定可用的用户", code="certificate_not_bound")
    emit(
        session,
        principal=None,
        actor=str(user.id),
        actor_role="anonymous",
        action="login.certificate",
        object_type="user",
        object_id=str(user.id),
        platform=user.platform,
        organisation=str(user.organisation_id) if user.organisation_id else None,
        change={
            "issuer": identity.issuer,
            "serial": identity.serial_number,
            "fingerprint": identity.fingerprint_sha256,
        },
    )
    return issue_user_tokens(session, ring, settings, user, list(body.audience or []))
