"""The evaluation's steps as plain functions on the request's session: each adds and flushes, and
writes its audit event in the same transaction. The caller (router) decides who may call; these
functions decide whether the step fits the evaluation's state.

Every state change locks the evaluation row first (``lock=True``), so two members voting, a
correction being approved while the report is completed, or a pause racing a sheet are serialised.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.expert_pool.audit import emit
from services.expert_pool.evaluation import errors, scoring
from services.expert_pool.evaluation.committee import CommitteeMember, accepted_committee, reveal_for_lot, void_for_lot
from services.expert_pool.evaluation.models import (
    Correction,
    EvaluationCheckIn,
    EvaluationMember,
    EvaluationReportRecord,
    EvaluationSession,
    EvaluationVenue,
    ExpertRating,
    LeaderVote,
    MisconductReport,
    Pause,
    Rejection,
    RejectionVote,
    ScoreSheet,
)
from services.expert_pool.evaluation.schemas import (
    Attestation,
    CorrectionIn,
    MisconductIn,
    RatingIn,
    RejectionIn,
    ScoreEntry,
    SessionCreate,
)
from services.expert_pool.registry.models import Expert
from shared.auth import Principal, ensure_platform_access
from shared.contracts.experts import Candidate, EvaluationReport, RejectedBid
from shared.contracts.trading import LotSummary, OpeningResult
from shared.db import db_now, insert_new
from shared.envelope.codec import canonical_json
from shared.errors import ApiError

# The law's smallest committee (招标投标法 第三十七条: 5 or more, an odd number).
MIN_COMMITTEE = 5
# A venue device's attestation is accepted if its time is at most this old, or this far ahead of
# the database clock (devices drift; a replayed attestation from yesterday must not pass).
ATTESTATION_MAX_AGE = timedelta(minutes=30)
ATTESTATION_MAX_AHEAD = timedelta(minutes=5)
SHEET_FORMAT = "jincheng.score-sheet/1"
REPORT_FORMAT = "jincheng.evaluation-report/1"

Phase = Literal["before_start", "during"]


def sha256_of(document: Any) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no whitespace, UTF-8): the digest trading checks
    the report against. The strict encoder raises on anything that is not plain JSON, so a value
    that would be stringified differently elsewhere fails here rather than at trading."""
    return hashlib.sha256(canonical_json(document)).hexdigest()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def audit(
    session: Session,
    principal: Principal | None,
    ev: EvaluationSession,
    action: str,
    change: dict[str, Any],
    *,
    object_type: str = "evaluation",
    object_id: str | None = None,
) -> None:
    emit(
        session,
        principal=principal,
        action=action,
        object_type=object_type,
        object_id=object_id or str(ev.id),
        platform=ev.platform,
        project_id=str(ev.project_id),
        lot_id=str(ev.lot_id),
        change={"evaluation_id": str(ev.id), **change},
    )


# -- loading and who may see what ---------------------------------------------------------------


def load(session: Session, evaluation_id: uuid.UUID, *, lock: bool = False) -> EvaluationSession:
    query = select(EvaluationSession).where(EvaluationSession.id == evaluation_id)
    if lock:
        # populate_existing: a row read earlier in this transaction is refreshed once locked.
        query = query.with_for_update().execution_options(populate_existing=True)
    ev = session.scalars(query).one_or_none()
    if ev is None:
        raise errors.evaluation_not_found()
    return ev


def member_of(session: Session, ev: EvaluationSession, principal: Principal) -> EvaluationMember | None:
    """The committee seat of the expert signed in (token ``sub`` = the expert's account)."""
    return session.scalars(
        select(EvaluationMember)
        .join(Expert, Expert.id == EvaluationMember.expert_id)
        .where(EvaluationMember.session_id == ev.id, Expert.account_subject == principal.subject)
    ).one_or_none()


Viewer = Literal["staff", "supervisor", "service", "member", "agency"]


@dataclass(frozen=True)
class Access:
    viewer: Viewer
    member: EvaluationMember | None = None

    @property
    def sees_committee(self) -> bool:
        return self.viewer in ("staff", "supervisor", "member", "agency")


def access(session: Session, ev: EvaluationSession, principal: Principal) -> Access:
    """How the caller may see ``ev``; everyone else gets 404 (an evaluation of another county, of a
    committee one does not sit on, or of another agency's lot looks absent)."""
    if principal.typ == "service":
        ensure_platform_access(principal, ev.platform, what="评标")
        return Access("service")
    if principal.has_role("operator"):
        ensure_platform_access(principal, ev.platform, what="评标")
        return Access("staff")
    if principal.has_role("supervisor"):
        ensure_platform_access(principal, ev.platform, what="评标")
        return Access("supervisor")
    if principal.has_role("expert"):
        member = member_of(session, ev, principal)
        if member is not None:
            return Access("member", member)
    # The agency sees its lot's evaluation once the report is signed and the committee revealed.
    if (
        principal.has_role("agency")
        and principal.org is not None
        and principal.org == ev.agency_org
        and ev.status == "completed"
    ):
        return Access("agency")
    raise errors.evaluation_not_found()


def as_operator(ev: EvaluationSession, principal: Principal) -> None:
    """Operators of the lot's platform (a city operator may act for the counties)."""
    ensure_platform_access(principal, ev.platform, what="评标")


def as_member(
    session: Session, ev: EvaluationSession, principal: Principal, *, checked_in: bool = True
) -> EvaluationMember:
    member = member_of(session, ev, principal)
    if member is None:
        raise errors.evaluation_not_found()
    if member.status != "active":
        raise errors.member_replaced()
    if checked_in and member.checked_in_at is None:
        raise errors.not_checked_in()
    return member


def leader_or_operator(session: Session, ev: EvaluationSession, principal: Principal) -> EvaluationMember | None:
    """The operator (returns None) or the committee's leader (returns the leader's seat)."""
    if principal.has_role("operator"):
        as_operator(ev, principal)
        return None
    member = as_member(session, ev, principal)
    if ev.leader_member_id != member.id:
        raise errors.not_the_leader()
    return member


def require_status(ev: EvaluationSession, *allowed: str) -> None:
    if ev.status not in allowed:
        raise errors.wrong_status(ev.status, list(allowed))


# -- the lot's data as stored -------------------------------------------------------------------


def method_of(ev: EvaluationSession) -> scoring.Method:
    return scoring.parse_method(ev.opening["evaluation"])


def adjustments_of(ev: EvaluationSession) -> scoring.PriceAdjustments:
    return scoring.parse_adjustments(ev.opening.get("price_adjustments"), ev.law)


def bids_of(ev: EvaluationSession) -> list[scoring.Bid]:
    return [
        scoring.bid_from_form(str(b["bid_id"]), b["bidder_credit_code"], int(b["price_fen"]), b.get("extra"))
        for b in ev.opening["bids"]
    ]


def active_members(session: Session, ev: EvaluationSession) -> list[EvaluationMember]:
    return list(
        session.scalars(
            select(EvaluationMember)
            .where(EvaluationMember.session_id == ev.id, EvaluationMember.status == "active")
            .order_by(EvaluationMember.joined_at, EvaluationMember.expert_id)
        )
    )


def all_members(session: Session, ev: EvaluationSession) -> list[EvaluationMember]:
    return list(
        session.scalars(
            select(EvaluationMember)
            .where(EvaluationMember.session_id == ev.id)
            .order_by(EvaluationMember.joined_at, EvaluationMember.expert_id)
        )
    )


def rejections_of(session: Session, ev: EvaluationSession) -> list[Rejection]:
    return list(session.scalars(select(Rejection).where(Rejection.session_id == ev.id).order_by(Rejection.proposed_at)))


def adopted_rejections(session: Session, ev: EvaluationSession) -> list[str]:
    return sorted(str(r.bid_id) for r in rejections_of(session, ev) if r.status == "adopted")


def current_sheet(session: Session, member: EvaluationMember) -> ScoreSheet | None:
    return session.scalars(
        select(ScoreSheet).where(ScoreSheet.member_id == member.id, ScoreSheet.superseded_at.is_(None))
    ).one_or_none()


def _majority(count: int, committee: int) -> bool:
    return 2 * count > committee


# -- creating the evaluation --------------------------------------------------------------------


def _check_venues(body: SessionCreate) -> None:
    ids = [v.venue_id for v in body.venues]
    if len(set(ids)) != len(ids):
        raise errors.invalid_venues("评标场地重复")
    mains = [v for v in body.venues if v.role == "main"]
    if len(mains) != 1:
        raise errors.invalid_venues("远程异地评标须有且仅有一个主场", {"main_venues": len(mains)})


def _check_committee(members: Sequence[Any]) -> None:
    if len(members) < MIN_COMMITTEE or len(members) % 2 == 0:
        raise errors.committee_incomplete(len(members))


def create(
    session: Session, principal: Principal, body: SessionCreate, lot: LotSummary, opening: OpeningResult
) -> EvaluationSession:
    """Open the evaluation with the opening result trading returned (fetched by the caller before
    any transaction) and the draw's accepted committee."""
    ensure_platform_access(principal, lot.platform, what="标段")
    if opening.lot_id != body.lot_id or lot.id != body.lot_id:
        raise errors.opening_mismatch()
    if opening.status != "opened":
        raise errors.lot_not_opened(opening.status)
    if not opening.bids:
        raise errors.no_bids()
    try:
        method = scoring.parse_method(opening.evaluation)
        scoring.parse_adjustments(opening.price_adjustments, lot.law)
    except scoring.ScoringError as exc:
        raise errors.scoring_error(exc.code, exc.message, exc.details) from None
    _check_venues(body)
    existing = session.scalars(
        select(EvaluationSession.id).where(
            EvaluationSession.lot_id == body.lot_id, EvaluationSession.status != "sealed"
        )
    ).first()
    if existing is not None:
        raise errors.evaluation_exists(existing)
    committee = accepted_committee(session, body.lot_id)
    _check_committee(committee)
    venue_ids = {v.venue_id for v in body.venues}
    stray = sorted(str(m.expert_id) for m in committee if m.venue_id is not None and m.venue_id not in venue_ids)
    if stray:
        raise errors.member_venue_unknown(stray)

    snapshot = opening.model_dump(mode="json")
    ev = EvaluationSession(
        id=uuid.uuid4(),
        lot_id=body.lot_id,
        platform=lot.platform,
        project_id=lot.project_id,
        project_code=lot.project_code,
        law=lot.law,
        tenderee_org=lot.tenderee_org,
        agency_org=lot.agency_org,
        method=method.method,
        opening=snapshot,
        opening_sha256=sha256_of(snapshot),
        status="checkin",
        created_by=principal.subject,
    )
    if not insert_new(session, ev):
        # Another request opened the lot's evaluation between our look and our insert.
        raise errors.evaluation_exists("")
    for venue in body.venues:
        session.add(
            EvaluationVenue(
                session_id=ev.id, venue_id=venue.venue_id, platform=venue.platform, role=venue.role, seats=venue.seats
            )
        )
    for m in committee:
        session.add(_member_row(ev, m))
    session.flush()
    audit(
        session,
        principal,
        ev,
        "evaluation.created",
        {
            "lot_id": str(ev.lot_id),
            "method": ev.method,
            "opening_sha256": ev.opening_sha256,
            "bids": len(opening.bids),
            "venues": [v.model_dump(mode="json") for v in body.venues],
            "members": sorted(str(m.expert_id) for m in committee),
        },
    )
    return ev


def _member_row(ev: EvaluationSession, m: CommitteeMember) -> EvaluationMember:
    return EvaluationMember(
        session_id=ev.id,
        expert_id=m.expert_id,
        assignment_id=m.assignment_id,
        name=m.name,
        specialty=m.specialty,
        venue_id=m.venue_id,
        status="active",
    )


# -- check-in -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInOutcome:
    record: EvaluationCheckIn
    member: EvaluationMember
    passed: bool


def check_in(
    session: Session, principal: Principal, ev: EvaluationSession, venue_id: uuid.UUID, attestation: Attestation
) -> CheckInOutcome:
    """Record the venue device's attestation. A failed one is kept and refused (the caller answers
    403 after the record is committed)."""
    member = as_member(session, ev, principal, checked_in=False)
    require_status(ev, "checkin", "scoring")
    venues = set(session.scalars(select(EvaluationVenue.venue_id).where(EvaluationVenue.session_id == ev.id)))
    if venue_id not in venues:
        raise errors.unknown_venue()
    if member.venue_id is not None and member.venue_id != venue_id:
        raise errors.wrong_venue(member.venue_id)
    if member.checked_in_at is not None:
        raise errors.already_checked_in()
    now = db_now(session)
    if not now - ATTESTATION_MAX_AGE <= attestation.attested_at <= now + ATTESTATION_MAX_AHEAD:
        raise errors.stale_attestation(attestation.attested_at.isoformat(), now.isoformat())
    record = EvaluationCheckIn(
        session_id=ev.id,
        member_id=member.id,
        venue_id=venue_id,
        device_id=attestation.device_id,
        method=attestation.method,
        result=attestation.result,
        attested_at=attestation.attested_at,
        evidence_ref=attestation.evidence_ref,
        evidence_sha256=attestation.evidence_sha256,
    )
    session.add(record)
    passed = attestation.result == "passed"
    if passed:
        member.checked_in_at = now
    session.flush()
    audit(
        session,
        principal,
        ev,
        "evaluation.checked_in" if passed else "evaluation.check_in_refused",
        {
            "expert_id": str(member.expert_id),
            "venue_id": str(venue_id),
            "device_id": attestation.device_id,
            "method": attestation.method,
            "result": attestation.result,
            "attested_at": attestation.attested_at.isoformat(),
            "evidence_sha256": attestation.evidence_sha256,
            "evidence_ref": attestation.evidence_ref,
        },
        object_type="evaluation_member",
        object_id=str(member.id),
    )
    return CheckInOutcome(record=record, member=member, passed=passed)


# -- the leader ---------------------------------------------------------------------------------


def leader_votes(session: Session, ev: EvaluationSession) -> dict[uuid.UUID, int]:
    """This round's votes by active members for active members (a replaced member's vote is void)."""
    active = {m.id for m in active_members(session, ev)}
    votes = session.scalars(
        select(LeaderVote).where(LeaderVote.session_id == ev.id, LeaderVote.round == ev.leader_round)
    )
    counts: dict[uuid.UUID, int] = {}
    for v in votes:
        if v.voter_member_id in active and v.candidate_member_id in active:
            counts[v.candidate_member_id] = counts.get(v.candidate_member_id, 0) + 1
    return counts


def _active_member_by_expert(session: Session, ev: EvaluationSession, expert_id: uuid.UUID) -> EvaluationMember:
    member = session.scalars(
        select(EvaluationMember).where(
            EvaluationMember.session_id == ev.id,
            EvaluationMember.expert_id == expert_id,
            EvaluationMember.status == "active",
        )
    ).one_or_none()
    if member is None:
        raise errors.not_a_member(expert_id)
    return member


def vote_leader(session: Session, principal: Principal, ev: EvaluationSession, candidate_expert_id: uuid.UUID) -> None:
    """One vote per member per round; a strict majority of the active committee elects."""
    voter = as_member(session, ev, principal)
    require_status(ev, "checkin", "scoring")
    if ev.leader_member_id is not None:
        raise errors.leader_already_chosen()
    candidate = _active_member_by_expert(session, ev, candidate_expert_id)
    cast = session.scalars(
        select(LeaderVote.id).where(
            LeaderVote.session_id == ev.id, LeaderVote.round == ev.leader_round, LeaderVote.voter_member_id == voter.id
        )
    ).first()
    if cast is not None:
        raise errors.already_voted()
    session.add(
        LeaderVote(session_id=ev.id, round=ev.leader_round, voter_member_id=voter.id, candidate_member_id=candidate.id)
    )
    session.flush()
    audit(
        session,
        principal,
        ev,
        "evaluation.leader_vote_cast",
        {"round": ev.leader_round, "voter": str(voter.expert_id), "candidate": str(candidate_expert_id)},
    )
    committee = len(active_members(session, ev))
    if _majority(leader_votes(session, ev).get(candidate.id, 0), committee):
        ev.leader_member_id = candidate.id
        ev.leader_chosen_by = "vote"
        session.flush()
        audit(
            session,
            principal,
            ev,
            "evaluation.leader_elected",
            {"round": ev.leader_round, "leader": str(candidate_expert_id), "chosen_by": "vote"},
        )


def record_leader(
    session: Session, principal: Principal, ev: EvaluationSession, expert_id: uuid.UUID, note: str
) -> None:
    """The operator records the committee's choice (e.g. a show of hands, or after a tied vote)."""
    as_operator(ev, principal)
    require_status(ev, "checkin", "scoring")
    if ev.leader_member_id is not None:
        raise errors.leader_already_chosen()
    member = _active_member_by_expert(session, ev, expert_id)
    ev.leader_member_id = member.id
    ev.leader_chosen_by = "operator"
    session.flush()
    audit(
        session,
        principal,
        ev,
        "evaluation.leader_elected",
        {"round": ev.leader_round, "leader": str(expert_id), "chosen_by": "operator", "note": note},
    )


# -- starting -----------------------------------------------------------------------------------


def start(session: Session, principal: Principal, ev: EvaluationSession) -> None:
    as_operator(ev, principal)
    require_status(ev, "checkin")
    members = active_members(session, ev)
    _check_committee(members)
    absent = sorted(str(m.expert_id) for m in members if m.checked_in_at is None)
    if absent:
        raise errors.members_not_checked_in(absent)
    if ev.leader_member_id is None:
        raise errors.leader_not_chosen()
    ev.status = "scoring"
    ev.started_at = db_now(session)
    session.flush()
    audit(session, principal, ev, "evaluation.started", {"started_at": ev.started_at.isoformat()})


# -- sheets -------------------------------------------------------------------------------------


def _entries(entries: Iterable[ScoreEntry]) -> dict[tuple[str, str], Decimal]:
    scores: dict[tuple[str, str], Decimal] = {}
    for e in entries:
        key = (str(e.bid_id), e.criterion)
        if key in scores:
            raise errors.duplicate_score(*key)
        scores[key] = e.points
    return scores


def _validated(
    session: Session, ev: EvaluationSession, entries: Iterable[ScoreEntry]
) -> dict[tuple[str, str], Decimal]:
    scores = _entries(entries)
    rejected = set(adopted_rejections(session, ev))
    compliant = [b.bid_id for b in bids_of(ev) if b.bid_id not in rejected]
    problems = scoring.check_sheet(method_of(ev), compliant, scores)
    if problems:
        raise errors.invalid_sheet(problems)
    return scores


def sheet_document(
    ev: EvaluationSession, member: EvaluationMember, version: int, scores: dict[tuple[str, str], Decimal]
) -> dict[str, Any]:
    """The canonical sheet a member signs: points as text with two decimals, entries sorted."""
    return {
        "format": SHEET_FORMAT,
        "evaluation_id": str(ev.id),
        "lot_id": str(ev.lot_id),
        "expert_id": str(member.expert_id),
        "version": version,
        "opening_sha256": ev.opening_sha256,
        "method": ev.method,
        "scores": [
            {"bid_id": bid, "criterion": code, "points": f"{points:.2f}"}
            for (bid, code), points in sorted(scores.items())
        ],
    }


def scores_of(sheet: ScoreSheet) -> dict[tuple[str, str], Decimal]:
    return {(s["bid_id"], s["criterion"]): Decimal(s["points"]) for s in sheet.document["scores"]}


def submit_sheet(
    session: Session, principal: Principal, ev: EvaluationSession, entries: list[ScoreEntry]
) -> tuple[ScoreSheet, bool]:
    """Sign the member's sheet. Sending the very same sheet again returns the first submission
    (``False``: nothing new); a different one is refused, it can only be corrected."""
    member = as_member(session, ev, principal)
    require_status(ev, "scoring")
    scores = _validated(session, ev, entries)
    existing = current_sheet(session, member)
    if existing is not None:
        if existing.version == 1 and existing.sha256 == sha256_of(sheet_document(ev, member, 1, scores)):
            return existing, False
        raise errors.sheet_already_submitted(existing.sha256)
    document = sheet_document(ev, member, 1, scores)
    sheet = ScoreSheet(session_id=ev.id, member_id=member.id, version=1, document=document, sha256=sha256_of(document))
    session.add(sheet)
    session.flush()
    audit(
        session,
        principal,
        ev,
        "evaluation.sheet_submitted",
        {"expert_id": str(member.expert_id), "version": 1, "sha256": sheet.sha256},
        object_type="score_sheet",
        object_id=str(sheet.id),
    )
    return sheet, True


def request_correction(session: Session, principal: Principal, ev: EvaluationSession, body: CorrectionIn) -> Correction:
    member = as_member(session, ev, principal)
    require_status(ev, "scoring")
    sheet = current_sheet(session, member)
    if sheet is None:
        raise errors.no_sheet()
    pending = session.scalars(
        select(Correction.id).where(Correction.member_id == member.id, Correction.status == "pending")
    ).first()
    if pending is not None:
        raise errors.correction_pending()
    scores = _validated(session, ev, body.scores)
    proposed = sheet_document(ev, member, sheet.version, scores)
    if sha256_of(proposed) == sheet.sha256:
        raise errors.correction_changes_nothing()
    correction = Correction(
        session_id=ev.id,
        member_id=member.id,
        from_sheet_id=sheet.id,
        reason=body.reason,
        explanation=body.explanation,
        scores=proposed["scores"],
        status="pending",
    )
    session.add(correction)
    session.flush()
    audit(
        session,
        principal,
        ev,
        "evaluation.correction_requested",
        {
            "expert_id": str(member.expert_id),
            "reason": body.reason,
            "explanation": body.explanation,
            "from_sha256": sheet.sha256,
            "scores_sha256": sha256_of(proposed["scores"]),
        },
        object_type="correction",
        object_id=str(correction.id),
    )
    return correction


def decide_correction(
    session: Session, principal: Principal, ev: EvaluationSession, correction_id: uuid.UUID, approve: bool, note: str
) -> tuple[Correction, ScoreSheet | None]:
    """The leader (not for their own sheet) or the operator approves or refuses. Approval closes the
    current sheet and adds the next version, signed with its own digest; nothing is overwritten."""
    decider = leader_or_operator(session, ev, principal)
    require_status(ev, "scoring")
    correction = session.scalars(
        select(Correction).where(Correction.id == correction_id, Correction.session_id == ev.id)
    ).one_or_none()
    if correction is None:
        raise errors.correction_not_found()
    if correction.status != "pending":
        raise errors.correction_decided(correction.status)
    if decider is not None and decider.id == correction.member_id:
        raise errors.own_correction()
    now = db_now(session)
    correction.status = "approved" if approve else "refused"
    correction.decided_by = principal.subject
    correction.decided_role = "operator" if decider is None else "leader"
    correction.decided_at = now
    correction.decision_note = note
    new_sheet: ScoreSheet | None = None
    member = session.get(EvaluationMember, correction.member_id)
    assert member is not None  # noqa: S101 - a foreign key
    if approve:
        old = current_sheet(session, member)
        assert old is not None and old.id == correction.from_sheet_id  # noqa: S101 - one pending correction per member
        old.superseded_at = now
        session.flush()  # the partial unique index admits one current sheet per member
        scores = {(s["bid_id"], s["criterion"]): Decimal(s["points"]) for s in correction.scores}
        document = sheet_document(ev, member, old.version + 1, scores)
        new_sheet = ScoreSheet(
            session_id=ev.id,
            member_id=member.id,
            version=old.version + 1,
            document=document,
            sha256=sha256_of(document),
            correction_id=correction.id,
        )
        session.add(new_sheet)
    session.flush()
    audit(
        session,
        principal,
        ev,
        "evaluation.correction_approved" if approve else "evaluation.correction_refused",
        {
            "expert_id": str(member.expert_id),
            "reason": correction.reason,
            "decided_role": correction.decided_role,
            "note": note,
            "new_sha256": new_sheet.sha256 if new_sheet else None,
            "new_version": new_sheet.version if new_sheet else None,
        },
        object_type="correction",
        object_id=str(correction.id),
    )
    return correction, new_sheet


# -- rejections (否决投标) ------------------------------------------------------------------------


def rejection_votes(session: Session, ev: EvaluationSession, rejection: Rejection) -> tuple[int, int]:
    """(agree, disagree) among active members: a replaced member's vote is void."""
    active = {m.id for m in active_members(session, ev)}
    votes = session.scalars(select(RejectionVote).where(RejectionVote.rejection_id == rejection.id))
    agree = disagree = 0
    for v in votes:
        if v.member_id in active:
            if v.agree:
                agree += 1
            else:
                disagree += 1
    return agree, disagree


def _tally_rejection(session: Session, principal: Principal, ev: EvaluationSession, rejection: Rejection) -> None:
    agree, disagree = rejection_votes(session, ev, rejection)
    committee = len(active_members(session, ev))
    if _majority(agree, committee):
        rejection.status = "adopted"
    elif _majority(disagree, committee):
        rejection.status = "dismissed"
    else:
        return
    rejection.decided_at = db_now(session)
    session.flush()
    audit(
        session,
        principal,
        ev,
        f"evaluation.rejection_{rejection.status}",
        {"bid_id": str(rejection.bid_id), "agree": agree, "disagree": disagree, "committee": committee},
        object_type="rejection",
        object_id=str(rejection.id),
    )


def propose_rejection(session: Session, principal: Principal, ev: EvaluationSession, body: RejectionIn) -> Rejection:
    """A member proposes to reject a bid; the proposal is also the proposer's vote for it."""
    member = as_member(session, ev, principal)
    require_status(ev, "scoring")
    if str(body.bid_id) not in {b.bid_id for b in bids_of(ev)}:
        raise errors.unknown_bid(body.bid_id)
    live = session.scalars(
        select(Rejection.id).where(
            Rejection.session_id == ev.id, Rejection.bid_id == body.bid_id, Rejection.status != "dismissed"
        )
    ).first()
    if live is not None:
        raise errors.rejection_exists(live)
    rejection = Rejection(
        session_id=ev.id,
        bid_id=body.bid_id,
        reason=body.reason,
        basis=body.basis,
        proposed_by_member_id=member.id,
        status="proposed",
    )
    session.add(rejection)
    session.flush()
    session.add(RejectionVote(rejection_id=rejection.id, member_id=member.id, agree=True))
    session.flush()
    audit(
        session,
        principal,
        ev,
        "evaluation.rejection_proposed",
        {"bid_id": str(body.bid_id), "reason": body.reason, "basis": body.basis, "proposer": str(member.expert_id)},
        object_type="rejection",
        object_id=str(rejection.id),
    )
    _tally_rejection(session, principal, ev, rejection)
    return rejection


def vote_rejection(
    session: Session,
    principal: Principal,
    ev: EvaluationSession,
    rejection_id: uuid.UUID,
    agree: bool,
    note: str | None,
) -> Rejection:
    member = as_member(session, ev, principal)
    require_status(ev, "scoring")
    rejection = session.scalars(
        select(Rejection).where(Rejection.id == rejection_id, Rejection.session_id == ev.id)
    ).one_or_none()
    if rejection is None:
        raise errors.rejection_not_found()
    if rejection.status != "proposed":
        raise errors.rejection_decided(rejection.status)
    voted = session.scalars(
        select(RejectionVote.id).where(RejectionVote.rejection_id == rejection.id, RejectionVote.member_id == member.id)
    ).first()
    if voted is not None:
        raise errors.already_voted()
    session.add(RejectionVote(rejection_id=rejection.id, member_id=member.id, agree=agree, note=note))
    session.flush()
    audit(
        session,
        principal,
        ev,
        "evaluation.rejection_vote_cast",
        {"bid_id": str(rejection.bid_id), "voter": str(member.expert_id), "agree": agree, "note": note},
        object_type="rejection",
        object_id=str(rejection.id),
    )
    _tally_rejection(session, principal, ev, rejection)
    return rejection


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """Where the scoring stands: who has not signed, what is still open, and the outcome if all
    sheets are in."""

    missing: list[uuid.UUID]
    pending_rejections: list[uuid.UUID]
    pending_corrections: list[uuid.UUID]
    outcome: scoring.Outcome | None
    sheets: dict[uuid.UUID, ScoreSheet]


def standing(session: Session, ev: EvaluationSession, threshold: Decimal) -> Standing:
    members = active_members(session, ev)
    sheets = {m.expert_id: s for m in members if (s := current_sheet(session, m)) is not None}
    missing = sorted(m.expert_id for m in members if m.expert_id not in sheets)
    rejections = rejections_of(session, ev)
    pending_rejections = [r.id for r in rejections if r.status == "proposed"]
    pending_corrections = list(
        session.scalars(
            select(Correction.id)
            .join(EvaluationMember, EvaluationMember.id == Correction.member_id)
            .where(
                Correction.session_id == ev.id,
                Correction.status == "pending",
                EvaluationMember.status == "active",
            )
        )
    )
    outcome = None
    if not missing and members:
        try:
            outcome = scoring.aggregate(
                method_of(ev),
                bids_of(ev),
                [str(r.bid_id) for r in rejections if r.status == "adopted"],
                adjustments_of(ev),
                {str(expert): scores_of(sheet) for expert, sheet in sheets.items()},
                threshold,
            )
        except scoring.ScoringError as exc:
            raise errors.scoring_error(exc.code, exc.message, exc.details) from None
    return Standing(missing, pending_rejections, pending_corrections, outcome, sheets)


def ranked_json(outcome: scoring.Outcome) -> list[dict[str, Any]]:
    return [
        {
            "rank": r.rank,
            "bid_id": r.bid_id,
            "bidder_credit_code": r.bidder_credit_code,
            "price_fen": r.price_fen,
            "evaluation_price_fen": r.evaluation_price_fen,
            "price_score": None if r.price_score is None else str(r.price_score),
            "member_totals": {m: str(t) for m, t in sorted(r.member_totals.items())},
            "score": None if r.score is None else str(r.score),
            "tied_with_previous": r.tied_with_previous,
        }
        for r in outcome.ranked
    ]


def deviations_json(outcome: scoring.Outcome, threshold: Decimal) -> list[dict[str, Any]]:
    return [
        {
            "expert_id": d.member,
            "bid_id": d.bid_id,
            "member_total": str(d.member_total),
            "committee_mean": str(d.committee_mean),
            "deviation": str(d.deviation),
            "threshold": str(threshold),
        }
        for d in outcome.deviations
    ]


# -- completing the report ----------------------------------------------------------------------


def complete(
    session: Session, principal: Principal, ev: EvaluationSession, threshold: Decimal
) -> EvaluationReportRecord:
    """Sign the report: every active member's sheet in, nothing open. Stores the report with its
    digest and the delivery to trading, and reveals the draw (its seed and list)."""
    leader_or_operator(session, ev, principal)
    require_status(ev, "scoring")
    members = active_members(session, ev)
    _check_committee(members)
    state = standing(session, ev, threshold)
    if state.missing:
        raise errors.sheets_missing([str(e) for e in state.missing])
    if state.pending_corrections or state.pending_rejections:
        raise errors.open_matters(
            [str(c) for c in state.pending_corrections], [str(r) for r in state.pending_rejections]
        )
    assert state.outcome is not None  # noqa: S101 - all sheets are in
    completed_at = db_now(session)
    ev.status = "completed"
    ev.completed_at = completed_at
    report = build_report(session, ev, state.outcome, threshold)
    digest = sha256_of(report)
    rejections = [r for r in rejections_of(session, ev) if r.status == "adopted"]
    payload = EvaluationReport(
        evaluation_id=ev.id,
        lot_id=ev.lot_id,
        method=ev.method,
        candidates=[
            Candidate(
                rank=c.rank,
                bid_id=uuid.UUID(c.bid_id),
                bidder_credit_code=c.bidder_credit_code,
                score=c.score,
                evaluated_price_fen=c.evaluation_price_fen,
            )
            for c in state.outcome.candidates
        ],
        rejected=[RejectedBid(bid_id=r.bid_id, reason=r.reason) for r in rejections],
        report=report,
        report_sha256=digest,
        completed_at=completed_at,
    )
    record = EvaluationReportRecord(
        session_id=ev.id,
        lot_id=ev.lot_id,
        payload=payload.model_dump(mode="json"),
        sha256=digest,
        completed_at=completed_at,
        attempts=0,
    )
    session.add(record)
    session.flush()
    reveal_for_lot(session, ev.lot_id, principal)
    audit(
        session,
        principal,
        ev,
        "evaluation.completed",
        {
            "report_sha256": digest,
            "candidates": [{"rank": c.rank, "bid_id": c.bid_id} for c in state.outcome.candidates],
            "rejected": [str(r.bid_id) for r in rejections],
            "signatures": report["signatures"],
        },
    )
    return record


def build_report(
    session: Session, ev: EvaluationSession, outcome: scoring.Outcome, threshold: Decimal
) -> dict[str, Any]:
    """The whole record of the evaluation as one canonical JSON document (docs/evaluation.md)."""
    method = method_of(ev)
    adjustments = adjustments_of(ev)
    members = all_members(session, ev)
    expert_of = {m.id: str(m.expert_id) for m in members}
    leader_votes_now = leader_votes(session, ev)
    check_ins = session.scalars(
        select(EvaluationCheckIn).where(EvaluationCheckIn.session_id == ev.id).order_by(EvaluationCheckIn.recorded_at)
    )
    attestations: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for c in check_ins:
        attestations.setdefault(c.member_id, []).append(
            {
                "venue_id": str(c.venue_id),
                "device_id": c.device_id,
                "method": c.method,
                "result": c.result,
                "attested_at": _iso(c.attested_at),
                "evidence_ref": c.evidence_ref,
                "evidence_sha256": c.evidence_sha256,
                "recorded_at": _iso(c.recorded_at),
            }
        )
    sheets = list(
        session.scalars(
            select(ScoreSheet).where(ScoreSheet.session_id == ev.id).order_by(ScoreSheet.member_id, ScoreSheet.version)
        )
    )
    active = {m.id for m in members if m.status == "active"}
    current = [s for s in sheets if s.superseded_at is None and s.member_id in active]
    corrections = session.scalars(
        select(Correction).where(Correction.session_id == ev.id).order_by(Correction.requested_at)
    )
    bids = {b.bid_id: b for b in bids_of(ev)}
    rejections = rejections_of(session, ev)
    votes_of: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for v in session.scalars(
        select(RejectionVote)
        .join(Rejection, Rejection.id == RejectionVote.rejection_id)
        .where(Rejection.session_id == ev.id)
        .order_by(RejectionVote.cast_at)
    ):
        votes_of.setdefault(v.rejection_id, []).append(
            {"expert_id": expert_of[v.member_id], "agree": v.agree, "note": v.note, "cast_at": _iso(v.cast_at)}
        )
    pauses = session.scalars(select(Pause).where(Pause.session_id == ev.id).order_by(Pause.paused_at))
    venues = session.scalars(
        select(EvaluationVenue)
        .where(EvaluationVenue.session_id == ev.id)
        .order_by(EvaluationVenue.role, EvaluationVenue.venue_id)
    )
    opening = ev.opening
    return {
        "format": REPORT_FORMAT,
        "evaluation_id": str(ev.id),
        "lot_id": str(ev.lot_id),
        "project_code": ev.project_code,
        "platform": ev.platform,
        "law": ev.law,
        "method": ev.method,
        "rounding": {"scores": "0.01 ROUND_HALF_UP", "evaluation_price_fen": "1 ROUND_HALF_UP"},
        "criteria": [
            {"code": c.code, "name": c.name, "kind": c.kind, "max_points": str(c.max_points)}
            for c in (method.criteria if isinstance(method, scoring.ComprehensiveScoring) else ())
        ],
        "price_formula": scoring.PRICE_FORMULA if isinstance(method, scoring.ComprehensiveScoring) else None,
        "price_adjustments": {
            "sme_discount_pct": None if adjustments.sme_pct is None else str(adjustments.sme_pct),
            "innovation_discount_pct": None if adjustments.innovation_pct is None else str(adjustments.innovation_pct),
        },
        "opening": {"sha256": ev.opening_sha256, "opened_at": opening.get("opened_at"), "bids": len(opening["bids"])},
        "venues": [
            {"venue_id": str(v.venue_id), "platform": v.platform, "role": v.role, "seats": v.seats} for v in venues
        ],
        "committee": [
            {
                "expert_id": str(m.expert_id),
                "name": m.name,
                "specialty": m.specialty,
                "venue_id": None if m.venue_id is None else str(m.venue_id),
                "status": m.status,
                "leader": ev.leader_member_id == m.id,
                "checked_in_at": _iso(m.checked_in_at),
                "replaced_at": _iso(m.replaced_at),
                "attestations": attestations.get(m.id, []),
            }
            for m in members
        ],
        "leader": {
            "expert_id": expert_of.get(ev.leader_member_id) if ev.leader_member_id else None,
            "chosen_by": ev.leader_chosen_by,
            "round": ev.leader_round,
            "votes": {expert_of[k]: n for k, n in sorted(leader_votes_now.items(), key=lambda kv: expert_of[kv[0]])},
        },
        "sheets": [
            {
                "expert_id": expert_of[s.member_id],
                "version": s.version,
                "sha256": s.sha256,
                "submitted_at": _iso(s.submitted_at),
                "superseded_at": _iso(s.superseded_at),
                "void_reason": s.void_reason,
                "document": s.document,
            }
            for s in sheets
        ],
        "signatures": sorted(
            (
                {
                    "expert_id": expert_of[s.member_id],
                    "sheet_version": s.version,
                    "sheet_sha256": s.sha256,
                    "submitted_at": _iso(s.submitted_at),
                }
                for s in current
            ),
            key=lambda sig: sig["expert_id"],
        ),
        "corrections": [
            {
                "id": str(c.id),
                "expert_id": expert_of[c.member_id],
                "reason": c.reason,
                "explanation": c.explanation,
                "status": c.status,
                "requested_at": _iso(c.requested_at),
                "decided_by": c.decided_by,
                "decided_role": c.decided_role,
                "decided_at": _iso(c.decided_at),
                "decision_note": c.decision_note,
            }
            for c in corrections
        ],
        "rejections": [
            {
                "bid_id": str(r.bid_id),
                "bidder_credit_code": bids[str(r.bid_id)].bidder_credit_code,
                "reason": r.reason,
                "basis": r.basis,
                "status": r.status,
                "proposed_by": expert_of[r.proposed_by_member_id],
                "proposed_at": _iso(r.proposed_at),
                "decided_at": _iso(r.decided_at),
                "votes": votes_of.get(r.id, []),
            }
            for r in rejections
        ],
        "bids": [
            {
                "bid_id": b.bid_id,
                "bidder_credit_code": b.bidder_credit_code,
                "price_fen": b.price_fen,
                "sme": b.sme,
                "innovation_product": b.innovation_product,
                "evaluation_price_fen": scoring.evaluation_price_fen(b, adjustments),
            }
            for b in bids.values()
        ],
        "ranking": ranked_json(outcome),
        "candidates": [
            {"rank": c.rank, "bid_id": c.bid_id, "score": None if c.score is None else str(c.score)}
            for c in outcome.candidates
        ],
        "deviations": deviations_json(outcome, threshold),
        "pauses": [_pause_json(p) for p in pauses],
        "created_at": _iso(ev.created_at),
        "started_at": _iso(ev.started_at),
        "completed_at": _iso(ev.completed_at),
    }


def _pause_json(p: Pause) -> dict[str, Any]:
    return {
        "phase": p.phase,
        "reason": p.reason,
        "limit_minutes": p.limit_minutes,
        "paused_by": p.paused_by,
        "paused_at": _iso(p.paused_at),
        "ended_by": p.ended_by,
        "ended_at": _iso(p.ended_at),
        "outcome": p.outcome,
    }


def report_of(session: Session, ev: EvaluationSession) -> EvaluationReportRecord:
    record = session.scalars(
        select(EvaluationReportRecord).where(EvaluationReportRecord.session_id == ev.id)
    ).one_or_none()
    if record is None:
        raise errors.report_not_found()
    return record


# -- outages ------------------------------------------------------------------------------------


def open_pause(session: Session, ev: EvaluationSession) -> Pause | None:
    return session.scalars(select(Pause).where(Pause.session_id == ev.id, Pause.ended_at.is_(None))).one_or_none()


def pause(
    session: Session, principal: Principal, ev: EvaluationSession, reason: str, limits: dict[Phase, int]
) -> Pause:
    """Record an outage. Before the start the before-start limit applies, after it the during limit."""
    as_operator(ev, principal)
    require_status(ev, "checkin", "scoring")
    phase: Phase = "before_start" if ev.status == "checkin" else "during"
    record = Pause(
        session_id=ev.id, phase=phase, reason=reason, limit_minutes=limits[phase], paused_by=principal.subject
    )
    session.add(record)
    ev.paused_from = ev.status
    ev.status = "paused"
    session.flush()
    audit(
        session,
        principal,
        ev,
        "evaluation.paused",
        {"phase": phase, "reason": reason, "limit_minutes": record.limit_minutes},
        object_type="evaluation_pause",
        object_id=str(record.id),
    )
    return record


def paused_minutes(session: Session, record: Pause) -> float:
    return (db_now(session) - record.paused_at).total_seconds() / 60


def resume(session: Session, principal: Principal, ev: EvaluationSession) -> tuple[Pause, bool]:
    """Resume within the limit (``True``); past it the evaluation is sealed instead (``False``)."""
    as_operator(ev, principal)
    require_status(ev, "paused")
    record = open_pause(session, ev)
    assert record is not None  # noqa: S101 - paused means one open pause
    if paused_minutes(session, record) > record.limit_minutes:
        seal(session, principal, ev, record, f"中断超过{record.limit_minutes}分钟")
        return record, False
    record.ended_at = db_now(session)
    record.ended_by = principal.subject
    record.outcome = "resumed"
    ev.status = ev.paused_from or "checkin"
    ev.paused_from = None
    session.flush()
    audit(
        session,
        principal,
        ev,
        "evaluation.resumed",
        {"phase": record.phase, "paused_at": _iso(record.paused_at), "resumed_at": _iso(record.ended_at)},
        object_type="evaluation_pause",
        object_id=str(record.id),
    )
    return record, True


def seal(session: Session, principal: Principal, ev: EvaluationSession, record: Pause, reason: str) -> None:
    """Stop for good: no more changes; the draw is voided so a new committee is drawn
    (条例 第四十八条; 87号令 第四十九条: a committee that cannot continue is re-formed)."""
    now = db_now(session)
    record.ended_at = now
    record.ended_by = principal.subject
    record.outcome = "sealed"
    ev.status = "sealed"
    ev.paused_from = None
    ev.sealed_at = now
    ev.seal_reason = reason
    session.flush()
    # The evaluation is sealed whatever the draw says: if its committee was voided already (or
    # cannot be), that is recorded with the seal rather than keeping a dead evaluation open.
    draw_outcome = "voided"
    try:
        with session.begin_nested():
            void_for_lot(session, ev.lot_id, reason, principal)
    except ApiError as exc:
        draw_outcome = exc.code
    audit(
        session,
        principal,
        ev,
        "evaluation.sealed",
        {
            "reason": reason,
            "phase": record.phase,
            "limit_minutes": record.limit_minutes,
            "paused_at": _iso(record.paused_at),
            "sealed_at": _iso(now),
            "draw": draw_outcome,
        },
    )


def overdue_pauses(session: Session, limit: int = 50) -> list[uuid.UUID]:
    """Evaluations whose open pause has run past its limit, by the database clock."""
    return list(
        session.scalars(
            select(Pause.session_id)
            .where(
                Pause.ended_at.is_(None),
                Pause.paused_at + func.make_interval(0, 0, 0, 0, 0, Pause.limit_minutes) < func.clock_timestamp(),
            )
            .order_by(Pause.paused_at)
            .limit(limit)
        )
    )


def seal_if_overdue(session: Session, principal: Principal, evaluation_id: uuid.UUID) -> bool:
    ev = load(session, evaluation_id, lock=True)
    if ev.status != "paused":
        return False
    record = open_pause(session, ev)
    if record is None or paused_minutes(session, record) <= record.limit_minutes:
        return False
    seal(session, principal, ev, record, f"中断超过{record.limit_minutes}分钟")
    return True


# -- committee changes --------------------------------------------------------------------------


def refresh_committee(session: Session, principal: Principal, ev: EvaluationSession) -> dict[str, list[str]]:
    """Follow the draw after a replacement: members no longer accepted are ``replaced`` and their
    sheets, votes and pending corrections void; newly accepted ones join and must check in."""
    as_operator(ev, principal)
    require_status(ev, "checkin", "scoring")
    committee = {m.expert_id: m for m in accepted_committee(session, ev.lot_id)}
    members = all_members(session, ev)
    known = {m.expert_id: m for m in members}
    venue_ids = set(session.scalars(select(EvaluationVenue.venue_id).where(EvaluationVenue.session_id == ev.id)))
    stray = sorted(str(e) for e, m in committee.items() if m.venue_id is not None and m.venue_id not in venue_ids)
    if stray:
        raise errors.member_venue_unknown(stray)
    returning = sorted(str(e) for e in committee if e in known and known[e].status == "replaced")
    if returning:
        # A replaced member's views are void; they cannot come back into the same evaluation.
        raise errors.not_a_member(returning[0])
    now = db_now(session)
    replaced: list[str] = []
    for m in members:
        if m.status == "active" and m.expert_id not in committee:
            m.status = "replaced"
            m.replaced_at = now
            replaced.append(str(m.expert_id))
            sheet = current_sheet(session, m)
            if sheet is not None:
                sheet.void_reason = "member_replaced"
            for c in session.scalars(
                select(Correction).where(Correction.member_id == m.id, Correction.status == "pending")
            ):
                c.status = "refused"
                c.decided_by = principal.subject
                c.decided_role = "operator"
                c.decided_at = now
                c.decision_note = "成员已被替换，更正申请作废"
            if ev.leader_member_id == m.id:
                ev.leader_member_id = None
                ev.leader_chosen_by = None
                ev.leader_round += 1
    added = sorted(str(e) for e in committee if e not in known)
    for expert_id, seat in committee.items():
        if expert_id not in known:
            session.add(_member_row(ev, seat))
    session.flush()
    if not replaced and not added:
        return {"replaced": [], "added": []}
    # Votes already cast on open rejections may now reach a majority of the smaller committee, or
    # lose it; tallying again keeps the outcome a function of the active members' votes.
    for r in rejections_of(session, ev):
        if r.status == "proposed":
            _tally_rejection(session, principal, ev, r)
    audit(
        session,
        principal,
        ev,
        "evaluation.committee_changed",
        {"replaced": sorted(replaced), "added": added, "leader_round": ev.leader_round},
    )
    return {"replaced": sorted(replaced), "added": added}


# -- after the evaluation: ratings and misconduct -----------------------------------------------


def _any_member_by_expert(session: Session, ev: EvaluationSession, expert_id: uuid.UUID) -> EvaluationMember:
    member = session.scalars(
        select(EvaluationMember).where(EvaluationMember.session_id == ev.id, EvaluationMember.expert_id == expert_id)
    ).one_or_none()
    if member is None:
        raise errors.not_a_member(expert_id)
    return member


def _as_agency(ev: EvaluationSession, principal: Principal) -> None:
    if principal.org is None or principal.org != ev.agency_org:
        raise errors.evaluation_not_found()


def rate(session: Session, principal: Principal, ev: EvaluationSession, body: RatingIn) -> ExpertRating:
    """The lot's agency rates a member after the report is signed (one rating per member)."""
    _as_agency(ev, principal)
    require_status(ev, "completed")
    _any_member_by_expert(session, ev, body.expert_id)
    exists = session.scalars(
        select(ExpertRating.id).where(ExpertRating.session_id == ev.id, ExpertRating.expert_id == body.expert_id)
    ).first()
    if exists is not None:
        raise errors.already_rated()
    assert principal.org is not None  # noqa: S101 - checked by _as_agency
    rating = ExpertRating(
        session_id=ev.id,
        expert_id=body.expert_id,
        score=body.score,
        comment=body.comment,
        rated_by=principal.subject,
        organisation=principal.org,
    )
    session.add(rating)
    session.flush()
    audit(
        session,
        principal,
        ev,
        "expert.rated",
        {"expert_id": str(body.expert_id), "score": body.score, "comment": body.comment},
        object_type="expert",
        object_id=str(body.expert_id),
    )
    return rating


def ratings_of(session: Session, ev: EvaluationSession) -> list[ExpertRating]:
    return list(
        session.scalars(select(ExpertRating).where(ExpertRating.session_id == ev.id).order_by(ExpertRating.rated_at))
    )


def report_misconduct(
    session: Session, principal: Principal, ev: EvaluationSession, body: MisconductIn
) -> MisconductReport:
    """Recorded here and sent to supervision as the audit event ``expert.misconduct_reported``
    (the outbox relay delivers it to supervision's ledger), with the evidence's digest."""
    if principal.has_role("operator"):
        as_operator(ev, principal)
        role = "operator"
    else:
        _as_agency(ev, principal)
        role = "agency"
    _any_member_by_expert(session, ev, body.expert_id)
    report = MisconductReport(
        session_id=ev.id,
        expert_id=body.expert_id,
        category=body.category,
        description=body.description,
        evidence_sha256=body.evidence_sha256,
        evidence_ref=body.evidence_ref,
        reported_by=principal.subject,
        reporter_role=role,
        organisation=principal.org,
    )
    session.add(report)
    session.flush()
    audit(
        session,
        principal,
        ev,
        "expert.misconduct_reported",
        {
            "report_id": str(report.id),
            "expert_id": str(body.expert_id),
            "category": body.category,
            "description": body.description,
            "evidence_sha256": body.evidence_sha256,
            "evidence_ref": body.evidence_ref,
            "reporter_role": role,
        },
        object_type="expert",
        object_id=str(body.expert_id),
    )
    return report
