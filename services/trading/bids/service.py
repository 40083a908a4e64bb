"""Submitting, modifying and withdrawing bids.

A submission has three phases, so that a slow upload holds neither a pool connection nor a lock
(:mod:`services.trading.bids.submission` runs them; the database work of each is here):

1. :func:`start`, a short transaction: the lot is open to bids, and the ``Idempotency-Key`` is
   claimed (committed, so a retry of the same key sees it in flight);
2. with no transaction open: the bidder's credit is asked of supervision while the envelope is
   verified and streamed into the store;
3. :func:`record`, the transaction that records the bid: under a share lock on the lot,
   ``clock_timestamp()`` must be strictly before the deadline (招标投标法 第二十八条), the lot not
   suspended; the version, its signed receipt and the audit event are written together.

Whatever fails after the claim frees it again (:func:`release`). Nothing of the bid is readable by
anyone but the bidder before the deadline (电子招标投标办法 第二十一条): every read here is scoped to
the caller's organisation.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Exists, ScalarSelect, Table, bindparam, exists, func, select, text, true
from sqlalchemy.orm import Session

from services.trading.audit import emit
from services.trading.bids import idempotency
from services.trading.bids.errors import bid_not_found, deadline_passed, envelope_rejected, no_organisation
from services.trading.bids.idempotency import Claim, Replay
from services.trading.bids.models import Bid, BidDeposit, BidReceipt, BidVersion
from services.trading.bids.receipts import ReceiptSigner, SignedReceipt, new_receipt_no, receipt_body
from services.trading.bids.upload import ReceivedEnvelope
from services.trading.catalogue.models import CatalogueVersion
from services.trading.db import OutboxEvent
from services.trading.lots import service as lots
from services.trading.lots.models import Lot
from services.trading.notices.models import Notice, NoticeLot
from services.trading.projects.models import Project
from shared.audit.outbox import event_param, event_values, insert_event_sql
from shared.auth import Principal
from shared.db import db_now, db_today
from shared.envelope import EnvelopeRejected
from shared.envelope.codec import canonical_json
from shared.errors import Conflict, NotFound
from shared.json_rows import insert_from_json, json_row
from shared.request_context import current

log = logging.getLogger("services.trading.bids")

# 招标投标法实施条例 第三十五条 (withdrawal) and 第五十七条 (result): deposits back within 5 days.
REFUND_DAYS = 5

# The tables themselves, for the submission's Core statements.
_bids = cast(Table, Bid.__table__)
_receipts = cast(Table, BidReceipt.__table__)
_versions = cast(Table, BidVersion.__table__)


def organisation(principal: Principal) -> str:
    if principal.org is None:
        raise no_organisation()
    return principal.org


def _published(lot_id: Any) -> Exists:
    return (
        select(NoticeLot.lot_id)
        .join(Notice, Notice.id == NoticeLot.notice_id)
        .where(NoticeLot.lot_id == lot_id, Notice.status == "published")
        .exists()
    )


def _law_of(project: type[Project]) -> ScalarSelect[Any]:
    """The law of the project's category in the catalogue version it was registered under."""
    entry = func.jsonb_array_elements(CatalogueVersion.categories).table_valued("value").alias("entry")
    return (
        select(entry.c.value.op("->>")("law"))
        .select_from(CatalogueVersion)
        .join(entry, true())
        .where(
            CatalogueVersion.version == project.catalogue_version,
            entry.c.value.op("->>")("code") == project.category_code,
        )
        .scalar_subquery()
    )


def open_lot(session: Session, lot_id: uuid.UUID) -> tuple[Lot, Project]:
    """A lot bidders may act on: announced by a published notice, of any platform (no regional
    barriers). Anything else answers 404 as if it did not exist."""
    row = session.execute(
        select(Lot, Project).join(Project, Project.id == Lot.project_id).where(Lot.id == lot_id, _published(Lot.id))
    ).first()
    if row is None:
        raise NotFound("标段不存在")
    return row[0], row[1]


def own_bid(session: Session, lot_id: uuid.UUID, org: str, *, lock: bool = False) -> Bid | None:
    query = select(Bid).where(Bid.lot_id == lot_id, Bid.bidder_org == org)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def ensure_open(session: Session, lot: Lot | lots.LotState, *, now: datetime | None = None) -> datetime:
    """Under the lot's lock: not suspended and the database clock (``now`` if it was read under the
    lock already) strictly before the deadline."""
    lots.ensure_not_suspended(lot)
    now = db_now(session) if now is None else now
    if now >= lot.bid_deadline:
        raise deadline_passed(lot.id, lot.bid_deadline)
    return now


# --- submission ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """What the bidder declares in the request's headers besides the envelope."""

    credit_code: str
    idempotency_key: str | None
    deposit_payer_account: str | None


@dataclass(frozen=True)
class Started:
    """The first transaction's findings: the lot is open to bids, and the key (if any) is claimed."""

    lot_id: uuid.UUID
    project_id: uuid.UUID
    platform: str
    law: str
    # The database clock when the submission began: the certificate must be valid at it.
    now: datetime
    held: Claim | None


@dataclass(frozen=True)
class Replayed:
    """The key already produced a receipt; the body decides between a replay and misuse."""

    lot_id: uuid.UUID
    body_sha256: str
    receipt: BidReceipt


# The statements a submission makes are built once: a surge pays SQLAlchemy's construction and
# cache-key work for every statement built per call, and these run once or twice per bid.
# One round trip for the lot, its project, its law and the clock.
# Core columns, not ORM objects: only what the early refusal reads, and no object loading per bid.
_SUBMISSION_LOT = (
    select(
        Lot.id,
        Lot.status,
        Lot.bid_deadline,
        Project.id.label("project_id"),
        Project.platform,
        Project.category_code,
        _law_of(Project).label("law"),
        func.clock_timestamp().label("now"),
    )
    .join(Project, Project.id == Lot.project_id)
    .where(Lot.id == bindparam("lot_id"), _published(Lot.id))
)
# What a submission reads of the bidder's own bid (an _OwnBid), in both statements that lock it.
_OWN_BID_COLUMNS = (_bids.c.id, _bids.c.bidder_credit_code, _bids.c.status, _bids.c.latest_version)
# With an Idempotency-Key: the same, and the key claimed if it is fresh (``claimed``).
_SUBMISSION_LOT_AND_CLAIM = _SUBMISSION_LOT.add_columns(exists(select(idempotency.CLAIM_FRESH.c.key)).label("claimed"))
_LOCK_OWN_BID = (
    select(*_OWN_BID_COLUMNS)
    .where(_bids.c.lot_id == bindparam("lot_id"), _bids.c.bidder_org == bindparam("org"))
    .with_for_update()
)
# The record's first round trip: the lot share-locked, then the caller's bid locked for update (if
# there is one), then the clock, read over both locks (see lots.LOCKED_FOR_BIDS). The bid is locked
# second, as when each had its own statement, so lock order is unchanged.
_own = (
    select(*_OWN_BID_COLUMNS)
    .where(_bids.c.lot_id == lots.LOCKED_FOR_BIDS.c.id, _bids.c.bidder_org == bindparam("org"))
    .with_for_update()
    .lateral("own")
)
_LOCK_LOT_AND_OWN_BID = select(
    lots.LOCKED_FOR_BIDS.c.id,
    lots.LOCKED_FOR_BIDS.c.status,
    lots.LOCKED_FOR_BIDS.c.bid_deadline,
    _own.c.id.label("bid_id"),
    _own.c.bidder_credit_code,
    _own.c.status.label("bid_status"),
    _own.c.latest_version,
    func.clock_timestamp().label("now"),
).select_from(lots.LOCKED_FOR_BIDS.outerjoin(_own, true()))
# As text, like the claim (services/trading/bids/idempotency.py): INSERT … ON CONFLICT built from Core
# is not cached by SQLAlchemy and would be compiled for every first submission.
_INSERT_BID = text(
    "insert into trading.bids"
    " (id, lot_id, bidder_org, bidder_credit_code, status, latest_version, created_at, updated_at)"
    " values (:id, :lot_id, :bidder_org, :bidder_credit_code, 'submitted', 1, :accepted_at, :accepted_at)"
    " on conflict do nothing returning id"
)


def _insert(table: Table, param: str) -> str:
    """``insert into <table>`` of every column, the row bound as the one JSON parameter ``param``."""
    return insert_from_json(table.fullname, [column.name for column in table.columns], param)


# The receipt, the version, the audit event and (with an Idempotency-Key) the claim bound to them,
# in one statement and one round trip, with no unit-of-work flush; the versions' and the claim's
# foreign keys to the receipt are checked at its end, when the receipt inserted by the first part is
# there. Each row is one JSON parameter (shared/json_rows.py: column by column these are 55
# parameters, which psycopg would parse the statement again for on every bid). The event's columns
# are the ones ``emit`` writes (shared/audit/outbox.py builds both).
_WRITES = (
    f"with receipt as ({_insert(_receipts, 'receipt')}), version as ({_insert(_versions, 'version')})"
    f", event as ({insert_event_sql(cast(Table, OutboxEvent.__table__).fullname, 'event')})"
)
# A new version of a bid that exists moves the bid's row to it in the same statement.
_NEXT_VERSION = (
    ", next_version as (update trading.bids set status = 'submitted', withdrawn_at = null,"
    " latest_version = :next_version, updated_at = :next_at where id = :bid_id)"
)
# By (a new version of an existing bid?, a claim to bind?): the four shapes of the statement.
_RECORD = {
    (next_version, bind): text(
        f"{_WRITES}{_NEXT_VERSION if next_version else ''} {idempotency.BIND_CLAIM if bind else 'select 1'}"
    )
    for next_version in (False, True)
    for bind in (False, True)
}


def start(
    session: Session, principal: Principal, lot_id: uuid.UUID, declared: Declared, *, claim_ttl: timedelta
) -> Started | Replayed:
    """Phase 1, committed here: the lot is open to bids (refused early, so that nobody uploads 200 MiB
    in vain; decided again under the lot's lock) and the ``Idempotency-Key`` is claimed, so that a
    retry sees it in flight while this upload runs with no transaction open."""
    org = organisation(principal)
    key, token = declared.idempotency_key, uuid.uuid4()
    if key is None:
        row = session.connection().execute(_SUBMISSION_LOT, {"lot_id": lot_id}).first()
    else:
        claiming = {"lot_id": lot_id, "bidder_org": org, "key": key, "claim_token": token}
        row = session.connection().execute(_SUBMISSION_LOT_AND_CLAIM, claiming).first()
    if row is None:
        raise NotFound("标段不存在")
    lot = lots.LotState(row.id, row.status, row.bid_deadline)
    project_id, platform, category, law, now = row.project_id, row.platform, row.category_code, row.law, row.now
    if law is None:  # pragma: no cover - a project's category is checked against its catalogue version
        raise RuntimeError(f"project {project_id} has no category {category} in its catalogue")
    held: Claim | None = None
    if key is not None and row.claimed:
        held = Claim(org, key, token)
    elif key is not None:
        found = idempotency.claim(session, org, key, lot.id, now=now, stale_after=claim_ttl)
        if isinstance(found, Replay):
            receipt = session.get(BidReceipt, found.receipt_no)
            assert receipt is not None  # noqa: S101 - foreign key
            session.expunge(receipt)  # kept as read: the rollback would expire it
            session.rollback()
            return Replayed(lot_id=found.lot_id, body_sha256=found.body_sha256, receipt=receipt)
        held = found
    lots.ensure_not_suspended(lot)
    if now >= lot.bid_deadline:
        raise deadline_passed(lot.id, lot.bid_deadline)
    session.commit()
    return Started(lot_id=lot.id, project_id=project_id, platform=platform, law=law, now=now, held=held)


def release(session: Session, held: Claim) -> None:
    """Free the claim of a submission that failed after phase 1 (its own short transaction)."""
    try:
        idempotency.release(session, held)
        session.commit()
    except Exception:  # the original error is the one to report; the claim expires by itself
        log.exception("could not release Idempotency-Key claim %s of %s", held.key, held.org)
        session.rollback()


def _sealed_at(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class _OwnBid:
    id: uuid.UUID
    bidder_credit_code: str
    status: str
    latest_version: int


def _lock_own_bid(session: Session, lot_id: uuid.UUID, org: str) -> _OwnBid | None:
    row = session.connection().execute(_LOCK_OWN_BID, {"lot_id": lot_id, "org": org}).first()
    return _OwnBid(*row) if row is not None else None


def _lock_lot_and_own_bid(
    session: Session, lot_id: uuid.UUID, org: str
) -> tuple[lots.LotState, _OwnBid | None, datetime]:
    """The lot share-locked, the caller's bid (if any) locked, and the clock read after both."""
    row = session.connection().execute(_LOCK_LOT_AND_OWN_BID, {"lot_id": lot_id, "org": org}).one()
    lot = lots.LotState(row.id, row.status, row.bid_deadline)
    if row.bid_id is None:
        return lot, None, row.now
    return lot, _OwnBid(row.bid_id, row.bidder_credit_code, row.bid_status, row.latest_version), row.now


def _bid_to_version(
    session: Session, found: _OwnBid | None, lot_id: uuid.UUID, org: str, credit_code: str, accepted_at: datetime
) -> tuple[_OwnBid, bool]:
    """The caller's bid, locked (``found`` under the lot's lock), and whether this submission
    created it (as version 1).

    The lot is only share-locked (:func:`lots.lock_for_bids`), so two first submissions of one
    organisation can both find no bid. The insert settles it: ``ON CONFLICT DO NOTHING`` waits
    for a concurrent insert of the same (lot, organisation) to commit or roll back, and then either
    inserts or yields nothing; after nothing, the bid is read again in a new snapshot and locked, and
    this submission becomes the next version of it. No bid of ours after a conflict means the other
    unique key, (lot, credit code), belongs to another organisation's account."""
    if found is not None:
        return found, False
    created = _OwnBid(id=uuid.uuid4(), bidder_credit_code=credit_code, status="submitted", latest_version=1)
    params = {"id": created.id, "lot_id": lot_id, "bidder_org": org, "bidder_credit_code": credit_code}
    inserted = session.connection().execute(_INSERT_BID, {**params, "accepted_at": accepted_at}).first()
    if inserted is not None:
        return created, True
    bid = _lock_own_bid(session, lot_id, org)
    if bid is None:
        raise Conflict("该统一社会信用代码已通过本平台另一个单位账户对本标段投标", code="credit_code_in_use")
    return bid, False


def record(
    session: Session,
    principal: Principal,
    started: Started,
    received: ReceivedEnvelope,
    declared: Declared,
    signer: ReceiptSigner,
) -> BidReceipt:
    """Phase 3, the transaction that records the bid (the caller commits, then answers).

    Under a share lock on the lot, ``clock_timestamp()`` strictly before the deadline and the lot not
    suspended; then the version, its signed receipt, the claim bound to it and the audit event. Every
    round trip and every unit-of-work flush here is paid by every bid of a surge, so: the locks and
    the clock in one statement, and the receipt, the version, the audit event and the claim in one
    (Core, no flush; with the bid's row moved to the new version, or inserted by a third statement
    when this is its first version).
    """
    org = organisation(principal)
    lot_id = started.lot_id
    locked, found, now = _lock_lot_and_own_bid(session, lot_id, org)
    accepted_at = ensure_open(session, locked, now=now)
    identity = received.identity
    if identity.not_after < accepted_at:
        # Verified when the upload began; the certificate ran out while the file was streaming in.
        raise envelope_rejected(
            EnvelopeRejected("untrusted_certificate", "签名证书在上传过程中过期", certificate_reason="expired")
        )
    signed = received.header.signed
    bid, created = _bid_to_version(session, found, lot_id, org, declared.credit_code, accepted_at)
    if created:
        version, action = 1, "bid.submitted"
    else:
        if bid.bidder_credit_code != declared.credit_code:
            raise envelope_rejected(
                EnvelopeRejected(
                    "wrong_bidder", f"本单位此前以统一社会信用代码 {bid.bidder_credit_code} 投标，不能改用另一代码"
                )
            )
        version = bid.latest_version + 1
        action = "bid.resubmitted" if bid.status == "withdrawn" else "bid.modified"
    signed_receipt = signer.sign(
        receipt_body(
            kind="bid_accepted",
            receipt_no=new_receipt_no(accepted_at),
            platform=started.platform,
            lot_id=str(lot_id),
            bid_id=str(bid.id),
            version=version,
            bidder_org=org,
            bidder_credit_code=declared.credit_code,
            recorded_at=accepted_at,
            ciphertext_sha256=signed.ciphertext_sha256,
            ciphertext_length=signed.ciphertext_length,
            plaintext_sha256=signed.plaintext_sha256,
            envelope_sha256=received.envelope_sha256,
        )
    )
    receipt = _receipt(bid.id, "bid_accepted", version, signed_receipt, accepted_at)
    ctx = current()
    declared_in_envelope = signed.declared
    # Collusion signals (domain §4; 条例 第四十条): stored with the version and sent in the audit event.
    signals = {
        "client_ip": ctx.client_ip if ctx else None,
        "user_agent": ctx.user_agent if ctx else None,
        "device_fingerprint": ctx.device_fingerprint if ctx else None,
        "declared_device_fingerprint": declared_in_envelope.device_fingerprint,
        "declared_document_author": declared_in_envelope.document_author,
        "tool": declared_in_envelope.tool,
        "deposit_payer_account": declared.deposit_payer_account,
    }
    accepted = {
        "id": uuid.uuid4(),
        "bid_id": bid.id,
        "version": version,
        "receipt_no": receipt.receipt_no,
        "accepted_at": accepted_at,
        "accepted_by": principal.subject,
        "ciphertext_sha256": signed.ciphertext_sha256,
        "ciphertext_length": signed.ciphertext_length,
        "plaintext_sha256": signed.plaintext_sha256,
        "envelope_sha256": received.envelope_sha256,
        "header": received.raw_header.decode("utf-8"),
        "sealed_at": _sealed_at(signed.sealed_at),
        "certificate_fingerprint": identity.fingerprint_sha256,
        "certificate_issuer": identity.issuer[:500],
        "certificate_serial": identity.serial_number[:64],
        "certificate_not_after": identity.not_after,
        **signals,
        "user_agent": ctx.user_agent[:512] if ctx and ctx.user_agent else None,  # the column's width
        "idempotency_key": declared.idempotency_key,
        "request_id": ctx.request_id if ctx else None,
    }
    event = event_values(
        principal=principal,
        action=action,
        object_type="bid",
        object_id=str(bid.id),
        platform=started.platform,
        project_id=str(started.project_id),
        lot_id=str(lot_id),
        change={
            "version": version,
            "receipt_no": receipt.receipt_no,
            "accepted_at": accepted_at.isoformat(),
            "bidder_credit_code": declared.credit_code,
            "ciphertext_sha256": signed.ciphertext_sha256,
            "ciphertext_length": signed.ciphertext_length,
            "plaintext_sha256": signed.plaintext_sha256,
            "envelope_sha256": received.envelope_sha256,
            "sealed_at": signed.sealed_at,
            "certificate": {
                "fingerprint_sha256": identity.fingerprint_sha256,
                "issuer": identity.issuer,
                "serial_number": identity.serial_number,
                "subject_serial": identity.subject_serial,
                "not_after": identity.not_after.isoformat(),
            },
            "signals": signals,
            "idempotency_key": declared.idempotency_key,
        },
    )
    params: dict[str, object] = {"receipt": json_row(_columns(receipt)), "version": json_row(accepted)}
    params |= event_param("event", event)
    if not created:
        params |= {"bid_id": bid.id, "next_version": version, "next_at": accepted_at}
        if bid.status == "withdrawn":
            _undo_withdrawal_refund(session, bid.id)
    statement = _RECORD[(not created, started.held is not None)]
    core = session.connection()
    if started.held is None:
        core.execute(statement, params)
    else:
        bind = idempotency.bind_params(
            started.held, body_sha256=received.envelope_sha256, receipt_no=receipt.receipt_no, now=accepted_at
        )
        if core.execute(statement, params | bind).first() is None:
            # Taken over as abandoned while this upload was still running: the other attempt owns it now.
            raise idempotency.in_progress()
    return receipt


def _receipt(bid_id: uuid.UUID, kind: str, version: int, signed: SignedReceipt, at: datetime) -> BidReceipt:
    body = signed.body
    return BidReceipt(
        receipt_no=str(body["receipt_no"]),
        bid_id=bid_id,
        kind=kind,
        version=version,
        # Stored as the exact bytes signed, so what is served later verifies without re-encoding.
        body=canonical_json(body).decode("utf-8"),
        signature=signed.signature,
        key_id=str(body["key_id"]),
        issued_at=at,
    )


def _columns(receipt: BidReceipt) -> dict[str, Any]:
    return {column.key: getattr(receipt, column.key) for column in _receipts.columns}


def _store_receipt(
    session: Session, bid: Bid, kind: str, version: int, signed: SignedReceipt, at: datetime
) -> BidReceipt:
    receipt = _receipt(bid.id, kind, version, signed, at)
    session.add(receipt)
    return receipt


def _undo_withdrawal_refund(session: Session, bid_id: uuid.UUID) -> None:
    """A bid submitted again after its withdrawal keeps its deposit: nothing is due back any more."""
    deposit = session.get(BidDeposit, bid_id)
    if deposit is not None and deposit.refund_basis == "withdrawal" and deposit.refunded_at is None:
        deposit.refund_due_on, deposit.refund_basis = None, None


# --- withdrawal ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnActiveBid:
    """The caller's live bid on an open lot, with the lot locked: what changing a bid starts from."""

    org: str
    lot: Lot
    project: Project
    now: datetime
    bid: Bid


def lock_own_active_bid(session: Session, principal: Principal, lot_id: uuid.UUID) -> OwnActiveBid:
    """Lock the lot, check it is still open (DB clock), and find the caller's bid, not withdrawn."""
    org = organisation(principal)
    lot, project = open_lot(session, lot_id)
    # A share lock, like a submission's: bidders' own changes run in parallel, while a change of the
    # lot's deadline or status (which locks it for update) waits for them, and they for it.
    locked = lots.lock_for_bids(session, lot.id)
    now = ensure_open(session, locked)
    bid = own_bid(session, lot.id, org, lock=True)
    if bid is None:
        raise bid_not_found()
    if bid.status == "withdrawn":
        raise Conflict("本单位在该标段的投标已撤回", code="bid_already_withdrawn")
    return OwnActiveBid(org=org, lot=locked, project=project, now=now, bid=bid)


def withdraw(session: Session, principal: Principal, lot_id: uuid.UUID, signer: ReceiptSigner) -> BidReceipt:
    """Withdraw the caller's bid before the deadline (撤回, 招标投标法 第二十九条), with a receipt."""
    own = lock_own_active_bid(session, principal, lot_id)
    org, lot, project, now, bid = own.org, own.lot, own.project, own.now, own.bid
    latest = session.scalars(
        select(BidVersion).where(BidVersion.bid_id == bid.id, BidVersion.version == bid.latest_version)
    ).one()
    signed_receipt = signer.sign(
        receipt_body(
            kind="bid_withdrawn",
            receipt_no=new_receipt_no(now),
            platform=project.platform,
            lot_id=str(lot.id),
            bid_id=str(bid.id),
            version=latest.version,
            bidder_org=org,
            bidder_credit_code=bid.bidder_credit_code,
            recorded_at=now,
            ciphertext_sha256=latest.ciphertext_sha256,
            ciphertext_length=latest.ciphertext_length,
            plaintext_sha256=latest.plaintext_sha256,
            envelope_sha256=latest.envelope_sha256,
        )
    )
    receipt = _store_receipt(session, bid, "bid_withdrawn", latest.version, signed_receipt, now)
    bid.status, bid.withdrawn_at, bid.updated_at = "withdrawn", now, now
    deposit = session.get(BidDeposit, bid.id)
    refund_due = None
    if deposit is not None and deposit.form != "waived" and deposit.refunded_at is None:
        deposit.refund_due_on = db_today(session) + timedelta(days=REFUND_DAYS)
        deposit.refund_basis = "withdrawal"
        refund_due = deposit.refund_due_on.isoformat()
    session.flush()
    emit(
        session,
        principal=principal,
        action="bid.withdrawn",
        object_type="bid",
        object_id=str(bid.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot.id),
        change={
            "version": latest.version,
            "receipt_no": receipt.receipt_no,
            "withdrawn_at": now.isoformat(),
            "deposit_refund_due_on": refund_due,
        },
    )
    return receipt


# --- reads (the caller's own bid only) -----------------------------------------------------------


def mine(session: Session, principal: Principal, lot_id: uuid.UUID) -> tuple[Bid, list[BidVersion], BidDeposit | None]:
    org = organisation(principal)
    lot, _ = open_lot(session, lot_id)
    bid = own_bid(session, lot.id, org)
    if bid is None:
        raise bid_not_found()
    versions = list(session.scalars(select(BidVersion).where(BidVersion.bid_id == bid.id).order_by(BidVersion.version)))
    return bid, versions, session.get(BidDeposit, bid.id)


def my_receipts(session: Session, principal: Principal, lot_id: uuid.UUID) -> list[BidReceipt]:
    org = organisation(principal)
    lot, _ = open_lot(session, lot_id)
    bid = own_bid(session, lot.id, org)
    if bid is None:
        raise bid_not_found()
    query = select(BidReceipt).where(BidReceipt.bid_id == bid.id).order_by(BidReceipt.issued_at, BidReceipt.receipt_no)
    return list(session.scalars(query))


def receipt_json(receipt: BidReceipt) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(receipt.body)
    return parsed
