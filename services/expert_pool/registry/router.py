"""The expert database's API (docs/experts.md): the specialty list, experts, their history, their
declared conflicts and unavailable periods, bulk import, and an expert's own record."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from services.expert_pool.registry import service
from services.expert_pool.registry.csv_import import (
    CSV_MEDIA_TYPE,
    ImportLimits,
    check_media_type,
    import_experts,
    import_limits,
    too_large,
)
from services.expert_pool.registry.identity_numbers import IdNumberCipher, cipher_for
from services.expert_pool.registry.models import Expert, ExpertConflict, ExpertEmployment, ExpertUnavailability
from services.expert_pool.registry.schemas import (
    SPECIALTY_CODE,
    ConflictCreate,
    ConflictOut,
    EmploymentCreate,
    EmploymentOut,
    ExpertCreate,
    ExpertOut,
    ExpertPage,
    ExpertUpdate,
    ImportResult,
    Reactivation,
    SpecialtyCreate,
    SpecialtyUpdate,
    StatusChange,
    UnavailabilityCreate,
    UnavailabilityOut,
    expert_out,
)
from services.expert_pool.settings import ExpertPoolSettings
from shared.auth import Principal, ensure_city, require
from shared.contracts.experts import Specialty as SpecialtyOut
from shared.db import DbSession
from shared.request_body import request_chunks

router = APIRouter(tags=["registry"])
staff = require("operator", "admin", typ="user")
expert_readers = require("operator", "admin", "supervisor", typ="user")
experts_themselves = require("expert", typ="user")

CSV_UPLOAD: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the CSV file (UTF-8, header row) as the raw body, not multipart (docs/experts.md)",
        "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    }
}


def id_number_cipher(request: Request) -> IdNumberCipher:
    settings: ExpertPoolSettings = request.app.state.settings
    return cipher_for(settings.id_number_key)


def _specialty_out(s: Any) -> SpecialtyOut:
    return SpecialtyOut(code=s.code, name=s.name, parent_code=s.parent_code, active=s.active)


def _employment_out(e: ExpertEmployment) -> EmploymentOut:
    return EmploymentOut(
        id=e.id,
        employer_credit_code=e.employer_credit_code,
        employer_name=e.employer_name,
        started_on=e.started_on,
        ended_on=e.ended_on,
        current=e.ended_on is None,
    )


def _conflict_out(c: ExpertConflict) -> ConflictOut:
    return ConflictOut.model_validate(c, from_attributes=True)


def _period_out(p: ExpertUnavailability) -> UnavailabilityOut:
    return UnavailabilityOut.model_validate(p, from_attributes=True)


# --- specialties ---------------------------------------------------------------------------------


@router.post("/specialties", status_code=201, response_model=SpecialtyOut)
def create_specialty(session: DbSession, body: SpecialtyCreate, principal: Principal = Depends(staff)) -> SpecialtyOut:
    """Add a specialty to the code list (city operators only: one list for the 1+4 platforms)."""
    ensure_city(principal)
    return _specialty_out(service.create_specialty(session, principal, body))


@router.patch("/specialties/{code}", response_model=SpecialtyOut)
def update_specialty(
    code: str, session: DbSession, body: SpecialtyUpdate, principal: Principal = Depends(staff)
) -> SpecialtyOut:
    """Rename a specialty or (de)activate it (city operators only). Experts keep a deactivated code,
    but registrations and imports refuse it and draws are not requested by it."""
    ensure_city(principal)
    return _specialty_out(service.update_specialty(session, principal, code, body))


@router.get("/specialties", response_model=list[SpecialtyOut])
def list_specialties(
    session: DbSession,
    _: Principal = Depends(require("operator", "admin", "supervisor", "agency", "expert", scopes=("experts:draw",))),
) -> list[SpecialtyOut]:
    """The specialty code list, by code, inactive codes included (``active: false``)."""
    return [_specialty_out(s) for s in service.specialties(session)]


# --- experts -------------------------------------------------------------------------------------


@router.post("/experts", status_code=201, response_model=ExpertOut)
def register_expert(
    session: DbSession,
    body: ExpertCreate,
    principal: Principal = Depends(staff),
    cipher: IdNumberCipher = Depends(id_number_cipher),
) -> ExpertOut:
    """Register an expert (入库). The home region decides the platform; a county operator registers
    only experts of its own platform (403 ``forbidden_platform``).

    Entry rules (招标投标法 第三十七条): at least 8 years of experience and a senior title
    (``senior`` 正高级 or ``associate_senior`` 副高级), else 422 ``expert_not_qualified``. The ID
    number is validated (GB 11643-1999 check character), stored encrypted and answered only masked;
    the same person twice is 409 ``expert_exists``. Specialties must be active codes."""
    return expert_out(service.register(session, principal, body, cipher))


@router.post(
    "/experts/import",
    status_code=201,
    response_model=ImportResult,
    openapi_extra=CSV_UPLOAD,
)
def import_experts_csv(
    request: Request,
    session: DbSession,
    principal: Principal = Depends(staff),
    cipher: IdNumberCipher = Depends(id_number_cipher),
    limits: ImportLimits = Depends(import_limits),
) -> ImportResult:
    """Import experts from a CSV file sent as the raw body (``Content-Type: text/csv``, UTF-8, a
    header row; columns in docs/experts.md). Every row is checked as ``POST /experts`` checks one
    expert, and duplicates inside the file are refused too. Either every row is imported, in one
    transaction, or none: any error answers 422 ``import_rejected`` with ``details.errors`` listing
    ``{row, column, code, message}`` (the header is row 1). Over the size or row cap: 413
    ``payload_too_large``. One audit event records the import with the file's SHA-256."""
    check_media_type(request)
    declared = request.headers.get("content-length")
    # An honest client that announces too much is refused before a byte is read.
    if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
        raise too_large(limits)
    chunks = request_chunks(request)
    try:
        done = import_experts(session, principal, chunks, limits, cipher)
    finally:
        # Refused before the end of the body: close the stream here, in the request's worker thread,
        # not whenever the garbage collector gets to the generator.
        chunks.close()
    return ImportResult(imported=len(done.expert_ids), sha256=done.sha256, expert_ids=done.expert_ids)


@router.get("/experts", response_model=ExpertPage)
def list_experts(
    session: DbSession,
    principal: Principal = Depends(expert_readers),
    specialty: str | None = Query(None, pattern=SPECIALTY_CODE),
    status: Literal["active", "suspended", "removed"] | None = None,
    platform: str | None = Query(None, max_length=32),
    employer_credit_code: str | None = Query(None, max_length=18),
    after: uuid.UUID | None = Query(None, description="cursor: `next_after` of the previous page"),
    limit: int = Query(100, ge=1, le=500),
) -> ExpertPage:
    """Experts by id, ``limit`` at a time after the ``after`` cursor. County staff and supervisors
    see their platform's experts only; city staff all, or one platform with ``platform``."""
    rows, next_after = service.search(
        session,
        principal,
        specialty=specialty,
        status=status,
        platform=platform,
        employer_credit_code=employer_credit_code.upper() if employer_credit_code else None,
        after=after,
        limit=limit,
    )
    return ExpertPage(experts=[expert_out(e) for e in rows], next_after=next_after)


@router.get("/experts/{expert_id}", response_model=ExpertOut)
def get_expert(session: DbSession, expert_id: uuid.UUID, principal: Principal = Depends(expert_readers)) -> ExpertOut:
    """One expert; another county's expert answers 404."""
    return expert_out(service.get_expert(session, principal, expert_id))


@router.patch("/experts/{expert_id}", response_model=ExpertOut)
def update_expert(
    expert_id: uuid.UUID, session: DbSession, body: ExpertUpdate, principal: Principal = Depends(staff)
) -> ExpertOut:
    """Change an expert's name, contact phone, title, years, specialties, home region or portal
    account. The entry rules must still hold afterwards (422 ``expert_not_qualified``). A county
    operator may not move an expert to another platform's region (403 ``forbidden_platform``).
    Removed experts cannot be changed (409 ``expert_removed``)."""
    return expert_out(service.update(session, principal, expert_id, body))


@router.post("/experts/{expert_id}/suspend", response_model=ExpertOut)
def suspend_expert(
    expert_id: uuid.UUID, session: DbSession, body: StatusChange, principal: Principal = Depends(staff)
) -> ExpertOut:
    """Suspend an active expert (暂停), with the reason: not drawn until reactivated."""
    return expert_out(service.change_status(session, principal, expert_id, "suspend", body.reason))


@router.post("/experts/{expert_id}/remove", response_model=ExpertOut)
def remove_expert(
    expert_id: uuid.UUID, session: DbSession, body: StatusChange, principal: Principal = Depends(staff)
) -> ExpertOut:
    """Remove an expert from the pool (除名), with the reason. Final: the record stays, unchangeable,
    and the same ID number cannot be registered again."""
    return expert_out(service.change_status(session, principal, expert_id, "remove", body.reason))


@router.post("/experts/{expert_id}/reactivate", response_model=ExpertOut)
def reactivate_expert(
    expert_id: uuid.UUID, session: DbSession, body: Reactivation, principal: Principal = Depends(staff)
) -> ExpertOut:
    """Lift a suspension. Only suspended experts can be reactivated (409 otherwise)."""
    return expert_out(service.change_status(session, principal, expert_id, "reactivate", body.reason))


@router.get("/experts/{expert_id}/employments", response_model=list[EmploymentOut])
def list_employments(
    expert_id: uuid.UUID, session: DbSession, principal: Principal = Depends(expert_readers)
) -> list[EmploymentOut]:
    """Employment history, the current employer first (``current: true``), then latest first."""
    expert = service.get_expert(session, principal, expert_id)
    return [_employment_out(e) for e in service.employments(session, expert)]


@router.post("/experts/{expert_id}/employments", status_code=201, response_model=EmploymentOut)
def add_employment(
    expert_id: uuid.UUID, session: DbSession, body: EmploymentCreate, principal: Principal = Depends(staff)
) -> EmploymentOut:
    """Add a past employment (give ``ended_on``), or record a move to a new current employer (leave
    ``ended_on`` out): the current employment then ends on the new ``started_on`` and the expert's
    employer becomes the new one. Dates in the future: 422 ``invalid_period``."""
    expert = service.writable_expert(session, principal, expert_id)
    return _employment_out(service.add_employment(session, principal, expert, body))


@router.get("/experts/{expert_id}/conflicts", response_model=list[ConflictOut])
def list_conflicts(
    expert_id: uuid.UUID, session: DbSession, principal: Principal = Depends(expert_readers)
) -> list[ConflictOut]:
    """Declared conflicts of interest; the draw avoids the expert when the organisation takes part."""
    expert = service.get_expert(session, principal, expert_id)
    return [_conflict_out(c) for c in service.conflicts(session, expert)]


@router.post("/experts/{expert_id}/conflicts", status_code=201, response_model=ConflictOut)
def declare_conflict(
    expert_id: uuid.UUID, session: DbSession, body: ConflictCreate, principal: Principal = Depends(staff)
) -> ConflictOut:
    """Record a declared interest in an organisation (by credit code): a close relative working
    there, a shareholding, a directorship. The same kind and organisation twice: 409."""
    expert = service.writable_expert(session, principal, expert_id)
    return _conflict_out(service.declare_conflict(session, principal, expert, body))


@router.delete("/experts/{expert_id}/conflicts/{conflict_id}", status_code=204)
def withdraw_conflict(
    expert_id: uuid.UUID, conflict_id: uuid.UUID, session: DbSession, principal: Principal = Depends(staff)
) -> Response:
    """Delete a declared conflict that no longer holds (the audit trail keeps it)."""
    expert = service.writable_expert(session, principal, expert_id)
    service.withdraw_conflict(session, principal, expert, conflict_id)
    return Response(status_code=204)


@router.get("/experts/{expert_id}/unavailability", response_model=list[UnavailabilityOut])
def list_unavailability(
    expert_id: uuid.UUID, session: DbSession, principal: Principal = Depends(expert_readers)
) -> list[UnavailabilityOut]:
    """Periods the expert cannot evaluate, by start."""
    expert = service.get_expert(session, principal, expert_id)
    return [_period_out(p) for p in service.unavailability(session, expert)]


@router.post("/experts/{expert_id}/unavailability", status_code=201, response_model=UnavailabilityOut)
def add_unavailability(
    expert_id: uuid.UUID, session: DbSession, body: UnavailabilityCreate, principal: Principal = Depends(staff)
) -> UnavailabilityOut:
    """Add a period the expert cannot evaluate; the draw skips them for evaluations that overlap it."""
    expert = service.writable_expert(session, principal, expert_id)
    return _period_out(service.add_unavailability(session, principal, expert, body))


@router.delete("/experts/{expert_id}/unavailability/{period_id}", status_code=204)
def remove_unavailability(
    expert_id: uuid.UUID, period_id: uuid.UUID, session: DbSession, principal: Principal = Depends(staff)
) -> Response:
    """Delete an unavailable period (the audit trail keeps it)."""
    expert = service.writable_expert(session, principal, expert_id)
    service.remove_unavailability(session, principal, expert, period_id)
    return Response(status_code=204)


# --- the expert's own record ---------------------------------------------------------------------


def _own(session: Session, principal: Principal) -> Expert:
    return service.own_expert(session, principal)


@router.get("/me/expert", response_model=ExpertOut)
def my_record(session: DbSession, principal: Principal = Depends(experts_themselves)) -> ExpertOut:
    """Your own expert record (the one whose ``account_subject`` is your portal account), ID number
    masked. 404 ``expert_not_linked`` if no record is linked to your account."""
    return expert_out(_own(session, principal))


@router.get("/me/expert/conflicts", response_model=list[ConflictOut])
def my_conflicts(session: DbSession, principal: Principal = Depends(experts_themselves)) -> list[ConflictOut]:
    """The conflicts of interest declared for you."""
    return [_conflict_out(c) for c in service.conflicts(session, _own(session, principal))]


@router.post("/me/expert/conflicts", status_code=201, response_model=ConflictOut)
def declare_my_conflict(
    session: DbSession, body: ConflictCreate, principal: Principal = Depends(experts_themselves)
) -> ConflictOut:
    """Declare a conflict of interest yourself (申报回避). Only staff can delete one: a declaration
    only ever keeps you out of draws, so you may add but not withdraw."""
    expert = service.own_expert(session, principal, lock=True)
    return _conflict_out(service.declare_conflict(session, principal, service.not_removed(expert), body))


@router.get("/me/expert/unavailability", response_model=list[UnavailabilityOut])
def my_unavailability(
    session: DbSession, principal: Principal = Depends(experts_themselves)
) -> list[UnavailabilityOut]:
    """Your unavailable periods."""
    return [_period_out(p) for p in service.unavailability(session, _own(session, principal))]


@router.post("/me/expert/unavailability", status_code=201, response_model=UnavailabilityOut)
def add_my_unavailability(
    session: DbSession, body: UnavailabilityCreate, principal: Principal = Depends(experts_themselves)
) -> UnavailabilityOut:
    """Tell the platform when you cannot evaluate (travel, illness); staff delete periods."""
    expert = service.own_expert(session, principal, lock=True)
    return _period_out(service.add_unavailability(session, principal, service.not_removed(expert), body))
