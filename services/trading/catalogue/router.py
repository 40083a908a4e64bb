from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from services.trading.catalogue import service
from services.trading.catalogue.models import CatalogueVersion
from services.trading.catalogue.schemas import CatalogueOut, CatalogueUpdate, Category
from shared.auth import Principal, require
from shared.db import DbSession

router = APIRouter(prefix="/catalogue", tags=["catalogue"])


def _out(version: CatalogueVersion) -> CatalogueOut:
    return CatalogueOut(
        version=version.version,
        categories=[Category(**c) for c in version.categories],
        note=version.note,
        created_at=version.created_at,
    )


@router.get("", response_model=CatalogueOut)
def current_catalogue(session: DbSession) -> CatalogueOut:
    """The trading catalogue in force (public): each category, the law that governs it, the
    procurement methods it allows, and the amount from which a project must enter the platform."""
    return _out(service.current(session))


@router.get("/versions/{version}", response_model=CatalogueOut)
def catalogue_version(session: DbSession, version: int = Path(ge=1, le=2**31 - 1)) -> CatalogueOut:
    """An earlier (or the current) catalogue version, as projects registered under it saw it."""
    return _out(service.get_version(session, version))


@router.put("", status_code=201, response_model=CatalogueOut)
def publish_catalogue(
    body: CatalogueUpdate, session: DbSession, principal: Principal = Depends(require("operator", "admin", typ="user"))
) -> CatalogueOut:
    """Publish a new catalogue version (city operators). Versions are never edited in place."""
    return _out(service.publish(session, principal, body))
