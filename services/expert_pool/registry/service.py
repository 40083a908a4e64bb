"""The expert registry's rules: who may see and change which expert, entry rules, status, history.

Functions add and flush; the request's session commits once (architecture: one request, one
transaction). Every change records one audit event with personal data masked: ID numbers and phone
numbers never leave the expert pool in clear.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import String, select, text
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session

from services.expert_pool.audit import emit
from services.expert_pool.registry import errors
from services.expert_pool.registry.bulk import NewExpert, insert_experts
from services.expert_pool.registry.contact import mask_name, mask_phone
from services.expert_pool.registry.identity_numbers import IdNumberCipher, mask_id_number
from services.expert_pool.registry.models import (
    Expert,
    ExpertConflict,
    ExpertEmployment,
    ExpertUnavailability,
    Specialty,
)
from services.expert_pool.registry.rules import ENTRY_RULE_BASIS, MIN_YEARS_EXPERIENCE, entry_rule_failures
from services.expert_pool.registry.schemas import (
    ConflictCreate,
    EmploymentCreate,
    ExpertCreate,
    ExpertUpdate,
    SpecialtyCreate,
    SpecialtyUpdate,
    UnavailabilityCreate,
)
from shared.auth import Principal, ensure_platform_access
from shared.db import db_now, db_today, insert_new
from shared.errors import ApiError, Conflict, NotFound, Unprocessable
from shared.platforms import UnknownRegion, can_access, platform_for_region

# --- reading and locking one expert --------------------------------------------------------------


def get_expert(session: Session, principal: Principal, expert_id: uuid.UUID, *, lock: bool = False) -> Expert:
    """The expert if the principal's platform may see it; another county's expert is a 404."""
    query = select(Expert).where(Expert.id == expert_id)
    if lock:
        # Status changes and history edits of one expert happen one at a time.
        query = query.with_for_update()
    expert = session.scalars(query).one_or_none()
    if expert is None:
        raise errors.expert_not_found()
    ensure_platform_access(principal, expert.platform, what="专家")
    return expert


def writable_expert(session: Session, principal: Principal, expert_id: uuid.UUID) -> Expert:
    expert = get_expert(session, principal, expert_id, lock=True)
    return not_removed(expert)


def not_removed(expert: Expert) -> Expert:
    # Removal (除名) is final: the record stays as evidence, unchanged.
    if expert.status == "removed":
        raise errors.expert_removed()
    return expert


def own_expert(session: Session, principal: Principal, *, lock: bool = False) -> Expert:
    """The expert record linked to the signed-in portal account (``account_subject``)."""
    query = select(Expert).where(Expert.account_subject == principal.subject)
    if lock:
        query = query.with_for_update()
    expert = session.scalars(query).one_or_none()
    if expert is None:
        raise errors.expert_not_linked()
    return expert


def search(
    session: Session,
    principal: Principal,
    *,
    specialty: str | None,
    status: str | None,
    platform: str | None,
    employer_credit_code: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> tuple[list[Expert], uuid.UUID | None]:
    """A page of experts by id (a stable cursor: new registrations never shift earlier pages)."""
    query = select(Expert).order_by(Expert.id).limit(limit + 1)
    if not principal.is_city:
        query = query.where(Expert.platform == principal.platform)
    if platform is not None:
        query = query.where(Expert.platform == platform)
    if specialty is not None:
        # ``@>`` so the GIN index on specialties answers it.
        query = query.where(Expert.specialties.op("@>")(array([specialty], type_=String)))
    if status is not None:
        query = query.where(Expert.status == status)
    if employer_credit_code is not None:
        query = query.where(Expert.employer_credit_code == employer_credit_code)
    if after is not None:
        query = query.where(Expert.id > after)
    rows = list(session.scalars(query))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


# --- checking new experts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why one new expert cannot be stored: ``index`` into the batch, the field at fault."""

    index: int
    column: str | None
    code: str
    message: str
    details: dict[str, Any] | None = None


def check_new_experts(
    session: Session, principal: Principal, experts: Sequence[NewExpert], cipher: IdNumberCipher
) -> list[Problem]:
    """Every reason any of ``experts`` cannot be registered, beyond the format checks of the schema:
    region, the caller's platform, entry rules, dates, specialties, and duplicates among the batch
    and against the table. Empty means :func:`insert_experts` may store them."""
    problems: list[Problem] = []
    today = db_today(session)
    for i, e in enumerate(experts):
        problems.extend(_row_problems(principal, i, e, today))

    codes = sorted({code for e in experts for code in e.specialties})
    active = set(session.scalars(select(Specialty.code).where(Specialty.code.in_(codes), Specialty.active.is_(True))))
    for i, e in enumerate(experts):
        unknown = [c for c in e.specialties if c not in active]
        if unknown:
            problems.append(
                Problem(i, "specialties", "unknown_specialty", "专业代码不存在或已停用", {"codes": unknown})
            )

    hashes = [cipher.lookup_hash(e.id_number) for e in experts]
    registered = set(
        session.scalars(
            text("select id_number_hmac from expert_pool.experts where id_number_hmac = any(:hashes)"),
            {"hashes": hashes},
        )
    )
    problems.extend(_duplicates(hashes, registered, "id_number", "expert_exists", "该身份证号码的专家已在库中"))

    subjects = [e.account_subject for e in experts]
    linked = set(
        session.scalars(
            text("select account_subject from expert_pool.experts where account_subject = any(:subjects)"),
            {"subjects": [s for s in subjects if s is not None]},
        )
    )
    problems.extend(
        _duplicates(subjects, linked, "account_subject", "account_subject_taken", "该门户账号已关联其他专家")
    )
    return sorted(problems, key=lambda p: p.index)


def _row_problems(principal: Principal, i: int, e: NewExpert, today: date) -> list[Problem]:
    problems = []
    try:
        platform = platform_for_region(e.region_code)
    except UnknownRegion:
        problems.append(
            Problem(
                i, "region_code", "unknown_region", "该行政区划不属于晋城市任何交易平台", {"region_code": e.region_code}
            )
        )
    else:
        if not can_access(principal.platform, platform):
            problems.append(
                Problem(
                    i,
                    "region_code",
                    "forbidden_platform",
                    "县级平台只能登记本平台的专家",
                    {"expert_platform": platform},
                )
            )
    for failed in entry_rule_failures(e.title_level, e.years_experience):
        message = (
            f"从事相关领域工作须满{MIN_YEARS_EXPERIENCE}年（{ENTRY_RULE_BASIS}）"
            if failed == "years_experience"
            else f"须具有高级职称：正高级或副高级（{ENTRY_RULE_BASIS}）"
        )
        problems.append(Problem(i, failed, "expert_not_qualified", message))
    if e.employed_since > today:
        problems.append(Problem(i, "employed_since", "invalid_period", "入职日期不能晚于今天"))
    return problems


def _duplicates(keys: Sequence[str | None], taken: set[str], column: str, code: str, message: str) -> list[Problem]:
    problems = []
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key is None:
            continue
        if key in taken:
            problems.append(Problem(i, column, code, message))
        elif key in first:
            problems.append(
                Problem(i, column, "duplicate_in_file", "与文件中前面的行重复", {"same_as_index": first[key]})
            )
        else:
            first[key] = i
    return problems


# One request, one refusal: when a single registration has several problems, the client hears of
# the most fundamental first (a wrong place before a wrong person before a duplicate).
_PRECEDENCE = (
    "unknown_region",
    "forbidden_platform",
    "expert_not_qualified",
    "invalid_period",
    "unknown_specialty",
    "expert_exists",
    "account_subject_taken",
)


_STATUS = {"forbidden_platform": 403, "expert_exists": 409, "account_subject_taken": 409}


def _refusal(problems: list[Problem]) -> ApiError:
    code = min((p.code for p in problems), key=_PRECEDENCE.index)
    mine = [p for p in problems if p.code == code]
    if code == "expert_not_qualified":
        return errors.expert_not_qualified([p.column for p in mine if p.column])
    return ApiError(mine[0].message, code=code, status_code=_STATUS.get(code, 422), details=mine[0].details)


# --- registration and changes --------------------------------------------------------------------


def registration_change(e: NewExpert) -> dict[str, Any]:
    """What the audit trail keeps of a new expert: everything needed to follow the record, with
    the name, ID number and phone masked."""
    return {
        "name": mask_name(e.name),
        "id_number_masked": mask_id_number(e.id_number),
        "phone_masked": mask_phone(e.phone),
        "region_code": e.region_code,
        "platform": e.platform,
        "title": e.title,
        "title_level": e.title_level,
        "years_experience": e.years_experience,
        "specialties": list(e.specialties),
        "employer_credit_code": e.employer_credit_code,
        "employer_name": e.employer_name,
        "employed_since": e.employed_since.isoformat(),
        "account_subject": e.account_subject,
    }


def register(session: Session, principal: Principal, body: ExpertCreate, cipher: IdNumberCipher) -> Expert:
    new = NewExpert.from_request(body)
    problems = check_new_experts(session, principal, [new], cipher)
    if problems:
        # The region check comes first, so a refusal never needs the platform of an unknown region.
        raise _refusal(problems)
    insert_experts(session, [new], cipher)
    emit(
        session,
        principal=principal,
        action="expert.registered",
        object_type="expert",
        object_id=str(new.id),
        platform=new.platform,
        change=registration_change(new),
    )
    expert = session.get(Expert, new.id)
    if expert is None:  # pragma: no cover - inserted a moment ago in this transaction
        raise RuntimeError("registered expert not found")
    return expert


def update(session: Session, principal: Principal, expert_id: uuid.UUID, body: ExpertUpdate) -> Expert:
    expert = writable_expert(session, principal, expert_id)
    wanted = body.model_dump(exclude_unset=True)
    if "region_code" in wanted:
        try:
            platform = platform_for_region(wanted["region_code"])
        except UnknownRegion:
            raise errors.unknown_region(wanted["region_code"]) from None
        if not can_access(principal.platform, platform):
            raise errors.forbidden_platform(platform)
        wanted["platform"] = platform
    failed = entry_rule_failures(
        wanted.get("title_level", expert.title_level), wanted.get("years_experience", expert.years_experience)
    )
    if failed:
        # The rules hold for the whole time an expert is in the pool, not only on entry: an expert
        # who no longer qualifies is suspended or removed, not edited into the pool.
        raise errors.expert_not_qualified(failed)
    if "specialties" in wanted:
        active = set(
            session.scalars(
                select(Specialty.code).where(Specialty.code.in_(wanted["specialties"]), Specialty.active.is_(True))
            )
        )
        # A code retired since the expert got it may stay; only new codes must be active.
        unknown = [c for c in wanted["specialties"] if c not in active and c not in expert.specialties]
        if unknown:
            raise errors.unknown_specialty(unknown)
    subject = wanted.get("account_subject")
    if subject is not None and subject != expert.account_subject:
        taken = session.scalar(select(Expert.id).where(Expert.account_subject == subject))
        if taken is not None:
            raise errors.account_subject_taken()
    before = {k: getattr(expert, k) for k in wanted}
    changed = {k: v for k, v in wanted.items() if before[k] != v}
    for key, value in changed.items():
        setattr(expert, key, value)
    session.flush()
    if changed:
        emit(
            session,
            principal=principal,
            action="expert.updated",
            object_type="expert",
            object_id=str(expert.id),
            platform=expert.platform,
            change={"before": _masked(before, changed), "after": _masked(changed, changed)},
        )
    return expert


def _masked(values: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        value = values[key]
        if key == "phone":
            out["phone_masked"] = mask_phone(value)
        elif key == "name":
            out["name"] = mask_name(value)
        else:
            out[key] = list(value) if key == "specialties" else value
    return out


# status: from → to. Removal is final; reactivation only from suspension.
_TRANSITIONS = {"suspend": ("active", "suspended"), "remove": (None, "removed"), "reactivate": ("suspended", "active")}


def change_status(
    session: Session, principal: Principal, expert_id: uuid.UUID, action: str, reason: str | None
) -> Expert:
    """Suspend (暂停), remove (除名) or reactivate an expert, with a reason and the database time.
    Suspended and removed experts are never drawn; the draw reads ``status``."""
    expert = writable_expert(session, principal, expert_id)
    required, target = _TRANSITIONS[action]
    if (required is not None and expert.status != required) or expert.status == target:
        raise errors.invalid_status_transition(expert.status, target)
    previous = expert.status
    expert.status = target
    # The table allows a reason only on inactive experts; a reactivation's reason is in the audit.
    expert.status_reason = None if target == "active" else reason
    expert.status_changed_at = db_now(session)
    session.flush()
    emit(
        session,
        principal=principal,
        action={"suspend": "expert.suspended", "remove": "expert.removed", "reactivate": "expert.reactivated"}[action],
        object_type="expert",
        object_id=str(expert.id),
        platform=expert.platform,
        change={"from": previous, "to": target, "reason": reason},
    )
    return expert


# --- employment history --------------------------------------------------------------------------


def employments(session: Session, expert: Expert) -> list[ExpertEmployment]:
    return list(
        session.scalars(
            select(ExpertEmployment)
            .where(ExpertEmployment.expert_id == expert.id)
            .order_by(ExpertEmployment.ended_on.desc().nulls_first(), ExpertEmployment.started_on.desc())
        )
    )


def add_employment(session: Session, principal: Principal, expert: Expert, body: EmploymentCreate) -> ExpertEmployment:
    """Record a past employment, or a move to a new current employer (the old one ends the day the
    new one starts). Avoidance compares bidders with both (domain §3: employees within 3 years)."""
    today = db_today(session)
    if body.started_on > today or (body.ended_on is not None and body.ended_on > today):
        raise errors.invalid_period("任职日期不能晚于今天")
    if body.ended_on is not None and body.ended_on < body.started_on:
        raise errors.invalid_period("离职日期不能早于入职日期")
    closed: ExpertEmployment | None = None
    if body.ended_on is None:
        closed = session.scalars(
            select(ExpertEmployment)
            .where(ExpertEmployment.expert_id == expert.id, ExpertEmployment.ended_on.is_(None))
            .with_for_update()
        ).one_or_none()
        if closed is not None:
            if body.started_on < closed.started_on:
                raise errors.invalid_period("新单位的入职日期不能早于现单位的入职日期")
            closed.ended_on = body.started_on
        expert.employer_credit_code = body.employer_credit_code
        expert.employer_name = body.employer_name
    row = ExpertEmployment(expert_id=expert.id, **body.model_dump())
    session.add(row)
    session.flush()
    emit(
        session,
        principal=principal,
        action="expert.employment_added",
        object_type="expert",
        object_id=str(expert.id),
        platform=expert.platform,
        change={
            **body.model_dump(mode="json"),
            "employment_id": str(row.id),
            "closed_employment_id": str(closed.id) if closed is not None else None,
        },
    )
    return row


# --- declared conflicts --------------------------------------------------------------------------


def conflicts(session: Session, expert: Expert) -> list[ExpertConflict]:
    return list(
        session.scalars(
            select(ExpertConflict)
            .where(ExpertConflict.expert_id == expert.id)
            .order_by(ExpertConflict.declared_at, ExpertConflict.id)
        )
    )


def declare_conflict(session: Session, principal: Principal, expert: Expert, body: ConflictCreate) -> ExpertConflict:
    same = session.scalar(
        select(ExpertConflict.id).where(
            ExpertConflict.expert_id == expert.id,
            ExpertConflict.kind == body.kind,
            ExpertConflict.organisation_credit_code == body.organisation_credit_code,
        )
    )
    if same is not None:
        raise errors.conflict_exists()
    row = ExpertConflict(expert_id=expert.id, **body.model_dump())
    session.add(row)
    session.flush()
    emit(
        session,
        principal=principal,
        action="expert.conflict_declared",
        object_type="expert",
        object_id=str(expert.id),
        platform=expert.platform,
        change={**body.model_dump(), "conflict_id": str(row.id)},
    )
    session.refresh(row)  # declared_at is the database's time
    return row


def withdraw_conflict(session: Session, principal: Principal, expert: Expert, conflict_id: uuid.UUID) -> None:
    row = session.scalars(
        select(ExpertConflict).where(ExpertConflict.id == conflict_id, ExpertConflict.expert_id == expert.id)
    ).one_or_none()
    if row is None:
        raise NotFound("利害关系申报不存在")
    change = {
        "conflict_id": str(row.id),
        "kind": row.kind,
        "organisation_credit_code": row.organisation_credit_code,
    }
    session.delete(row)
    session.flush()
    emit(
        session,
        principal=principal,
        action="expert.conflict_withdrawn",
        object_type="expert",
        object_id=str(expert.id),
        platform=expert.platform,
        change=change,
    )


# --- unavailable periods -------------------------------------------------------------------------


def unavailability(session: Session, expert: Expert) -> list[ExpertUnavailability]:
    return list(
        session.scalars(
            select(ExpertUnavailability)
            .where(ExpertUnavailability.expert_id == expert.id)
            .order_by(ExpertUnavailability.starts_at, ExpertUnavailability.id)
        )
    )


def add_unavailability(
    session: Session, principal: Principal, expert: Expert, body: UnavailabilityCreate
) -> ExpertUnavailability:
    if body.ends_at <= body.starts_at:
        raise errors.invalid_period("结束时间须晚于开始时间")
    row = ExpertUnavailability(expert_id=expert.id, **body.model_dump())
    session.add(row)
    session.flush()
    emit(
        session,
        principal=principal,
        action="expert.unavailability_added",
        object_type="expert",
        object_id=str(expert.id),
        platform=expert.platform,
        change={**body.model_dump(mode="json"), "unavailability_id": str(row.id)},
    )
    session.refresh(row)  # answer the stored (UTC) times, as the list does
    return row


def remove_unavailability(session: Session, principal: Principal, expert: Expert, period_id: uuid.UUID) -> None:
    row = session.scalars(
        select(ExpertUnavailability).where(
            ExpertUnavailability.id == period_id, ExpertUnavailability.expert_id == expert.id
        )
    ).one_or_none()
    if row is None:
        raise NotFound("不可用时段不存在")
    change = {
        "unavailability_id": str(row.id),
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
    }
    session.delete(row)
    session.flush()
    emit(
        session,
        principal=principal,
        action="expert.unavailability_removed",
        object_type="expert",
        object_id=str(expert.id),
        platform=expert.platform,
        change=change,
    )


# --- specialties ---------------------------------------------------------------------------------


def create_specialty(session: Session, principal: Principal, body: SpecialtyCreate) -> Specialty:
    if session.get(Specialty, body.code) is not None:
        raise Conflict("专业代码已存在", code="specialty_exists")
    if body.parent_code is not None and session.get(Specialty, body.parent_code) is None:
        raise Unprocessable("上级专业不存在", code="unknown_parent")
    specialty = Specialty(code=body.code, name=body.name, parent_code=body.parent_code, active=True)
    # A concurrent request may have added the code since the look-up above.
    if not insert_new(session, specialty):
        raise Conflict("专业代码已存在", code="specialty_exists")
    emit(
        session,
        principal=principal,
        action="specialty.created",
        object_type="specialty",
        object_id=body.code,
        platform=principal.platform,
        change=body.model_dump(),
    )
    return specialty


def update_specialty(session: Session, principal: Principal, code: str, body: SpecialtyUpdate) -> Specialty:
    specialty = session.scalars(select(Specialty).where(Specialty.code == code).with_for_update()).one_or_none()
    if specialty is None:
        raise NotFound("专业不存在")
    wanted = body.model_dump(exclude_none=True)
    before = {k: getattr(specialty, k) for k in wanted}
    for key, value in wanted.items():
        setattr(specialty, key, value)
    session.flush()
    if before != wanted:
        emit(
            session,
            principal=principal,
            action="specialty.updated",
            object_type="specialty",
            object_id=code,
            platform=principal.platform,
            change={"before": before, "after": wanted},
        )
    return specialty


def specialties(session: Session) -> list[Specialty]:
    return list(session.scalars(select(Specialty).order_by(Specialty.code)))
