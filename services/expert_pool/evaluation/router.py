"""Remote evaluation API (远程异地评标). docs/evaluation.md describes the flow; docs/errors.md the codes.

Who may call (the token decides; tenancy by the lot's platform):

- operators of the lot's platform run the evaluation (a county operator only its county's; another
  county's evaluation answers 404); supervisors read everything of their platforms, change nothing;
- experts act only on an evaluation whose committee they sit on (token ``sub`` = their account);
- trading's service token (scope ``experts:draw``) may open an evaluation and read it;
- the lot's agency (organisation in the token = the lot's agency) rates the members afterwards.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.expert_pool.evaluation import delivery, errors, service
from services.expert_pool.evaluation.delivery import Trading, trading
from services.expert_pool.evaluation.models import (
    Correction,
    EvaluationMember,
    EvaluationReportRecord,
    EvaluationSession,
    EvaluationVenue,
    ExpertRating,
    Pause,
    Rejection,
    ScoreSheet,
)
from services.expert_pool.evaluation.schemas import (
    BidsOut,
    CheckInIn,
    CheckInOut,
    CorrectionIn,
    CorrectionOut,
    DecisionIn,
    LeaderOut,
    LeaderRecordIn,
    LeaderVoteIn,
    MemberOut,
    MisconductIn,
    MisconductOut,
    PauseIn,
    PauseOut,
    RatingIn,
    RatingOut,
    RejectionIn,
    RejectionOut,
    RejectionVoteIn,
    ReportOut,
    ResultsOut,
    SessionCreate,
    SessionOut,
    SheetIn,
    SheetOut,
    VenueOut,
)
from services.expert_pool.evaluation.scoring import ComprehensiveScoring
from services.expert_pool.registry.models import Expert
from services.expert_pool.settings import ExpertPoolSettings
from shared.auth import Principal, ensure_platform_access, require
from shared.db import DbSession
from shared.errors import ApiError, error_body

router = APIRouter(tags=["evaluation"])

creators = require("operator", scopes=("experts:draw",))
readers = require("operator", "supervisor", "expert", "agency", scopes=("experts:draw",))
operators = require("operator", typ="user")
experts = require("expert", typ="user")
leader_or_operator = require("expert", "operator", typ="user")
agencies = require("agency", typ="user")
staff_or_agency = require("operator", "supervisor", "agency", typ="user")
reporters = require("agency", "operator", typ="user")


def _threshold(request: Request) -> Decimal:
    settings: ExpertPoolSettings = request.app.state.settings
    # The setting is a float; its decimal text is the threshold meant (10.0 → 10.0, not a binary fraction).
    return Decimal(repr(settings.score_deviation_threshold))


def _limits(request: Request) -> dict[service.Phase, int]:
    settings: ExpertPoolSettings = request.app.state.settings
    return {"before_start": settings.outage_before_start_minutes, "during": settings.outage_during_minutes}


def committed_refusal(exc: ApiError) -> JSONResponse:
    """An error answer whose record must survive: a failed identity check, an outage past its limit.
    Raising would roll the record back with the request; returning the error body lets the request's
    transaction commit what was recorded."""
    return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status_code)


# -- views --------------------------------------------------------------------------------------


def session_out(session: Session, ev: EvaluationSession, seen: service.Access) -> SessionOut:
    members = service.all_members(session, ev)
    sheets = {m.id: service.current_sheet(session, m) for m in members}
    venues = session.scalars(
        select(EvaluationVenue)
        .where(EvaluationVenue.session_id == ev.id)
        .order_by(EvaluationVenue.role, EvaluationVenue.venue_id)
    )
    pauses = session.scalars(select(Pause).where(Pause.session_id == ev.id).order_by(Pause.paused_at))
    rejections = [_rejection_out(session, ev, r) for r in service.rejections_of(session, ev)]
    active = [m for m in members if m.status == "active"]
    return SessionOut(
        id=ev.id,
        lot_id=ev.lot_id,
        platform=ev.platform,
        project_code=ev.project_code,
        law=ev.law,
        method=ev.method,
        status=ev.status,
        paused_from=ev.paused_from,
        opening_sha256=ev.opening_sha256,
        venues=[VenueOut(venue_id=v.venue_id, platform=v.platform, role=v.role, seats=v.seats) for v in venues],
        members_total=len(active),
        checked_in=sum(1 for m in active if m.checked_in_at is not None),
        members=[_member_out(ev, m, sheets[m.id]) for m in members] if seen.sees_committee else [],
        leader_chosen_by=ev.leader_chosen_by,
        rejections=rejections,
        pauses=[_pause_out(p) for p in pauses],
        created_at=ev.created_at,
        started_at=ev.started_at,
        completed_at=ev.completed_at,
        sealed_at=ev.sealed_at,
        seal_reason=ev.seal_reason,
    )


def _member_out(ev: EvaluationSession, m: EvaluationMember, sheet: ScoreSheet | None) -> MemberOut:
    return MemberOut(
        expert_id=m.expert_id,
        name=m.name,
        specialty=m.specialty,
        venue_id=m.venue_id,
        status=m.status,
        checked_in_at=m.checked_in_at,
        leader=ev.leader_member_id == m.id,
        sheet_version=sheet.version if sheet else None,
        sheet_sha256=sheet.sha256 if sheet else None,
        sheet_submitted_at=sheet.submitted_at if sheet else None,
    )


def _pause_out(p: Pause) -> PauseOut:
    return PauseOut(
        id=p.id,
        phase=p.phase,
        reason=p.reason,
        limit_minutes=p.limit_minutes,
        paused_at=p.paused_at,
        ended_at=p.ended_at,
        outcome=p.outcome,
    )


def _sheet_out(session: Session, sheet: ScoreSheet) -> SheetOut:
    member = session.get(EvaluationMember, sheet.member_id)
    assert member is not None  # noqa: S101 - a foreign key
    return SheetOut(
        expert_id=member.expert_id,
        version=sheet.version,
        document=sheet.document,
        sha256=sheet.sha256,
        submitted_at=sheet.submitted_at,
        void_reason=sheet.void_reason,
    )


def _correction_out(session: Session, c: Correction, new_sheet_sha256: str | None = None) -> CorrectionOut:
    member = session.get(EvaluationMember, c.member_id)
    assert member is not None  # noqa: S101 - a foreign key
    return CorrectionOut(
        id=c.id,
        expert_id=member.expert_id,
        reason=c.reason,
        explanation=c.explanation,
        status=c.status,
        requested_at=c.requested_at,
        decided_by=c.decided_by,
        decided_at=c.decided_at,
        decision_note=c.decision_note,
        new_sheet_sha256=new_sheet_sha256,
    )


def _report_out(record: EvaluationReportRecord) -> ReportOut:
    return ReportOut(
        evaluation_id=record.session_id,
        report=record.payload["report"],
        report_sha256=record.sha256,
        completed_at=record.completed_at,
        delivered_at=record.delivered_at,
        delivery_attempts=record.attempts,
        last_error=record.last_error,
    )


def _leader_out(session: Session, ev: EvaluationSession) -> LeaderOut:
    expert_of = {m.id: str(m.expert_id) for m in service.all_members(session, ev)}
    leader = session.get(EvaluationMember, ev.leader_member_id) if ev.leader_member_id else None
    return LeaderOut(
        round=ev.leader_round,
        votes={expert_of[k]: n for k, n in service.leader_votes(session, ev).items()},
        leader_expert_id=leader.expert_id if leader else None,
        chosen_by=ev.leader_chosen_by,
    )


# -- the session --------------------------------------------------------------------------------


@router.post("/evaluations", status_code=201, response_model=SessionOut)
def create_evaluation(
    body: SessionCreate,
    session: DbSession,
    client: Trading = Depends(trading),
    principal: Principal = Depends(creators),
) -> SessionOut:
    """Open the evaluation of an opened lot (operator of the lot's platform, or trading's service
    token with scope ``experts:draw``). The expert pool reads the lot and its opening result from
    trading once, here, and keeps them with their SHA-256: every member scores the same data. The
    committee is the draw's accepted committee (5 or more, an odd number); every member's venue
    must be one of ``venues``."""
    # Trading is called before this request's transaction begins (the session is not used yet).
    lot = client.lot_summary(body.lot_id)
    opening = client.opening_result(body.lot_id)
    ev = service.create(session, principal, body, lot, opening)
    return session_out(session, ev, service.Access("service" if principal.typ == "service" else "staff"))


@router.get("/evaluations", response_model=list[SessionOut])
def list_evaluations(
    session: DbSession,
    lot_id: uuid.UUID | None = Query(default=None),
    principal: Principal = Depends(readers),
) -> list[SessionOut]:
    """Evaluations the caller may see, newest first (at most 100): staff, supervisors and service
    tokens those of their platforms (the city all), an expert those whose committee they sat on,
    an agency its lots' completed ones. ``lot_id`` narrows to one lot."""
    query = select(EvaluationSession).order_by(EvaluationSession.created_at.desc()).limit(100)
    if lot_id is not None:
        query = query.where(EvaluationSession.lot_id == lot_id)
    # Narrowed in SQL to what the caller may see, so the 100 are the caller's newest; access()
    # below then decides what each caller sees of each.
    if principal.typ == "service" or principal.has_role("operator", "supervisor"):
        if not principal.is_city:
            query = query.where(EvaluationSession.platform == principal.platform)
    elif principal.has_role("expert"):
        query = (
            query.join(EvaluationMember, EvaluationMember.session_id == EvaluationSession.id)
            .join(Expert, Expert.id == EvaluationMember.expert_id)
            .where(Expert.account_subject == principal.subject)
        )
    else:
        query = query.where(EvaluationSession.agency_org == principal.org, EvaluationSession.status == "completed")
    out = []
    for ev in session.scalars(query):
        try:
            seen = service.access(session, ev, principal)
        except ApiError:
            continue
        out.append(session_out(session, ev, seen))
    return out


@router.get("/evaluations/{evaluation_id}", response_model=SessionOut)
def get_evaluation(evaluation_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)) -> SessionOut:
    """The evaluation: status, venues, committee (names only for those who may know them before the
    result), rejections and pauses."""
    ev = service.load(session, evaluation_id)
    return session_out(session, ev, service.access(session, ev, principal))


# -- check-in, leader, start ---------------------------------------------------------------------


@router.post("/evaluations/{evaluation_id}/check-ins", status_code=201, response_model=CheckInOut)
def check_in(
    evaluation_id: uuid.UUID, body: CheckInIn, session: DbSession, principal: Principal = Depends(experts)
) -> CheckInOut | JSONResponse:
    """A committee member checks in at their venue with the venue device's identity attestation
    (face capture etc.). Every attestation is recorded; a failed one answers 403
    ``identity_not_verified`` and the member stays checked out."""
    ev = service.load(session, evaluation_id, lock=True)
    outcome = service.check_in(session, principal, ev, body.venue_id, body.attestation)
    if not outcome.passed:
        return committed_refusal(errors.identity_not_verified())
    return CheckInOut(
        id=outcome.record.id,
        expert_id=outcome.member.expert_id,
        venue_id=outcome.record.venue_id,
        result=outcome.record.result,
        recorded_at=outcome.record.recorded_at,
    )


@router.post("/evaluations/{evaluation_id}/leader-votes", status_code=201, response_model=LeaderOut)
def vote_leader(
    evaluation_id: uuid.UUID, body: LeaderVoteIn, session: DbSession, principal: Principal = Depends(experts)
) -> LeaderOut:
    """A checked-in member votes for a leader (评标委员会负责人), once per round. The first member
    with votes from a strict majority of the active committee is the leader."""
    ev = service.load(session, evaluation_id, lock=True)
    service.vote_leader(session, principal, ev, body.candidate_expert_id)
    return _leader_out(session, ev)


@router.put("/evaluations/{evaluation_id}/leader", response_model=LeaderOut)
def record_leader(
    evaluation_id: uuid.UUID, body: LeaderRecordIn, session: DbSession, principal: Principal = Depends(operators)
) -> LeaderOut:
    """The operator records the leader the committee chose in another way (e.g. after a split vote),
    with a note of how; only while no leader is chosen."""
    ev = service.load(session, evaluation_id, lock=True)
    service.record_leader(session, principal, ev, body.expert_id, body.note)
    return _leader_out(session, ev)


@router.get("/evaluations/{evaluation_id}/leader", response_model=LeaderOut)
def get_leader(evaluation_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)) -> LeaderOut:
    """The current round's votes and the leader, if chosen (staff, supervisors and members)."""
    ev = service.load(session, evaluation_id)
    if not service.access(session, ev, principal).sees_committee:
        raise errors.evaluation_not_found()
    return _leader_out(session, ev)


@router.post("/evaluations/{evaluation_id}/start", response_model=SessionOut)
def start(evaluation_id: uuid.UUID, session: DbSession, principal: Principal = Depends(operators)) -> SessionOut:
    """Start the evaluation: every active member checked in and a leader chosen."""
    ev = service.load(session, evaluation_id, lock=True)
    service.start(session, principal, ev)
    return session_out(session, ev, service.Access("staff"))


# -- bids, sheets, corrections, rejections -------------------------------------------------------


@router.get("/evaluations/{evaluation_id}/bids", response_model=BidsOut)
def bids(evaluation_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)) -> BidsOut:
    """The opened bids as fetched from trading at the start, with their SHA-256 (members once
    checked in and the evaluation started; staff and supervisors at any time)."""
    ev = service.load(session, evaluation_id)
    seen = service.access(session, ev, principal)
    if seen.viewer == "member":
        service.as_member(session, ev, principal)
        if ev.started_at is None:
            raise errors.wrong_status(ev.status, ["scoring"])
    elif seen.viewer not in ("staff", "supervisor"):
        raise errors.evaluation_not_found()
    method = service.method_of(ev)
    return BidsOut(
        opening_sha256=ev.opening_sha256,
        opening=ev.opening,
        method=ev.method,
        criteria=[
            {"code": c.code, "name": c.name, "kind": c.kind, "max_points": str(c.max_points)}
            for c in (method.criteria if isinstance(method, ComprehensiveScoring) else ())
        ],
        rejected_bid_ids=[uuid.UUID(b) for b in service.adopted_rejections(session, ev)],
    )


@router.post("/evaluations/{evaluation_id}/sheets", status_code=201, response_model=SheetOut)
def submit_sheet(
    evaluation_id: uuid.UUID, body: SheetIn, session: DbSession, principal: Principal = Depends(experts)
) -> SheetOut | JSONResponse:
    """Sign and submit the member's score sheet: one entry per compliant bid and subjective
    criterion, within ``[0, weight]``, two decimals at most (the price score is computed). The
    answer carries the sheet's canonical JSON and SHA-256. Sending the same sheet again answers 200
    with the first submission; a different one is refused (use a correction)."""
    ev = service.load(session, evaluation_id, lock=True)
    sheet, created = service.submit_sheet(session, principal, ev, body.scores)
    out = _sheet_out(session, sheet)
    if not created:
        return JSONResponse(out.model_dump(mode="json"), status_code=200)
    return out


@router.get("/evaluations/{evaluation_id}/sheets/mine", response_model=list[SheetOut])
def my_sheets(evaluation_id: uuid.UUID, session: DbSession, principal: Principal = Depends(experts)) -> list[SheetOut]:
    """The member's own sheet, every version (members do not see each other's sheets before the
    report)."""
    ev = service.load(session, evaluation_id)
    member = service.member_of(session, ev, principal)
    if member is None:
        raise errors.evaluation_not_found()
    sheets = session.scalars(select(ScoreSheet).where(ScoreSheet.member_id == member.id).order_by(ScoreSheet.version))
    return [_sheet_out(session, s) for s in sheets]


@router.post("/evaluations/{evaluation_id}/corrections", status_code=201, response_model=CorrectionOut)
def request_correction(
    evaluation_id: uuid.UUID, body: CorrectionIn, session: DbSession, principal: Principal = Depends(experts)
) -> CorrectionOut:
    """Ask to correct one's submitted sheet, for one of the reasons of 87号令 第六十四条
    (``arithmetic_error``, ``outside_criteria``, ``objective_factor_misread``, ``abnormal_score``),
    with the whole corrected sheet. The leader or the operator decides."""
    ev = service.load(session, evaluation_id, lock=True)
    return _correction_out(session, service.request_correction(session, principal, ev, body))


@router.get("/evaluations/{evaluation_id}/corrections", response_model=list[CorrectionOut])
def list_corrections(
    evaluation_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)
) -> list[CorrectionOut]:
    """Correction requests and their decisions (staff, supervisors, members)."""
    ev = service.load(session, evaluation_id)
    if not service.access(session, ev, principal).sees_committee:
        raise errors.evaluation_not_found()
    rows = session.scalars(select(Correction).where(Correction.session_id == ev.id).order_by(Correction.requested_at))
    return [_correction_out(session, c) for c in rows]


@router.post("/evaluations/{evaluation_id}/corrections/{correction_id}/decision", response_model=CorrectionOut)
def decide_correction(
    evaluation_id: uuid.UUID,
    correction_id: uuid.UUID,
    body: DecisionIn,
    session: DbSession,
    principal: Principal = Depends(leader_or_operator),
) -> CorrectionOut:
    """Approve or refuse a correction (the leader, never for their own sheet, or the operator).
    Approval adds the next version of the sheet with its own digest; the old one is kept."""
    ev = service.load(session, evaluation_id, lock=True)
    correction, sheet = service.decide_correction(session, principal, ev, correction_id, body.approve, body.note)
    return _correction_out(session, correction, sheet.sha256 if sheet else None)


@router.post("/evaluations/{evaluation_id}/rejections", status_code=201, response_model=RejectionOut)
def propose_rejection(
    evaluation_id: uuid.UUID, body: RejectionIn, session: DbSession, principal: Principal = Depends(experts)
) -> RejectionOut:
    """Propose to reject a bid (否决投标) with the reason and the article relied on. The proposal
    counts as the proposer's vote; a strict majority of the active committee adopts or dismisses it."""
    ev = service.load(session, evaluation_id, lock=True)
    return _rejection_out(session, ev, service.propose_rejection(session, principal, ev, body))


@router.post("/evaluations/{evaluation_id}/rejections/{rejection_id}/votes", response_model=RejectionOut)
def vote_rejection(
    evaluation_id: uuid.UUID,
    rejection_id: uuid.UUID,
    body: RejectionVoteIn,
    session: DbSession,
    principal: Principal = Depends(experts),
) -> RejectionOut:
    """A member's vote on a proposed rejection, once."""
    ev = service.load(session, evaluation_id, lock=True)
    return _rejection_out(
        session, ev, service.vote_rejection(session, principal, ev, rejection_id, body.agree, body.note)
    )


def _rejection_out(session: Session, ev: EvaluationSession, r: Rejection) -> RejectionOut:
    agree, disagree = service.rejection_votes(session, ev, r)
    return RejectionOut(
        id=r.id,
        bid_id=r.bid_id,
        reason=r.reason,
        basis=r.basis,
        status=r.status,
        proposed_at=r.proposed_at,
        decided_at=r.decided_at,
        agree=agree,
        disagree=disagree,
    )


# -- results and the report ----------------------------------------------------------------------


@router.get("/evaluations/{evaluation_id}/results", response_model=ResultsOut)
def results(
    evaluation_id: uuid.UUID, request: Request, session: DbSession, principal: Principal = Depends(readers)
) -> ResultsOut:
    """The committee's summary (汇总) as it stands: who has not signed, open rejections, and once all
    sheets are in, the ranking, the candidates and the deviation marks (staff, supervisors,
    checked-in members)."""
    ev = service.load(session, evaluation_id)
    seen = service.access(session, ev, principal)
    if seen.viewer == "member":
        service.as_member(session, ev, principal)
    elif seen.viewer not in ("staff", "supervisor"):
        raise errors.evaluation_not_found()
    threshold = _threshold(request)
    state = service.standing(session, ev, threshold)
    outcome = state.outcome
    ranked = service.ranked_json(outcome) if outcome else []
    return ResultsOut(
        method=ev.method,
        complete=outcome is not None,
        missing_sheets=state.missing,
        pending_rejections=state.pending_rejections,
        ranked=ranked,
        candidates=ranked[:3],
        deviations=service.deviations_json(outcome, threshold) if outcome else [],
    )


@router.post("/evaluations/{evaluation_id}/complete", response_model=ReportOut)
def complete(
    evaluation_id: uuid.UUID,
    request: Request,
    session: DbSession,
    background: BackgroundTasks,
    principal: Principal = Depends(leader_or_operator),
) -> ReportOut:
    """Sign the report (the leader or the operator): every active member's sheet in, no open
    correction or rejection. Stores the report as canonical JSON with its SHA-256, reveals the draw,
    and hands the report to trading right after this request (retried in the background until
    trading has it)."""
    ev = service.load(session, evaluation_id, lock=True)
    record = service.complete(session, principal, ev, _threshold(request))
    # Runs after the response, so after this request's transaction has committed the report.
    background.add_task(
        delivery.deliver, request.app.state.session_factory, delivery.trading_of(request.app), record.id
    )
    return _report_out(record)


@router.get("/evaluations/{evaluation_id}/report", response_model=ReportOut)
def get_report(evaluation_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)) -> ReportOut:
    """The signed report and whether trading has it (staff, supervisors, members, trading's token,
    the lot's agency)."""
    ev = service.load(session, evaluation_id)
    service.access(session, ev, principal)
    return _report_out(service.report_of(session, ev))


@router.post("/evaluations/{evaluation_id}/report/delivery", response_model=ReportOut)
def deliver_report(
    evaluation_id: uuid.UUID,
    request: Request,
    client: Trading = Depends(trading),
    principal: Principal = Depends(operators),
) -> ReportOut:
    """Send the report to trading now, without waiting for the next retry (operators). The answer
    says whether trading has it; a failure is kept in ``last_error`` and retried as before."""
    factory = request.app.state.session_factory
    # Short transactions around the call to trading, never one held across it.
    with factory() as session:
        ev = service.load(session, evaluation_id)
        service.as_operator(ev, principal)
        record = service.report_of(session, ev)
        if record.delivered_at is None:
            service.audit(
                session, principal, ev, "evaluation.report_delivery_requested", {"report_sha256": record.sha256}
            )
        session.commit()
        report_id = record.id
    delivery.deliver(factory, client, report_id, force=True)
    with factory() as session:
        record = session.get(EvaluationReportRecord, report_id)
        assert record is not None  # noqa: S101 - never deleted
        return _report_out(record)


# -- outages and committee changes ---------------------------------------------------------------


@router.post("/evaluations/{evaluation_id}/pauses", status_code=201, response_model=PauseOut)
def pause(
    evaluation_id: uuid.UUID,
    body: PauseIn,
    request: Request,
    session: DbSession,
    principal: Principal = Depends(operators),
) -> PauseOut:
    """Pause for an outage, with the reason. Before the start the limit is
    ``EXPERT_POOL_OUTAGE_BEFORE_START_MINUTES``, after it ``EXPERT_POOL_OUTAGE_DURING_MINUTES``;
    past the limit (database clock) the evaluation is sealed."""
    ev = service.load(session, evaluation_id, lock=True)
    return _pause_out(service.pause(session, principal, ev, body.reason, _limits(request)))


@router.post("/evaluations/{evaluation_id}/resume", response_model=SessionOut)
def resume(
    evaluation_id: uuid.UUID, session: DbSession, principal: Principal = Depends(operators)
) -> SessionOut | JSONResponse:
    """Resume after an outage. Past the limit the evaluation is sealed instead, the draw voided (a
    new committee must be drawn), and the answer is 409 ``outage_limit_exceeded``."""
    ev = service.load(session, evaluation_id, lock=True)
    record, resumed = service.resume(session, principal, ev)
    if not resumed:
        minutes = int((record.ended_at - record.paused_at).total_seconds() // 60) if record.ended_at else 0
        return committed_refusal(errors.outage_limit_exceeded(record.phase, record.limit_minutes, minutes))
    return session_out(session, ev, service.Access("staff"))


@router.post("/evaluations/{evaluation_id}/committee/refresh", response_model=SessionOut)
def refresh_committee(
    evaluation_id: uuid.UUID, session: DbSession, principal: Principal = Depends(operators)
) -> SessionOut:
    """Follow the draw after a member was replaced: members no longer in the accepted committee are
    marked replaced (their sheets and votes void; a replaced leader means a new vote), newly
    accepted members join and must check in."""
    ev = service.load(session, evaluation_id, lock=True)
    service.refresh_committee(session, principal, ev)
    return session_out(session, ev, service.Access("staff"))


# -- ratings and misconduct ---------------------------------------------------------------------


@router.post("/evaluations/{evaluation_id}/ratings", status_code=201, response_model=RatingOut)
def rate(
    evaluation_id: uuid.UUID, body: RatingIn, session: DbSession, principal: Principal = Depends(agencies)
) -> RatingOut:
    """The lot's agency rates a member's performance (1–5, with a comment) after the report is
    signed; once per member."""
    ev = service.load(session, evaluation_id, lock=True)
    r = service.rate(session, principal, ev, body)
    return RatingOut(
        id=r.id,
        expert_id=r.expert_id,
        score=r.score,
        comment=r.comment,
        organisation=r.organisation,
        rated_at=r.rated_at,
    )


@router.get("/evaluations/{evaluation_id}/ratings", response_model=list[RatingOut])
def ratings(
    evaluation_id: uuid.UUID, session: DbSession, principal: Principal = Depends(staff_or_agency)
) -> list[RatingOut]:
    """Ratings of the members (operators and supervisors of the platform, the lot's agency)."""
    ev = service.load(session, evaluation_id)
    if principal.has_role("operator", "supervisor"):
        ensure_platform_access(principal, ev.platform, what="评标")
    elif principal.org is None or principal.org != ev.agency_org:
        raise errors.evaluation_not_found()
    rows: list[ExpertRating] = service.ratings_of(session, ev)
    return [
        RatingOut(
            id=r.id,
            expert_id=r.expert_id,
            score=r.score,
            comment=r.comment,
            organisation=r.organisation,
            rated_at=r.rated_at,
        )
        for r in rows
    ]


@router.post("/evaluations/{evaluation_id}/misconduct-reports", status_code=201, response_model=MisconductOut)
def report_misconduct(
    evaluation_id: uuid.UUID, body: MisconductIn, session: DbSession, principal: Principal = Depends(reporters)
) -> MisconductOut:
    """Report a member's misconduct (the lot's agency or an operator of the platform) with the
    evidence's SHA-256 and where it is kept. Supervision receives it through its audit ledger as
    the event ``expert.misconduct_reported``."""
    ev = service.load(session, evaluation_id, lock=True)
    r = service.report_misconduct(session, principal, ev, body)
    return MisconductOut(
        id=r.id,
        expert_id=r.expert_id,
        category=r.category,
        evidence_sha256=r.evidence_sha256,
        reported_at=r.reported_at,
    )
