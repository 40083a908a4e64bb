"""API clients and the client-credentials grant (RFC 6749 §4.4)."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from services.portal.audit import emit
from services.portal.identity.passwords import hash_password, verify_password
from services.portal.keys.service import KeyRing, mint
from services.portal.oauth.models import ApiClient
from services.portal.oauth.schemas import ClientCreate
from services.portal.settings import PortalSettings
from shared.auth import Principal, ensure_platform_access
from shared.auth.scopes import SERVICE_AUDIENCES
from shared.contracts.identity import TokenResponse
from shared.db import db_now, insert_new
from shared.errors import ApiError, Conflict, Forbidden, NotFound, Unauthenticated
from shared.platforms import can_access


class InvalidClient(Unauthenticated):
    code = "invalid_client"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def create_client(
    session: Session, principal: Principal, data: ClientCreate, secret: str | None = None
) -> tuple[ApiClient, str]:
    platform = data.platform or principal.platform
    if not can_access(principal.platform, platform):
        raise Forbidden("不能为其他县（市、区）平台创建客户端", code="forbidden_platform")
    if data.kind == "service" and not principal.is_city:
        raise Forbidden("服务客户端只能由市级管理员创建", code="city_only")
    secret = secret or new_secret()
    client = ApiClient(
        client_id=data.client_id,
        name=data.name,
        kind=data.kind,
        scopes=data.scopes,
        platform=platform,
        organisation_id=data.organisation_id,
        secret_hash=hash_password(secret),
    )
    if not insert_new(session, client):
        raise Conflict("客户端标识已存在", code="client_exists")
    emit(
        session,
        principal=principal,
        action="client.created",
        object_type="api_client",
        object_id=client.client_id,
        platform=platform,
        change={"kind": client.kind, "scopes": client.scopes},
    )
    return client, secret


def get_client(session: Session, principal: Principal, client_id: str) -> ApiClient:
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFound("客户端不存在")
    ensure_platform_access(principal, client.platform, what="客户端")
    return client


def rotate_secret(session: Session, principal: Principal, client_id: str) -> tuple[ApiClient, str]:
    client = get_client(session, principal, client_id)
    secret = new_secret()
    client.secret_hash = hash_password(secret)
    client.secret_rotated_at = db_now(session)
    emit(
        session,
        principal=principal,
        action="client.secret_rotated",
        object_type="api_client",
        object_id=client.client_id,
        platform=client.platform,
        change={},
    )
    return client, secret


def disable_client(session: Session, principal: Principal, client_id: str) -> ApiClient:
    client = get_client(session, principal, client_id)
    if client.disabled_at is None:
        client.disabled_at = db_now(session)
        emit(
            session,
            principal=principal,
            action="client.disabled",
            object_type="api_client",
            object_id=client.client_id,
            platform=client.platform,
            change={},
        )
    return client


def client_credentials_grant(
    session: Session,
    ring: KeyRing,
    settings: PortalSettings,
    *,
    client_id: str,
    client_secret: str,
    scope: str,
    audience: str,
) -> TokenResponse:
    client = session.get(ApiClient, client_id)
    if client is None or not verify_password(client.secret_hash, client_secret) or client.disabled_at is not None:
        raise InvalidClient("客户端认证失败")
    if audience not in SERVICE_AUDIENCES:
        raise ApiError("audience 必须是 portal、trading、expert_pool 或 supervision 之一", code="invalid_audience")
    requested = set(scope.split()) if scope.strip() else set(client.scopes)
    if not requested <= set(client.scopes):
        raise ApiError(
            "请求的权限范围超出客户端授权",
            code="invalid_scope",
            details={"not_granted": sorted(requested - set(client.scopes))},
        )
    granted = " ".join(sorted(requested))
    token, _ = mint(
        session,
        ring,
        subject=client.client_id,
        typ="service",
        audience=[audience],
        roles=[],
        org=str(client.organisation_id) if client.organisation_id else None,
        platform=client.platform,
        lifetime_seconds=settings.service_token_seconds,
        scope=granted,
    )
    return TokenResponse(access_token=token, expires_in=settings.service_token_seconds, scope=granted)
