from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Depends, Form, Request

from services.portal.deps import key_ring, portal_settings
from services.portal.keys.service import KeyRing
from services.portal.oauth import service
from services.portal.oauth.models import ApiClient
from services.portal.oauth.schemas import ClientCreate, ClientOut, ClientWithSecret
from services.portal.settings import PortalSettings
from shared.auth import Principal, require
from shared.contracts.identity import TokenResponse
from shared.db import DbSession
from shared.errors import ApiError

router = APIRouter(tags=["oauth"])
admin = require("admin", typ="user")


def _out(client: ApiClient) -> ClientOut:
    return ClientOut(
        client_id=client.client_id,
        name=client.name,
        kind=client.kind,
        scopes=client.scopes,
        platform=client.platform,
        organisation_id=client.organisation_id,
        disabled=client.disabled_at is not None,
        created_at=client.created_at,
        secret_rotated_at=client.secret_rotated_at,
    )


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if sep else None


@router.post("/oauth/token", response_model=TokenResponse)
def token(
    session: DbSession,
    request: Request,
    grant_type: str = Form(...),
    scope: str = Form(""),
    audience: str = Form(...),
    client_id: str | None = Form(None),
    client_secret: str | None = Form(None),
    settings: PortalSettings = Depends(portal_settings),
    ring: KeyRing = Depends(key_ring),
) -> TokenResponse:
    """OAuth2 client-credentials grant for county sub-platforms and our own services. Authenticate
    with HTTP Basic (preferred) or ``client_id``/``client_secret`` form fields. ``audience`` names the
    service the token is for; tokens live at most 5 minutes."""
    if grant_type != "client_credentials":
        raise ApiError("仅支持 client_credentials 授权方式", code="unsupported_grant_type")
    credentials = _basic_credentials(request) or (
        (client_id, client_secret) if client_id and client_secret is not None else None
    )
    if credentials is None:
        raise service.InvalidClient("缺少客户端凭据")
    return service.client_credentials_grant(
        session, ring, settings, client_id=credentials[0], client_secret=credentials[1], scope=scope, audience=audience
    )


@router.post("/clients", status_code=201, response_model=ClientWithSecret, tags=["clients"])
def create_client(session: DbSession, body: ClientCreate, principal: Principal = Depends(admin)) -> ClientWithSecret:
    """Register an API client. The secret is returned once and stored only as a hash."""
    client, secret = service.create_client(session, principal, body)
    return ClientWithSecret(**_out(client).model_dump(), client_secret=secret)


@router.get("/clients/{client_id}", response_model=ClientOut, tags=["clients"])
def get_client(session: DbSession, client_id: str, principal: Principal = Depends(admin)) -> ClientOut:
    """One API client; another county's clients answer 404."""
    return _out(service.get_client(session, principal, client_id))


@router.post("/clients/{client_id}/rotate-secret", response_model=ClientWithSecret, tags=["clients"])
def rotate_secret(session: DbSession, client_id: str, principal: Principal = Depends(admin)) -> ClientWithSecret:
    """Issue a new secret; the old one stops working at once (tokens already issued run out)."""
    client, secret = service.rotate_secret(session, principal, client_id)
    return ClientWithSecret(**_out(client).model_dump(), client_secret=secret)


@router.post("/clients/{client_id}/disable", response_model=ClientOut, tags=["clients"])
def disable_client(session: DbSession, client_id: str, principal: Principal = Depends(admin)) -> ClientOut:
    """Disable a client: no new tokens, and its unexpired tokens are refused by every service within
    seconds (they read the portal's revocation list)."""
    return _out(service.disable_client(session, principal, client_id))
