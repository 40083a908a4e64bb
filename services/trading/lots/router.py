from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Path

from services.trading.catalogue import service as catalogue
from services.trading.lots import service
from services.trading.lots.models import Lot
from services.trading.lots.schemas import LotCreate, LotOut, SuspensionIn
from services.trading.projects.router import readers, registrars
from shared.auth import Principal, require
from shared.contracts.trading import LotSummary
from shared.db import DbSession

router = APIRouter(tags=["lots"])


def out(lot: Lot) -> LotOut:
    return LotOut(
        id=lot.id,
        project_id=lot.project_id,
        lot_no=lot.lot_no,
        name=lot.name,
        estimated_price_fen=lot.estimated_price_fen,
        ceiling_price_fen=lot.ceiling_price_fen,
        procurement_method=lot.procurement_method,
        evaluation=lot.evaluation,
        documents_from=lot.documents_from,
        documents_until=lot.documents_until,
        bid_deadline=lot.bid_deadline,
        decryption_window_minutes=lot.decryption_window_minutes,
        deposit=lot.deposit,
        price_adjustments=lot.price_adjustments,
        status=lot.status,
        created_at=lot.created_at,
    )


@router.post("/projects/{project_id}/lots", status_code=201, response_model=LotOut)
def create_lot(
    project_id: uuid.UUID, body: LotCreate, session: DbSession, principal: Principal = Depends(registrars)
) -> LotOut:
    """Add a lot (标段/包) to a project, as its tenderee or agency. What the law forbids is refused
    with 422 ``legal_rule_violated``; ``details.violations`` lists every rule broken, each with the
    article it comes from (bidding period < 20 days, documents on offer < 5 days / 5 working days
    in GP, deposit > 2 %, GP cash deposits, deposits without legal basis, designated guarantors,
    GP price weight below 30 % / 10 %, policy discounts out of range)."""
    return out(service.create(session, principal, project_id, body))


@router.get("/projects/{project_id}/lots", response_model=list[LotOut])
def project_lots(project_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)) -> list[LotOut]:
    """The lots of a project, by number."""
    return [out(lot) for lot in service.of_project(session, principal, project_id)]


@router.get("/lots/{lot_id}/summary", response_model=LotSummary)
def lot_summary(
    lot_id: uuid.UUID,
    session: DbSession,
    principal: Principal = Depends(require(typ="service", scopes=("trading:read",))),
) -> LotSummary:
    """For other services (scope ``trading:read``): where a lot trades, under which law, who
    organises it and when its bids close."""
    lot, project = service.get(session, principal, lot_id)
    law = catalogue.category(catalogue.get_version(session, project.catalogue_version), project.category_code)["law"]
    return LotSummary(
        id=lot.id,
        project_id=project.id,
        project_code=project.code,
        platform=project.platform,
        category_code=project.category_code,
        law=law,
        tenderee_org=project.tenderee_org,
        agency_org=project.agency_org,
        bid_deadline=lot.bid_deadline,
        suspended=lot.status == "suspended",
    )


suspenders = require(typ="service", scopes=("trading:suspend",))
COMPLAINT_REFERENCE = r"^complaint:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


@router.put("/lots/{lot_id}/suspensions/{reference}", response_model=LotOut)
def suspend(
    lot_id: uuid.UUID,
    body: SuspensionIn,
    session: DbSession,
    reference: str = Path(pattern=COMPLAINT_REFERENCE),
    principal: Principal = Depends(suspenders),
) -> LotOut:
    """Supervision suspends a lot while it handles a complaint (scope ``trading:suspend``). The lot
    takes no further steps (documents, clarifications, bids) until every hold on it is released.
    Idempotent: the same reference again changes nothing."""
    lot, project = service.get(session, principal, lot_id)
    locked = service.lock(session, lot.id)
    service.hold(session, principal, locked, project, reference, body.reason)
    return out(locked)


@router.delete("/lots/{lot_id}/suspensions/{reference}", response_model=LotOut)
def resume(
    lot_id: uuid.UUID,
    session: DbSession,
    reference: str = Path(pattern=COMPLAINT_REFERENCE),
    principal: Principal = Depends(suspenders),
) -> LotOut:
    """Release the hold placed under ``reference``; the lot resumes when no other hold remains."""
    lot, project = service.get(session, principal, lot_id)
    locked = service.lock(session, lot.id)
    service.release(session, principal, locked, project, reference)
    return out(locked)


@router.get("/lots/{lot_id}", response_model=LotOut)
def get_lot(lot_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)) -> LotOut:
    """One lot; lots of projects the caller may not see answer 404."""
    return out(service.get(session, principal, lot_id)[0])
