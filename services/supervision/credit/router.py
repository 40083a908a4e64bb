"""Bad-behaviour records (不良行为记录) and credit status (信用状态): supervisors record and publish,
trading and the expert pool ask, the public reads what is published."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from services.supervision.credit import service
from services.supervision.credit.models import CreditRecord
from services.supervision.credit.schemas import (
    CreditRecordCreate,
    CreditRecordFilter,
    CreditRecordOut,
    CreditRecordPage,
    CreditRecordRevoke,
    CreditStatusQuery,
    PublicCreditQuery,
    PublicCreditRecordOut,
    PublicCreditRecordPage,
)
from services.supervision.credit.status import credit_statuses
from shared.auth import Principal, require
from shared.contracts.credit import CreditStatus, CreditStatusBatch, CreditStatusBatchRequest
from shared.db import BIGINT_MAX, DbSession

router = APIRouter(prefix="/credit", tags=["credit"])
supervisor = require("supervisor", typ="user")
credit_reader = require(typ="service", scopes=("credit:read",))
RecordId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]


def _out(record: CreditRecord) -> CreditRecordOut:
    return CreditRecordOut.model_validate(record, from_attributes=True)


def _next_after(records: list[CreditRecord], limit: int) -> int | None:
    return records[-1].id if len(records) == limit else None


# -- supervisors -----------------------------------------------------------------------------------


@router.post("/records", status_code=201, response_model=CreditRecordOut)
def create_record(
    session: DbSession, body: CreditRecordCreate, principal: Principal = Depends(supervisor)
) -> CreditRecordOut:
    """Record a bad-behaviour decision (supervisors). The record belongs to the supervisor's platform.

    Organisations are named by 统一社会信用代码, experts by their expert-pool id. The ban runs from
    `ban_start` to `ban_end`, both days included, so the subject may take part again on the day
    after `ban_end`. Omit both for a record without a ban; give `ban_start` alone for a ban
    without end (bidding law only). A `government_procurement` ban must last one to three years
    (政府采购法 Art. 77, 条例 Art. 78): exactly one year from 2026-03-01 ends on 2027-02-28, three
    years on 2029-02-28; anything shorter or longer answers 422 `gp_ban_period`. `decided_on` may
    not be in the future (422 `decision_in_future`).

    The record is not public until published, and it is never deleted; revoke it if it loses effect.
    """
    return _out(service.create_record(session, principal, body))


@router.get("/records", response_model=CreditRecordPage)
def list_records(
    session: DbSession,
    filters: Annotated[CreditRecordFilter, Query()],
    principal: Principal = Depends(supervisor),
) -> CreditRecordPage:
    """Records, oldest first, paged by id (`after` = the previous page's `next_after`).

    County supervisors see their own platform's records, city supervisors all. `active_on` keeps
    only records whose ban is in force on that date and that are not revoked."""
    records = service.list_records(session, principal, filters)
    return CreditRecordPage(records=[_out(r) for r in records], next_after=_next_after(records, filters.limit))


@router.get("/records/{record_id}", response_model=CreditRecordOut)
def get_record(session: DbSession, record_id: RecordId, principal: Principal = Depends(supervisor)) -> CreditRecordOut:
    """One record; another county's record answers 404, as if it did not exist."""
    return _out(service.visible_record(session, principal, record_id))


@router.post("/records/{record_id}/publish", response_model=CreditRecordOut)
def publish_record(
    session: DbSession, record_id: RecordId, principal: Principal = Depends(supervisor)
) -> CreditRecordOut:
    """Publish a record (公开): from now on `GET /credit/public` shows it. Publishing is final;
    a published record is withdrawn from the public only by revoking it. 409
    `credit_record_already_published` or `credit_record_revoked` otherwise."""
    return _out(service.publish_record(session, principal, record_id))


@router.post("/records/{record_id}/revoke", response_model=CreditRecordOut)
def revoke_record(
    session: DbSession, record_id: RecordId, body: CreditRecordRevoke, principal: Principal = Depends(supervisor)
) -> CreditRecordOut:
    """Revoke a record (撤销), e.g. when the decision is overturned on review. The record stays, with
    the reason, but has no effect on any date: it no longer bans and is no longer public. 409
    `credit_record_already_revoked` if it was revoked before."""
    return _out(service.revoke_record(session, principal, record_id, body.reason))


# -- services --------------------------------------------------------------------------------------


@router.get("/status", response_model=CreditStatus)
def credit_status(
    session: DbSession,
    query: Annotated[CreditStatusQuery, Query()],
    _principal: Principal = Depends(credit_reader),
) -> CreditStatus:
    """May this organisation bid, may this expert be drawn? (service tokens with scope `credit:read`)

    `banned` when a record not revoked has a ban covering `on` (default: today in Asia/Shanghai),
    with those records in `active_records`; `has_records` says whether any record not revoked was
    decided by then. This reads across every platform: a ban decided anywhere in Jincheng applies
    on every platform. Unpublished records count; a ban takes effect by its decision."""
    _, (status,) = credit_statuses(session, [query], query.on)
    return status


@router.post("/status:batch", response_model=CreditStatusBatch)
def credit_status_batch(
    session: DbSession, body: CreditStatusBatchRequest, _principal: Principal = Depends(credit_reader)
) -> CreditStatusBatch:
    """`GET /credit/status` for up to 500 subjects at once, all judged on `on` (default: today in
    Asia/Shanghai); one result per subject, in the order given. A read, safe to retry. Like the
    single form it reads across every platform: a ban anywhere in Jincheng applies everywhere."""
    on, results = credit_statuses(session, body.subjects, body.on)
    return CreditStatusBatch(on=on, results=results)


# -- the public ------------------------------------------------------------------------------------


@router.get("/public", response_model=PublicCreditRecordPage)
def public_records(session: DbSession, query: Annotated[PublicCreditQuery, Query()]) -> PublicCreditRecordPage:
    """Published bad-behaviour records of one organisation (统一社会信用代码) or expert, of every
    platform, oldest first; no login needed. Revoked records are not shown."""
    records = service.public_records(session, query)
    return PublicCreditRecordPage(
        records=[PublicCreditRecordOut.model_validate(r, from_attributes=True) for r in records],
        next_after=_next_after(records, query.limit),
    )
