from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header, Request, Response

from services.expert_pool.draws import errors, service
from services.expert_pool.draws.credit import supervision_client
from services.expert_pool.draws.models import Draw, DrawAssignment
from services.expert_pool.draws.schemas import (
    AssignmentOut,
    CommitteeOut,
    DeclineIn,
    DrawDetail,
    DrawRecord,
    NoShowIn,
    RedrawIn,
    RevealIn,
    SupplementaryIn,
    VerifyOut,
)
from services.expert_pool.settings import ExpertPoolSettings
from shared.auth import Principal, require
from shared.clients.supervision import SupervisionClient
from shared.contracts.experts import DrawRequest, DrawSummary
from shared.db import DbSession, commit_before_answering

router = APIRouter(tags=["draws"])

trading = require(typ="service", scopes=("experts:draw",))
# Users by role, the trading service by scope (require() tests each by its own rule).
followers = require("operator", "admin", "supervisor", scopes=("experts:draw",))
requesters = require("operator", "admin", scopes=("experts:draw",))
revealers = require("operator", "admin", "supervisor", typ="user")
operators = require("operator", "admin", typ="user")
experts = require("expert", typ="user")

IDEMPOTENCY_KEY = Header(
    None,
    alias="Idempotency-Key",
    max_length=200,
    description="required: a unique string per draw request, e.g. a UUID; a retry sends the same one",
)


def _settings(request: Request) -> ExpertPoolSettings:
    settings: ExpertPoolSettings = request.app.state.settings
    return settings


def _answer(session: DbSession, response: Response, draw: Draw, replayed: bool) -> DrawSummary:
    if replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    summary = service.summary(session, draw)
    # A draw's selection holds the transaction-level advisory lock that serialises draws.
    commit_before_answering(session)
    return summary


@router.post("/draws", status_code=201, response_model=DrawSummary)
def request_draw(
    body: DrawRequest,
    request: Request,
    response: Response,
    session: DbSession,
    principal: Principal = Depends(trading),
    supervision: SupervisionClient = Depends(supervision_client),
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> DrawSummary:
    """Draw an evaluation committee for a lot (trading, service token with scope `experts:draw`).

    The committee must have an odd number of experts, at least 5 (招标投标法 第三十七条), at least 7
    for government procurement with a budget of 10,000,000 CNY or more (87号令 第四十七条); a remote
    evaluation needs exactly one main venue and as many seats as members. Broken rules answer 422
    `draw_rule_violated` listing each with its article; unknown or retired specialties 422
    `unknown_specialty`. A county system may draw only for its own platform (403 `forbidden_platform`).

    Experts are avoided as docs/draw.md §1 lists (employees and former employees of the tenderee,
    agency and bidders, declared conflicts, credit bans from supervision, repeat service for the
    tenderee, unavailability, other committees at the same time, the entry rule for engineering).
    Supervision must answer the credit check: if it cannot, 503 `dependency_unavailable` and nothing
    is drawn; retry with the same key. Too few eligible experts: 409 `not_enough_experts`.

    `Idempotency-Key` is required: the same key with the same body returns the same draw (200,
    `Idempotent-Replayed: true`), with another body 422 `idempotency_key_reused`; a lot drawn before
    answers 409 `lot_already_drawn` (a new panel only through `POST /draws/{id}/redraw`). The answer
    is counts and status only: the list is sealed until the result is decided."""
    key = service.check_key(idempotency_key)
    draw, replayed = service.request_draw(session, principal, body, key, _settings(request), supervision)
    return _answer(session, response, draw, replayed)


@router.get("/draws/{draw_id}", response_model=DrawSummary)
def get_draw(draw_id: uuid.UUID, session: DbSession, principal: Principal = Depends(followers)) -> DrawSummary:
    """Counts and status of a draw, never names (trading for the tenderee and agency; the lot's
    platform staff and supervisors). Another county's draw answers 404."""
    return service.summary(session, service.visible_draw(session, principal, draw_id))


@router.get("/lots/{lot_id}/draws", response_model=list[DrawDetail])
def lot_draws(lot_id: uuid.UUID, session: DbSession, principal: Principal = Depends(followers)) -> list[DrawDetail]:
    """Every draw of a lot with its history: re-draws and supplementary draws with their reasons,
    exclusion counts per rule, commitments and digests. No names or expert ids."""
    return service.lot_draws(session, principal, lot_id)


@router.get("/draws/{draw_id}/committee", response_model=CommitteeOut)
def get_committee(draw_id: uuid.UUID, session: DbSession, principal: Principal = Depends(followers)) -> CommitteeOut:
    """The drawn experts (names, specialties, order, status; never ID numbers or phones) once the
    result is decided; before that 409 `draw_sealed` (招标投标法 第三十七条)."""
    return service.committee(session, service.visible_draw(session, principal, draw_id))


@router.get("/draws/{draw_id}/record", response_model=DrawRecord)
def get_record(draw_id: uuid.UUID, session: DbSession, principal: Principal = Depends(followers)) -> DrawRecord:
    """The draw's published record once its seed is revealed: seed, commitment, request, snapshot
    and result, enough to recompute the list offline (`python -m tools.verify_draw`, docs/draw.md).
    Before the reveal 409 `draw_sealed`."""
    return service.record(session, service.visible_draw(session, principal, draw_id))


@router.get("/draws/{draw_id}/verify", response_model=VerifyOut)
def verify_draw(draw_id: uuid.UUID, session: DbSession, principal: Principal = Depends(followers)) -> VerifyOut:
    """Recompute the selection from the stored seed, request and snapshot and compare it with the
    stored result and assignments. Answers booleans only, so it may be asked while sealed."""
    return service.verify(session, service.visible_draw(session, principal, draw_id))


@router.post("/draws/{draw_id}/reveal", response_model=DrawRecord)
def reveal_draw(
    draw_id: uuid.UUID, body: RevealIn, session: DbSession, principal: Principal = Depends(revealers)
) -> DrawRecord:
    """Reveal a draw once the result is decided (the lot's platform operators, supervisors): the
    seed is published and the list opened. Refused before the evaluation has started (409
    `result_not_decided`) and for a draw that selected nobody (409 `draw_wrong_status`). Revealing
    again changes nothing. Answers the published record."""
    draw = service.visible_draw(session, principal, draw_id)
    service.reveal(session, draw.id, principal, reason=body.reason, require_started=True)
    return service.record(session, draw)


@router.post("/draws/{draw_id}/redraw", status_code=201, response_model=DrawSummary)
def redraw(
    draw_id: uuid.UUID,
    body: RedrawIn,
    request: Request,
    response: Response,
    session: DbSession,
    principal: Principal = Depends(requesters),
    supervision: SupervisionClient = Depends(supervision_client),
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> DrawSummary:
    """Draw a new committee in place of this one, for a stated reason (the lot's platform operators,
    or trading). A live draw is voided (its members told their seat is cancelled); the new draw has
    its own commitment, seed and record, links to the old one, and excludes everyone drawn for the
    lot before. New evaluation times may be given when the committee is re-formed for a later
    sitting. `Idempotency-Key` required, as for `POST /draws`."""
    key = service.check_key(idempotency_key)
    draw, replayed = service.redraw(session, principal, draw_id, body, key, _settings(request), supervision)
    return _answer(session, response, draw, replayed)


@router.post("/draws/{draw_id}/supplementary", status_code=201, response_model=DrawSummary)
def supplementary_draw(
    draw_id: uuid.UUID,
    body: SupplementaryIn,
    request: Request,
    response: Response,
    session: DbSession,
    principal: Principal = Depends(requesters),
    supervision: SupervisionClient = Depends(supervision_client),
    idempotency_key: str | None = IDEMPOTENCY_KEY,
) -> DrawSummary:
    """A supplementary draw (补充抽取) when declines and no-shows used up a specialty's reserves: as
    many members as are missing per such specialty, excluding everyone drawn for the lot before.
    409 `no_shortfall` when nothing is missing. `Idempotency-Key` required."""
    key = service.check_key(idempotency_key)
    draw, replayed = service.supplementary(session, principal, draw_id, body, key, _settings(request), supervision)
    return _answer(session, response, draw, replayed)


@router.post("/draws/{draw_id}/assignments/{assignment_id}/no-show", response_model=DrawSummary)
def no_show(
    draw_id: uuid.UUID,
    assignment_id: uuid.UUID,
    body: NoShowIn,
    session: DbSession,
    principal: Principal = Depends(operators),
) -> DrawSummary:
    """Record that a member did not come (the lot's platform operators). The next reserve of the
    specialty is called in draw order and told."""
    draw = service.visible_draw(session, principal, draw_id)
    assignment = session.get(DrawAssignment, assignment_id)
    if assignment is None or assignment.draw_id != draw.id:
        raise errors.assignment_not_found()
    service.mark_no_show(session, assignment_id, body.reason, principal)
    return service.summary(session, draw)


@router.get("/me/assignments", response_model=list[AssignmentOut])
def my_assignments(session: DbSession, principal: Principal = Depends(experts)) -> list[AssignmentOut]:
    """Your own evaluation assignments (experts): when, which specialty, where, and your answer.
    Nothing about the other experts."""
    return service.my_assignments(session, principal)


@router.post("/me/assignments/{assignment_id}/accept", response_model=AssignmentOut)
def accept(assignment_id: uuid.UUID, session: DbSession, principal: Principal = Depends(experts)) -> AssignmentOut:
    """Confirm you will attend. Only before the evaluation starts."""
    return service.respond(session, principal, assignment_id, accept=True)


@router.post("/me/assignments/{assignment_id}/decline", response_model=AssignmentOut)
def decline(
    assignment_id: uuid.UUID, body: DeclineIn, session: DbSession, principal: Principal = Depends(experts)
) -> AssignmentOut:
    """Decline (回避 or unable to attend), with your reason; a reserve takes your seat. Only before
    the evaluation starts."""
    return service.respond(session, principal, assignment_id, accept=False, reason=body.reason)
