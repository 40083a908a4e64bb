"""Registering a project: region decides the platform, the catalogue decides 应进必进."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.trading.audit import emit
from services.trading.catalogue import service as catalogue
from services.trading.projects.models import Project, ProjectCodeCounter
from services.trading.projects.schemas import ProjectCreate
from shared.auth import Principal
from shared.db import db_now
from shared.errors import Forbidden, NotFound, Unprocessable
from shared.platforms import UnknownRegion, can_access, platform_for_region

CODE_PREFIX = {"jincheng": "JCS", "gaoping": "GPS", "yangcheng": "YCX", "lingchuan": "LCX", "qinshui": "QSX"}


def must_enter(category: dict[str, Any], estimated_price_fen: int) -> tuple[bool, str]:
    threshold = category["must_enter_threshold_fen"]
    if threshold is None:
        return True, f"{category['name']}属于交易目录，应进必进"
    if estimated_price_fen >= threshold:
        return True, f"估算价不低于{category['name']}依法必须招标的限额 {threshold // 100} 元"
    return False, f"估算价低于{category['name']}依法必须招标的限额 {threshold // 100} 元"


def _next_code(session: Session, platform: str, year: int) -> str:
    # One row per platform-year, incremented under its row lock: dense codes, no gaps on success.
    statement = (
        insert(ProjectCodeCounter)
        .values(platform=platform, year=year, last=1)
        .on_conflict_do_update(index_elements=["platform", "year"], set_={"last": ProjectCodeCounter.last + 1})
        .returning(ProjectCodeCounter.last)
    )
    number = session.execute(statement).scalar_one()
    return f"{CODE_PREFIX[platform]}{year}{number:05d}"


def register(session: Session, principal: Principal, data: ProjectCreate) -> Project:
    try:
        platform = platform_for_region(data.region_code)
    except UnknownRegion as exc:
        raise Unprocessable(f"项目所在地 {data.region_code} 不属于晋城市各交易平台", code="unknown_region") from exc
    if not can_access(principal.platform, platform):
        raise Forbidden(
            "项目所在地属于其他县（市、区）分平台", code="forbidden_platform", details={"project_platform": platform}
        )
    # The caller acts for its own organisation: a tenderee registers its own projects, an agency
    # those it is engaged on. The token's organisation decides, never the body.
    own = (
        str(data.tenderee_org)
        if principal.has_role("tenderee")
        else (str(data.agency_org) if data.agency_org else None)
    )
    if principal.org is None or own != principal.org:
        raise Forbidden("只能登记本单位作为招标人或代理机构的项目", code="not_your_organisation")
    current = catalogue.current(session)
    category = catalogue.category(current, data.category_code)
    enters, reason = must_enter(category, data.estimated_price_fen)
    project = Project(
        code=_next_code(session, platform, db_now(session).year),
        name=data.name,
        category_code=data.category_code,
        catalogue_version=current.version,
        region_code=data.region_code,
        platform=platform,
        estimated_price_fen=data.estimated_price_fen,
        funding_source=data.funding_source,
        tenderee_org=str(data.tenderee_org),
        agency_org=str(data.agency_org) if data.agency_org else None,
        must_enter=enters,
        must_enter_reason=reason,
        registered_by=principal.subject,
    )
    session.add(project)
    session.flush()
    emit(
        session,
        principal=principal,
        action="project.registered",
        object_type="project",
        object_id=str(project.id),
        platform=platform,
        project_id=str(project.id),
        change={
            **data.model_dump(mode="json"),
            "code": project.code,
            "must_enter": enters,
            "catalogue_version": current.version,
        },
    )
    return project


def can_see(principal: Principal, project: Project) -> bool:
    """Within the platforms it may access, staff, supervisors and county systems see every
    project; a tenderee or agency only those of its own organisation."""
    if not can_access(principal.platform, project.platform):
        return False
    if principal.has_role("operator", "admin", "supervisor") or principal.typ == "service":
        return True
    return principal.org is not None and principal.org in (project.tenderee_org, project.agency_org)


def get(session: Session, principal: Principal, project_id: uuid.UUID) -> Project:
    project = session.get(Project, project_id)
    if project is None or not can_see(principal, project):
        raise NotFound("项目不存在")
    return project


def visible(session: Session, principal: Principal, limit: int, after: uuid.UUID | None) -> list[Project]:
    query = select(Project).order_by(Project.id).limit(limit)
    if after is not None:
        query = query.where(Project.id > after)
    if not principal.is_city:
        query = query.where(Project.platform == principal.platform)
    if not (principal.has_role("operator", "admin", "supervisor") or principal.typ == "service"):
        query = query.where((Project.tenderee_org == principal.org) | (Project.agency_org == principal.org))
    return list(session.scalars(query))
