from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.expert_pool.audit import emit
from services.expert_pool.registry.models import Expert, Specialty
from services.expert_pool.registry.schemas import ExpertCreate, ExpertOut, SpecialtyCreate
from shared.auth import Principal, ensure_city, ensure_platform_access, require
from shared.contracts.experts import Specialty as SpecialtyOut
from shared.db import DbSession
from shared.errors import Conflict, NotFound, Unprocessable

router = APIRouter(tags=["registry"])
staff = require("operator", "admin", typ="user")
expert_readers = require("operator", "admin", "supervisor", typ="user")


def _expert_out(e: Expert) -> ExpertOut:
    return ExpertOut(
        id=e.id,
        platform=e.platform,
        name=e.name,
        title=e.title,
        title_level=e.title_level,
        years_experience=e.years_experience,
        specialties=e.specialties,
        employer_credit_code=e.employer_credit_code,
        status=e.status,
        created_at=e.created_at,
    )


@router.post("/specialties", status_code=201, response_model=SpecialtyOut)
def create_specialty(session: DbSession, body: SpecialtyCreate, principal: Principal = Depends(staff)) -> SpecialtyOut:
    """Add a specialty to the code list (city operators only: one list for 1+4 platforms)."""
    ensure_city(principal)
    if body.parent_code is not None and session.get(Specialty, body.parent_code) is None:
        raise Unprocessable("上级专业不存在", code="unknown_parent")
    specialty = Specialty(code=body.code, name=body.name, parent_code=body.parent_code, active=True)
    session.add(specialty)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("专业代码已存在", code="specialty_exists") from None
    emit(
        session,
        principal=principal,
        action="specialty.created",
        object_type="specialty",
        object_id=body.code,
        platform=principal.platform,
        change=body.model_dump(),
    )
    return SpecialtyOut(code=specialty.code, name=specialty.name, parent_code=specialty.parent_code, active=True)


@router.get("/specialties", response_model=list[SpecialtyOut])
def list_specialties(
    session: DbSession,
    _: Principal = Depends(require("operator", "admin", "supervisor", "agency", "expert", scopes=("experts:draw",))),
) -> list[SpecialtyOut]:
    """The specialty code list, by code."""
    rows = session.scalars(select(Specialty).order_by(Specialty.code))
    return [SpecialtyOut(code=s.code, name=s.name, parent_code=s.parent_code, active=s.active) for s in rows]


@router.post("/experts", status_code=201, response_model=ExpertOut)
def create_expert(session: DbSession, body: ExpertCreate, principal: Principal = Depends(staff)) -> ExpertOut:
    """Register an expert on the caller's platform. Specialties must be active codes of the list."""
    known = set(
        session.scalars(select(Specialty.code).where(Specialty.code.in_(body.specialties), Specialty.active.is_(True)))
    )
    unknown = sorted(set(body.specialties) - known)
    if unknown:
        raise Unprocessable("专业代码不存在或已停用", code="unknown_specialty", details={"codes": unknown})
    expert = Expert(platform=principal.platform, status="active", **body.model_dump())
    session.add(expert)
    session.flush()
    emit(
        session,
        principal=principal,
        action="expert.registered",
        object_type="expert",
        object_id=str(expert.id),
        platform=expert.platform,
        change={**body.model_dump(), "name": "***"},
    )
    return _expert_out(expert)


@router.get("/experts/{expert_id}", response_model=ExpertOut)
def get_expert(session: DbSession, expert_id: uuid.UUID, principal: Principal = Depends(expert_readers)) -> ExpertOut:
    """One expert record; another county's experts answer 404."""
    expert = session.get(Expert, expert_id)
    if expert is None:
        raise NotFound("专家不存在")
    ensure_platform_access(principal, expert.platform, what="专家")
    return _expert_out(expert)
