"""Submitting, modifying and withdrawing bids.

A submission has three phases, so that a slow upload holds neither a pool connection nor a lock:

1. a short transaction: the lot is open to bids, and the ``Idempotency-Key`` is claimed (committed,
   so a retry of the same key sees it in flight);
2. with no transaction open: the bidder's credit is asked of supervision, then the envelope is
   verified and streamed into the store;
3. the transaction that records the bid: under the lot's lock, ``clock_timestamp()`` must be
   strictly before the deadline (招标投标法 第二十八条), the lot not suspended; the version, its
   signed receipt and the audit event are written together.

Whatever fails after the claim frees it again. Nothing of the bid is readable by anyone but the
bidder before the deadline (电子招标投标办法 第二十一条): every read here is scoped to the caller's
organisation.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Exists, ScalarSelect, func, select, true
from sqlalchemy.orm import Session

from services.trading.audit import emit
from services.trading.bids import credit, idempotency
from services.trading.bids.errors import bid_not_found, deadline_passed, envelope_rejected, no_organisation
from services.trading.bids.idempotency import Claim, Replay
from services.trading.bids.models import Bid, BidDeposit, BidReceipt, BidVersion
from services.trading.bids.receipts import ReceiptSigner, SignedReceipt, new_receipt_no, receipt_body
from services.trading.bids.upload import ReceivedEnvelope, digest_body, receive_envelope
from services.trading.catalogue.models import CatalogueVersion
from services.trading.lots import service as lots
from services.trading.lots.models import Lot
from services.trading.notices.models import Notice, NoticeLot
from services.trading.projects.models import Project
from shared.auth import Principal
from shared.certificates import TrustStore
from shared.clients.supervision import SupervisionClient
from shared.db import db_now, db_today
from shared.envelope import EnvelopeRejected
from shared.envelope.codec import canonical_json
from shared.errors import Conflict, NotFound
from shared.request_context import current
from shared.storage import BlobStore

log = logging.getLogger("services.trading.bids")

# 招标投标法实施条例 第三十五条 (withdrawal) and 第五十七条 (result): deposits back within 5 days.
REFUND_DAYS = 5


@dataclass(frozen=True)
class Submission:
    """One upload as the router hands it over: declared facts and the body still unread."""

    credit_code: str
    idempotency_key: str | None
    deposit_payer_account: str | None
    chunks: Generator[bytes, None, None]
    max_bytes: int


@dataclass(frozen=True)
class SubmissionParts:
    """What a submission needs besides the request: the app's store, trust list, clients and key."""

    store: BlobStore
    trust: TrustStore
    supervision: SupervisionClient
    signer: ReceiptSigner
    claim_ttl: timedelta


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
    lot, project, _ = _open_lot_with_law(session, lot_id)
    return lot, project


def _open_lot_with_law(session: Session, lot_id: uuid.UUID) -> tuple[Lot, Project, str | None]:
    # One round trip: a submission makes two transactions, and each query in them is paid by every bid.
    row = session.execute(
        select(Lot, Project, _law_of(Project))
        .join(Project, Project.id == Lot.project_id)
        .where(Lot.id == lot_id, _published(Lot.id))
    ).first()
    if row is None:
        raise NotFound("标段不存在")
    return row[0], row[1], row[2]


def own_bid(session: Session, lot_id: uuid.UUID, org: str, *, lock: bool = False) -> Bid | None:
    query = select(Bid).where(Bid.lot_id == lot_id, Bid.bidder_org == org)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def ensure_open(session: Session, lot: Lot) -> datetime:
    """Under the lot's lock: not suspended and the database clock strictly before the deadline."""
    lots.ensure_not_suspended(lot)
    now = db_now(session)
    if now >= lot.bid_deadline:
        raise deadline_passed(lot.id, lot.bid_deadline)
    return now


# --- submission ----------------------------------------------------------------------------------


def submit(
    session: Session, principal: Principal, lot_id: uuid.UUID, upload: Submission, parts: SubmissionParts
) -> tuple[BidReceipt, bool]:
    """Accept a new version of the caller's bid; returns its receipt and whether it is a replay."""
    org = organisation(principal)
    lot, project, law = _open_lot_with_law(session, lot_id)
    if law is None:  # pragma: no cover - a project's category is checked against its catalogue version
        raise RuntimeError(f"project {project.id} has no category {project.category_code} in its catalogue")
    now = db_now(session)
    held: Claim | None = None
    if upload.idempotency_key is not None:
        found = idempotency.claim(session, org, upload.idempotency_key, lot.id, now=now, stale_after=parts.claim_ttl)
        if isinstance(found, Replay):
            session.rollback()
            return _replay(session, found, lot.id, upload), True
        held = found
    try:
        # Refused early so that a bidder does not upload 200 MiB in vain; decided again under the lock.
        lots.ensure_not_suspended(lot)
        if now >= lot.bid_deadline:
            raise deadline_passed(lot.id, lot.bid_deadline)
        # Ends the short transaction: commits the claim, returns the connection while the file streams in.
        session.commit()
        credit.ensure_may_bid(parts.supervision, upload.credit_code, law)
        try:
            received = receive_envelope(
                upload.chunks,
                parts.store,
                trust=parts.trust,
                at=now,
                lot_id=str(lot.id),
                credit_code=upload.credit_code,
                max_bytes=upload.max_bytes,
            )
        except EnvelopeRejected as exc:
            raise envelope_rejected(exc) from exc
        return _record(session, principal, lot.id, project, received, upload, parts.signer, held), False
    except BaseException:
        if held is not None:
            _release(session, held)
        raise


def _replay(session: Session, found: Replay, lot_id: uuid.UUID, upload: Submission) -> BidReceipt:
    """The first receipt again if the body is the same; the body is hashed, not stored."""
    body_sha256 = digest_body(upload.chunks, max_bytes=upload.max_bytes)
    if found.lot_id != lot_id or body_sha256 != found.body_sha256:
        raise idempotency.key_reused()
    receipt = session.get(BidReceipt, found.receipt_no)
    assert receipt is not None  # noqa: S101 - foreign key
    return receipt


def _release(session: Session, held: Claim) -> None:
    try:
        session.rollback()
        idempotency.release(session, held)
        session.commit()
    except Exception:  # the original error is the one to report; the claim expires by itself
        log.exception("could not release Idempotency-Key claim %s of %s", held.key, held.org)
        session.rollback()


def _sealed_at(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _record(
    session: Session,
    principal: Principal,
    lot_id: uuid.UUID,
    project: Project,
    received: ReceivedEnvelope,
    upload: Submission,
    signer: ReceiptSigner,
    held: Claim | None,
) -> BidReceipt:
    org = organisation(principal)
    locked = lots.lock(session, lot_id)
    accepted_at = ensure_open(session, locked)
    identity = received.identity
    if identity.not_after < accepted_at:
        # Verified when the upload began; the certificate ran out while the file was streaming in.
        raise envelope_rejected(
            EnvelopeRejected("untrusted_certificate", "签名证书在上传过程中过期", certificate_reason="expired")
        )
    signed = received.header.signed
    bid = own_bid(session, lot_id, org, lock=True)
    if bid is None:
        if session.scalar(select(Bid.id).where(Bid.lot_id == lot_id, Bid.bidder_credit_code == upload.credit_code)):
            raise Conflict("该统一社会信用代码已通过本平台另一个单位账户对本标段投标", code="credit_code_in_use")
        bid = Bid(
            id=uuid.uuid4(),  # set here, not at flush: the receipt names it before anything is written
            lot_id=lot_id,
            bidder_org=org,
            bidder_credit_code=upload.credit_code,
            status="submitted",
            latest_version=1,
            created_at=accepted_at,
            updated_at=accepted_at,
        )
        session.add(bid)
        version, action = 1, "bid.submitted"
    else:
        if bid.bidder_credit_code != upload.credit_code:
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
            platform=project.platform,
            lot_id=str(lot_id),
            bid_id=str(bid.id),
            version=version,
            bidder_org=org,
            bidder_credit_code=upload.credit_code,
            recorded_at=accepted_at,
            ciphertext_sha256=signed.ciphertext_sha256,
            ciphertext_length=signed.ciphertext_length,
            plaintext_sha256=signed.plaintext_sha256,
            envelope_sha256=received.envelope_sha256,
        )
    )
    receipt = _store_receipt(session, bid, "bid_accepted", version, signed_receipt, accepted_at)
    ctx = current()
    declared = signed.declared
    session.add(
        BidVersion(
            bid_id=bid.id,
            version=version,
            receipt_no=receipt.receipt_no,
            accepted_at=accepted_at,
            accepted_by=principal.subject,
            ciphertext_sha256=signed.ciphertext_sha256,
            ciphertext_length=signed.ciphertext_length,
            plaintext_sha256=signed.plaintext_sha256,
            envelope_sha256=received.envelope_sha256,
            header=received.raw_header.decode("utf-8"),
            sealed_at=_sealed_at(signed.sealed_at),
            certificate_fingerprint=identity.fingerprint_sha256,
            certificate_issuer=identity.issuer[:500],
            certificate_serial=identity.serial_number[:64],
            certificate_not_after=identity.not_after,
            client_ip=ctx.client_ip if ctx else None,
            user_agent=ctx.user_agent[:512] if ctx and ctx.user_agent else None,
            device_fingerprint=ctx.device_fingerprint if ctx else None,
            declared_device_fingerprint=declared.device_fingerprint,
            declared_document_author=declared.document_author,
            tool=declared.tool,
            deposit_payer_account=upload.deposit_payer_account,
            idempotency_key=upload.idempotency_key,
            request_id=ctx.request_id if ctx else None,
        )
    )
    if bid.status == "withdrawn":
        _undo_withdrawal_refund(session, bid)
    bid.status, bid.withdrawn_at, bid.latest_version, bid.updated_at = "submitted", None, version, accepted_at
    if held is not None:
        idempotency.complete(
            session, held, body_sha256=received.envelope_sha256, receipt_no=receipt.receipt_no, now=accepted_at
        )
    emit(
        session,
        principal=principal,
        action=action,
        object_type="bid",
        object_id=str(bid.id),
        platform=project.platform,
        project_id=str(project.id),
        lot_id=str(lot_id),
        change={
            "version": version,
            "receipt_no": receipt.receipt_no,
            "accepted_at": accepted_at.isoformat(),
            "bidder_credit_code": upload.credit_code,
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
            # Collusion signals (domain §4; 条例 第四十条), as recorded with the version.
            "signals": {
                "client_ip": ctx.client_ip if ctx else None,
                "user_agent": ctx.user_agent if ctx else None,
                "device_fingerprint": ctx.device_fingerprint if ctx else None,
                "declared_device_fingerprint": declared.device_fingerprint,
                "declared_document_author": declared.document_author,
                "tool": declared.tool,
                "deposit_payer_account": upload.deposit_payer_account,
            },
            "idempotency_key": upload.idempotency_key,
        },
    )
    return receipt


def _store_receipt(
    session: Session, bid: Bid, kind: str, version: int, signed: SignedReceipt, at: datetime
) -> BidReceipt:
    body = signed.body
    receipt = BidReceipt(
        receipt_no=str(body["receipt_no"]),
        bid_id=bid.id,
        kind=kind,
        version=version,
        # Stored as the exact bytes signed, so what is served later verifies without re-encoding.
        body=canonical_json(body).decode("utf-8"),
        signature=signed.signature,
        key_id=str(body["key_id"]),
        issued_at=at,
    )
    session.add(receipt)
    return receipt


def _undo_withdrawal_refund(session: Session, bid: Bid) -> None:
    """A bid submitted again after its withdrawal keeps its deposit: nothing is due back any more."""
    deposit = session.get(BidDeposit, bid.id)
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
    locked = lots.lock(session, lot.id)
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
