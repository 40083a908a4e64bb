from __future__ import annotations

import zlib
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.trading.audit import emit
from services.trading.catalogue.models import CatalogueVersion
from services.trading.catalogue.schemas import CatalogueUpdate
from shared.auth import Principal, ensure_city
from shared.errors import NotFound, Unprocessable


def current(session: Session) -> CatalogueVersion:
    version = session.scalars(select(CatalogueVersion).order_by(CatalogueVersion.version.desc()).limit(1)).first()
    if version is None:  # the first migration writes version 1; its absence is a broken install
        raise NotFound("交易目录尚未发布")
    return version


def get_version(session: Session, version: int) -> CatalogueVersion:
    found = session.get(CatalogueVersion, version)
    if found is None:
        raise NotFound("交易目录版本不存在")
    return found


def category(catalogue: CatalogueVersion, code: str) -> dict[str, Any]:
    for entry in catalogue.categories:
        if entry["code"] == code:
            return entry
    raise Unprocessable(
        f"交易目录（第{catalogue.version}版）中没有类别 {code}",
        code="unknown_category",
        details={"category": code, "catalogue_version": catalogue.version},
    )


def publish(session: Session, principal: Principal, update: CatalogueUpdate) -> CatalogueVersion:
    """A new version of the whole catalogue (city operators: one catalogue for 1+4 platforms)."""
    ensure_city(principal)
    # Serialise publishers so two edits cannot both become "version n+1".
    session.execute(text("select pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(b"trading:catalogue")})
    latest = session.scalar(select(func.coalesce(func.max(CatalogueVersion.version), 0))) or 0
    version = CatalogueVersion(
        version=latest + 1,
        categories=[c.model_dump() for c in update.categories],
        note=update.note,
        created_by=principal.subject,
    )
    session.add(version)
    session.flush()
    emit(
        session,
        principal=principal,
        action="catalogue.published",
        object_type="catalogue",
        object_id=str(version.version),
        platform=principal.platform,
        change={"version": version.version, "note": update.note, "categories": version.categories},
    )
    return version
