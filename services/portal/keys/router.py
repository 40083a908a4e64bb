from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from services.portal.audit import emit
from services.portal.deps import portal_settings
from services.portal.keys import service
from services.portal.revocations import revoked_subjects
from services.portal.settings import PortalSettings
from shared.auth import Principal, ensure_city, require
from shared.db import DbSession

router = APIRouter(tags=["keys"])


@router.get("/.well-known/jwks.json", tags=["public"])
def jwks(session: DbSession) -> dict[str, Any]:
    """Public keys that verify portal tokens: the active key and retired keys whose tokens may
    still be unexpired."""
    return {"keys": service.published_jwks(session)}


@router.get("/.well-known/revocations", tags=["public"])
def revocations(session: DbSession) -> dict[str, Any]:
    """Disabled users and clients with the time (epoch seconds) they were disabled; tokens issued
    at or before that time must be refused."""
    return {"revoked": [{"sub": sub, "revoked_at": at} for sub, at in sorted(revoked_subjects(session).items())]}


@router.post("/keys/rotate", tags=["keys"])
def rotate(
    session: DbSession,
    principal: Principal = Depends(require("admin", typ="user")),
    settings: PortalSettings = Depends(portal_settings),
) -> dict[str, Any]:
    """Rotate the signing key (city admin). Retired keys stay published until their tokens expire."""
    ensure_city(principal)
    new, retired = service.rotate(session, settings.key_encryption_secret)
    emit(
        session,
        principal=principal,
        action="signing_key.rotated",
        object_type="signing_key",
        object_id=new.kid,
        platform=principal.platform,
        change={"retired": retired},
    )
    return {"kid": new.kid, "retired": retired}
