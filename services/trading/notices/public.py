"""The public, unauthenticated read of published notices (电子招标投标办法 第九条: free of charge)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from services.trading.notices import rules, service, views
from services.trading.notices.schemas import NoticeOut, NoticeSummary
from shared.db import DbSession, db_now
from shared.errors import Unprocessable
from shared.platforms import is_known_platform

router = APIRouter(prefix="/public/notices", tags=["public"])


@router.get("", response_model=list[NoticeSummary])
def list_public_notices(
    session: DbSession,
    platform: str | None = Query(None, max_length=32, description="jincheng, gaoping, yangcheng, lingchuan, qinshui"),
    category_code: str | None = Query(None, max_length=40, description="a trading-catalogue category code"),
    status: rules.TenderStatus | None = Query(None, description="open, suspended or closed"),
    after: uuid.UUID | None = Query(None, description="cursor: the last id of the previous page"),
    limit: int = Query(50, ge=1, le=100),
) -> list[NoticeSummary]:
    """Published tender notices of every platform, newest first; no login needed. Page with
    ``after`` = the last id of the previous page. ``status`` filters on the tender: ``open`` until
    the last bid deadline, ``suspended`` while an objection awaits its reply, ``closed`` after."""
    if platform is not None and not is_known_platform(platform):
        raise Unprocessable("未知的交易平台", code="unknown_platform", details={"platform": platform})
    notices = service.public_list(
        session, platform=platform, category_code=category_code, status=status, after=after, limit=limit
    )
    return views.summaries(session, notices, db_now(session))


@router.get("/{notice_id}", response_model=NoticeOut)
def get_public_notice(notice_id: uuid.UUID, session: DbSession) -> NoticeOut:
    """One published notice: its text, lots and deadlines, its documents (name, size, SHA-256;
    bidders download them at ``/documents/{id}/content``) and its published clarifications."""
    notice, project = service.public_get(session, notice_id)
    clarifications = service.clarifications_of(session, notice.id, include_drafts=False)
    return views.notice_out(session, notice, project, clarifications, db_now(session))
