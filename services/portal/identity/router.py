from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from services.portal.identity import service
from services.portal.identity.models import Organisation, User
from services.portal.identity.schemas import OrganisationCreate, OrganisationOut, UserCreate, UserOut
from shared.auth import ROLES, Principal, require
from shared.db import BIGINT_MAX, DbSession
from shared.errors import NotFound
from shared.platforms import PLATFORMS

router = APIRouter(tags=["identity"])
staff = require("operator", "admin", typ="user")
admin = require("admin", typ="user")


def _org_out(org: Organisation) -> OrganisationOut:
    return OrganisationOut(
        id=org.id,
        name=org.name,
        credit_code=org.credit_code,
        org_type=org.org_type,
        platform=org.platform,
        created_at=org.created_at,
    )


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=user.roles,
        platform=user.platform,
        organisation_id=user.organisation_id,
        cert_subject_serial=user.cert_subject_serial,
        disabled=user.disabled_at is not None,
        created_at=user.created_at,
    )


@router.post("/organisations", status_code=201, response_model=OrganisationOut)
def create_organisation(
    session: DbSession, body: OrganisationCreate, principal: Principal = Depends(staff)
) -> OrganisationOut:
    """Register an organisation (bidder, tenderee, agency, trading centre or supervisor department),
    identified by its unified social credit code. County staff register on their own platform only."""
    return _org_out(service.create_organisation(session, principal, body))


@router.get("/organisations/{org_id}", response_model=OrganisationOut)
def get_organisation(session: DbSession, org_id: uuid.UUID, principal: Principal = Depends(staff)) -> OrganisationOut:
    """One organisation; another county's organisations answer 404."""
    return _org_out(service.get_organisation(session, principal, org_id))


@router.get("/organisations", response_model=list[OrganisationOut])
def list_organisations(
    session: DbSession,
    principal: Principal = Depends(staff),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=BIGINT_MAX),
) -> list[OrganisationOut]:
    """Organisations the caller may see (its platform; all for city staff), oldest first."""
    query = select(Organisation).order_by(Organisation.created_at, Organisation.id)
    if not principal.is_city:
        query = query.where(Organisation.platform == principal.platform)
    rows = session.scalars(query.limit(limit).offset(offset))
    return [_org_out(o) for o in rows]


@router.post("/users", status_code=201, response_model=UserOut)
def create_user(session: DbSession, body: UserCreate, principal: Principal = Depends(admin)) -> UserOut:
    """Create a user bound to one platform with one or more roles, and a password and/or the subject
    serial number that certificates from any trusted CA carry for this person."""
    return _user_out(service.create_user(session, principal, body))


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(session: DbSession, user_id: uuid.UUID, principal: Principal = Depends(admin)) -> UserOut:
    """One user; another county's users answer 404."""
    return _user_out(service.get_user(session, principal, user_id))


@router.post("/users/{user_id}/disable", response_model=UserOut)
def disable_user(session: DbSession, user_id: uuid.UUID, principal: Principal = Depends(admin)) -> UserOut:
    """Disable a user: refresh tokens are revoked and access tokens stop working within seconds."""
    return _user_out(service.disable_user(session, principal, user_id))


@router.get("/me", response_model=UserOut)
def me(session: DbSession, principal: Principal = Depends(require(*ROLES, typ="user"))) -> UserOut:
    """The calling user, as the portal knows them."""
    try:
        user_id = uuid.UUID(principal.subject)
    except ValueError:
        raise NotFound("用户不存在") from None
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在")
    return _user_out(user)


@router.get("/platforms", tags=["public"])
def platforms() -> list[dict[str, object]]:
    """The 1+4 platforms and the GB/T 2260 regions each serves (public)."""
    return [
        {"code": p.code, "name": p.name, "is_city": p.is_city, "regions": list(p.regions)} for p in PLATFORMS.values()
    ]
