from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query

from services.trading.projects import service
from services.trading.projects.models import Project
from services.trading.projects.schemas import ProjectCreate, ProjectOut
from shared.auth import Principal, require
from shared.db import DbSession

router = APIRouter(prefix="/projects", tags=["projects"])
registrars = require("tenderee", "agency", typ="user")
readers = require("tenderee", "agency", "operator", "admin", "supervisor", scopes=("trading:read",))


def out(p: Project) -> ProjectOut:
    return ProjectOut(
        id=p.id,
        code=p.code,
        name=p.name,
        category_code=p.category_code,
        catalogue_version=p.catalogue_version,
        region_code=p.region_code,
        platform=p.platform,
        estimated_price_fen=p.estimated_price_fen,
        funding_source=p.funding_source,
        tenderee_org=p.tenderee_org,
        agency_org=p.agency_org,
        must_enter=p.must_enter,
        must_enter_reason=p.must_enter_reason,
        created_at=p.created_at,
    )


@router.post("", status_code=201, response_model=ProjectOut)
def register_project(body: ProjectCreate, session: DbSession, principal: Principal = Depends(registrars)) -> ProjectOut:
    """Register a project (项目登记) as its tenderee or engaged agency. The platform follows from the
    region (GB/T 2260); the answer says whether the catalogue in force requires it to trade here
    (应进必进) and why."""
    return out(service.register(session, principal, body))


@router.get("/{project_id}", response_model=ProjectOut)
def get_project(project_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)) -> ProjectOut:
    """One project; projects the caller may not see (another county, another organisation) answer 404."""
    return out(service.get(session, principal, project_id))


@router.get("", response_model=list[ProjectOut])
def list_projects(
    session: DbSession,
    principal: Principal = Depends(readers),
    after: uuid.UUID | None = Query(None, description="cursor: the last id of the previous page"),
    limit: int = Query(100, ge=1, le=500),
) -> list[ProjectOut]:
    """Projects the caller may see, by id, ``limit`` at a time after the ``after`` cursor."""
    return [out(p) for p in service.visible(session, principal, limit, after)]
