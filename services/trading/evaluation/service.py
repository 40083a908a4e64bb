"""The committee and its report, as trading sees them.

Trading asks the expert pool for a draw once bidding has closed (the bidders are part of the
avoidance rules, and nobody may learn who bid before the deadline, 电子招标投标办法 第二十一条), and
receives the committee's report when the evaluation is complete. Trading never sees the experts'
names before the result: the expert pool answers with counts and status only.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.trading.audit import emit
from services.trading.bids.models import Bid
from services.trading.catalogue import service as catalogue
from services.trading.evaluation.models import EvaluationReportRecord, ExpertDrawRequest
from services.trading.evaluation.schemas import ExpertDrawIn, ExpertDrawOut
from services.trading.lots import service as lots
from services.trading.notices.service import is_organiser
from services.trading.projects.models import Project
from shared.auth import Principal
from shared.clients.base import ServiceCallError
from shared.clients.expert_pool import ExpertPoolClient
from shared.contracts.experts import DrawRequest, DrawSummary, EvaluationReport
from shared.db import db_now, insert_new
from shared.envelope.codec import canonical_json
from shared.errors import Conflict, DependencyUnavailable, Forbidden, NotFound, Unprocessable

T = TypeVar("T")


def _may_manage(principal: Principal, project: Project) -> bool:
    return is_organiser(principal, project) or principal.has_role("operator", "admin")


def _ask(call: Callable[[], T]) -> T:
    """The expert pool's refusals (an even committee, an unknown specialty) are the caller's to
    fix and pass through with their code; a refusal of *our* credentials is not the caller's fault."""
    try:
        return call()
    except ServiceCallError as exc:
        if exc.status_code in (401, 403) or exc.status_code >= 500:
            raise DependencyUnavailable(
                "评标专家库暂时无法受理抽取请求，请稍后重试",
                details={"service": "expert_pool", "status": exc.status_code, "code": exc.code},
            ) from exc
        raise


def request_draw(
    session: Session,
    principal: Principal,
    lot_id: uuid.UUID,
    body: ExpertDrawIn,
    key: str,
    client: ExpertPoolClient,
) -> tuple[ExpertDrawOut, bool]:
    """Ask for a committee; returns the draw and whether it was new. The same key returns the same
    draw (never a second panel); the key with another body answers 422."""
    lot, project = lots.get(session, principal, lot_id)
    if not _may_manage(principal, project):
        raise Forbidden("只有本项目的招标人、代理机构或交易中心工作人员可以申请抽取专家", code="not_your_organisation")
    wanted = body.model_dump(mode="json")
    existing = session.scalar(
        select(ExpertDrawRequest).where(ExpertDrawRequest.lot_id == lot.id, ExpertDrawRequest.idempotency_key == key)
    )
    if existing is not None:
        if existing.request.get("organiser") != wanted:
            raise Unprocessable("Idempotency-Key 已用于另一份抽取申请", code="idempotency_key_reused")
        out = (existing.id, existing.requested_at, existing.draw_id)
        session.commit()  # no transaction held across the call
        summary: DrawSummary = _ask(lambda: client.draw(out[2]))
        return ExpertDrawOut(request_id=out[0], requested_at=out[1], draw=summary), False

    now = db_now(session)
    if now < lot.bid_deadline:
        raise Conflict(
            "投标截止前不能抽取评标专家（投标人名单须保密）",
            code="bidding_not_closed",
            details={"bid_deadline": lot.bid_deadline.isoformat(), "basis": "电子招标投标办法 第二十一条"},
        )
    law = catalogue.category(catalogue.get_version(session, project.catalogue_version), project.category_code)["law"]
    bidders = sorted(
        set(session.scalars(select(Bid.bidder_credit_code).where(Bid.lot_id == lot.id, Bid.status == "submitted")))
    )
    if not bidders:
        raise Conflict("本标段没有有效投标，无需抽取评标专家", code="no_bids")
    request = DrawRequest(
        lot_id=lot.id,
        project_code=project.code,
        platform=project.platform,
        region_code=project.region_code,
        law=law,
        budget_fen=lot.estimated_price_fen,
        bidder_credit_codes=bidders,
        requested_by=principal.subject,
        **body.model_dump(),
    )
    lot_key, project_id, platform = lot.id, project.id, project.platform
    session.commit()  # the expert pool may take a while: hold neither a lock nor a transaction
    # The key the expert pool de-duplicates by names the lot too, so one organiser key cannot
    # collide with another lot's.
    summary = _ask(lambda: client.request_draw(request, idempotency_key=f"trading:{lot_key}:{key}"))
    record = ExpertDrawRequest(
        lot_id=lot_key,
        draw_id=summary.id,
        idempotency_key=key,
        request={"organiser": wanted, "sent": request.model_dump(mode="json")},
        requested_by=principal.subject,
        requested_at=db_now(session),
    )
    if not insert_new(session, record):
        # The same key raced in twice; the expert pool answered both with the same draw.
        raise Conflict("同一抽取申请正在处理，请重试", code="idempotency_in_progress")
    emit(
        session,
        principal=principal,
        action="experts.draw_requested",
        object_type="expert_draw",
        object_id=str(summary.id),
        platform=platform,
        project_id=str(project_id),
        lot_id=str(lot_key),
        # Counts and codes only; the bidders' identities are already in the bids' own events.
        change={"draw_id": str(summary.id), "request": wanted, "bidders": len(bidders)},
    )
    return ExpertDrawOut(request_id=record.id, requested_at=record.requested_at, draw=summary), True


def draws_of(
    session: Session, principal: Principal, lot_id: uuid.UUID, client: ExpertPoolClient
) -> list[ExpertDrawOut]:
    """The lot's draws with their current counts (the organiser, staff and supervisors)."""
    lot, project = lots.get(session, principal, lot_id)
    if not (_may_manage(principal, project) or principal.has_role("supervisor")):
        raise Forbidden("无权查看本标段的专家抽取", code="not_your_organisation")
    rows = [
        (r.id, r.requested_at, r.draw_id)
        for r in session.scalars(
            select(ExpertDrawRequest).where(ExpertDrawRequest.lot_id == lot.id).order_by(ExpertDrawRequest.requested_at)
        )
    ]
    session.commit()
    return [ExpertDrawOut(request_id=i, requested_at=at, draw=_ask(partial(client.draw, d))) for i, at, d in rows]


def report_digest(report: EvaluationReport) -> str:
    return hashlib.sha256(canonical_json(report.report)).hexdigest()


def receive_report(session: Session, principal: Principal, lot_id: uuid.UUID, report: EvaluationReport) -> bool:
    """Record the committee's report (the expert pool's service token). Returns whether it is new;
    the same report again changes nothing, a different one for the lot answers 409."""
    lot, project = lots.get(session, principal, lot_id)
    if report_digest(report) != report.report_sha256:
        raise Unprocessable("评标报告的 SHA-256 与内容不一致", code="report_digest_mismatch")
    bids = set(session.scalars(select(Bid.id).where(Bid.lot_id == lot.id)))
    named = {c.bid_id for c in report.candidates} | {r.bid_id for r in report.rejected}
    unknown = sorted(str(b) for b in named - bids)
    if unknown:
        raise Unprocessable("报告中有不属于本标段的投标", code="unknown_bid", details={"bid_ids": unknown})
    ranks = [c.rank for c in report.candidates]
    if ranks != list(range(1, len(ranks) + 1)):
        raise Unprocessable("中标候选人须按 1、2、3 连续排序", code="bad_candidate_ranks")
    existing = session.get(EvaluationReportRecord, lot.id, with_for_update=True)
    if existing is not None:
        if existing.evaluation_id == report.evaluation_id and existing.report_sha256 == report.report_sha256:
            return False
        raise Conflict("本标段已收到评标报告", code="report_exists", details={"report_sha256": existing.report_sha256})
    record = EvaluationReportRecord(
        lot_id=lot.id,
        evaluation_id=report.evaluation_id,
        method=report.method,
        candidates=[c.model_dump(mode="json") for c in report.candidates],
        rejected=[r.model_dump(mode="json") for r in report.rejected],
        report=report.report,
        report_sha256=report.report_sha256,
        completed_at=report.completed_at,
        received_at=db_now(session),
    )
    if not insert_new(session, record):
        raise Conflict("本标段的评标报告正在写入，请重试", code="report_in_progress")
    emit(
        session,
        principal=principal,
        action="evaluation.report_received",
        object_type="evaluation_report",
        object_id=str(report.evaluation_id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change={
            "report_sha256": report.report_sha256,
            "method": report.method,
            "candidates": [c.model_dump(mode="json") for c in report.candidates],
            "rejected": len(report.rejected),
        },
    )
    return True


def report_of(session: Session, principal: Principal, lot_id: uuid.UUID) -> EvaluationReportRecord:
    lot, project = lots.get(session, principal, lot_id)
    if not (_may_manage(principal, project) or principal.has_role("supervisor")):
        raise Forbidden("无权查看本标段的评标报告", code="not_your_organisation")
    record = session.get(EvaluationReportRecord, lot.id)
    if record is None:
        raise NotFound("本标段尚无评标报告", code="report_not_found")
    return record


def report_of_service(session: Session, lot_id: uuid.UUID) -> EvaluationReportRecord:
    record = session.get(EvaluationReportRecord, lot_id)
    if record is None:  # pragma: no cover - called right after the report was stored
        raise NotFound("本标段尚无评标报告", code="report_not_found")
    return record
