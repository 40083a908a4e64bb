from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from services.trading.audit import emit
from services.trading.venues.models import Venue
from services.trading.venues.schemas import VenueCreate, VenueOut
from shared.auth import Principal, ensure_platform_access, require
from shared.db import BIGINT_MAX, DbSession, insert_new
from shared.errors import Conflict, NotFound

router = APIRouter(prefix="/venues", tags=["venues"])
staff = require("operator", "admin", typ="user")
readers = require("operator", "admin", "agency", "tenderee", "supervisor", scopes=("trading:read",))


def _out(v: Venue) -> VenueOut:
    return VenueOut(
        id=v.id,
        platform=v.platform,
        name=v.name,
        kind=v.kind,
        location=v.location,
        capacity=v.capacity,
        active=v.active,
        created_at=v.created_at,
    )


@router.post("", status_code=201, response_model=VenueOut)
def create_venue(session: DbSession, body: VenueCreate, principal: Principal = Depends(staff)) -> VenueOut:
    """Register a venue of the caller's platform (trading-centre operators)."""
    venue = Venue(platform=principal.platform, **body.model_dump())
    if not insert_new(session, venue):
        raise Conflict("本平台已有同名场地", code="venue_exists")
    emit(
        session,
        principal=principal,
        action="venue.created",
        object_type="venue",
        object_id=str(venue.id),
        platform=venue.platform,
        change=body.model_dump(),
    )
    return _out(venue)


@router.get("/{venue_id}", response_model=VenueOut)
def get_venue(session: DbSession, venue_id: uuid.UUID, principal: Principal = Depends(readers)) -> VenueOut:
    """One venue; venues of another county answer 404."""
    venue = session.get(Venue, venue_id)
    if venue is None:
        raise NotFound("场地不存在")
    ensure_platform_access(principal, venue.platform, what="场地")
    return _out(venue)


@router.get("", response_model=list[VenueOut])
def list_venues(
    session: DbSession,
    principal: Principal = Depends(readers),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=BIGINT_MAX),
) -> list[VenueOut]:
    """Venues the caller may see: its own platform's, or all for city principals."""
    query = select(Venue).order_by(Venue.platform, Venue.name)
    if not principal.is_city:
        query = query.where(Venue.platform == principal.platform)
    return [_out(v) for v in session.scalars(query.limit(limit).offset(offset))]
