"""The opening of a lot, step by step: start, sign-in, key release, close, record, objections.

Each step is a state change of the lot's ``Opening`` (or of one of its bids) under a row lock, with
its audit event and, where the hall should see it, an event in the live feed — all in the one
transaction. Locks are always taken in the same order — the lot, then bids of the opening (by id),
then the opening row (which every feed event updates) — so two steps never wait on each other
crosswise.

Decryption is the exception to "one request, one transaction": the checks commit first, the
envelope is decrypted with no transaction open (a large bid takes seconds), and the result is
recorded in a second transaction that checks the window again by the database clock.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from services.trading.audit import emit
from services.trading.bids.models import BidDeposit, BidVersion
from services.trading.lots import service as lots
from services.trading.lots.models import Lot
from services.trading.lots.schemas import LotCreate
from services.trading.opening import decryption, errors
from services.trading.opening import record as records
from services.trading.opening.access import Entry, Role, append, ensure_failed_not, enter, lock_bid, lock_opening, stamp
from services.trading.opening.errors import CiphertextUnavailable
from services.trading.opening.models import Opening, OpeningBid, OpeningObjection
from services.trading.opening.schemas import CloseIn, RetenderIn
from shared.auth import Principal
from shared.contracts.trading import OpenedBid, OpeningResult
from shared.db import db_now
from shared.envelope import EnvelopeRejected, SignedFields, parse_header
from shared.errors import Conflict, NotFound, Unprocessable
from shared.request_context import current
from shared.storage import BlobStore

READERS: tuple[Role, ...] = ("host", "supervisor", "bidder")
BASIS_DECRYPTION = "电子招标投标办法 第三十一条"


def _emit(
    session: Session,
    principal: Principal,
    entry: Entry,
    action: str,
    object_type: str,
    object_id: Any,
    change: dict[str, Any],
) -> None:
    emit(
        session,
        principal=principal,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        platform=entry.project.platform,
        project_id=str(entry.project.id),
        lot_id=str(entry.lot.id),
        change=change,
    )


def _client() -> tuple[str | None, str | None]:
    ctx = current()
    if ctx is None:
        return None, None
    return ctx.client_ip, ctx.user_agent[:512] if ctx.user_agent else None


def _not_started(opening: Opening) -> Conflict:
    return errors.wrong_status("主持人尚未开始开标", "opening_not_started", opening.status)


def _decryption_closed(opening: Opening) -> Conflict:
    return errors.wrong_status("解密已结束", "decryption_closed", opening.status)


def bids_of(session: Session, lot_id: uuid.UUID) -> list[OpeningBid]:
    return list(
        session.scalars(select(OpeningBid).where(OpeningBid.lot_id == lot_id).order_by(OpeningBid.bidder_credit_code))
    )


def finished(session: Session, opening: Opening, now: datetime) -> bool:
    """Nothing more will happen: the lot failed, or its record is published, the time to confirm
    it is over and every objection has its answer."""
    if opening.status == "failed":
        return True
    if opening.status != "record_published" or opening.confirmation_ends_at is None:
        return False
    if now < opening.confirmation_ends_at:
        return False
    unanswered = session.scalar(
        select(exists().where(OpeningObjection.lot_id == opening.lot_id, OpeningObjection.answer.is_(None)))
    )
    return not unanswered


def confirmation_of(bid: OpeningBid, opening: Opening, objected: bool, now: datetime) -> str | None:
    """At read time, by the database clock: silence until the end of the period is acceptance
    (电子招标投标办法 第三十二条)."""
    if opening.confirmation_ends_at is None:
        return None
    if bid.confirmed_at is not None:
        return "confirmed"
    if objected:
        return "objected"
    return "deemed_accepted" if now >= opening.confirmation_ends_at else "pending"


def objectors(session: Session, lot_id: uuid.UUID) -> set[uuid.UUID]:
    return set(session.scalars(select(OpeningObjection.bid_id).where(OpeningObjection.lot_id == lot_id)))


# --- reading --------------------------------------------------------------------------------------


def state(
    session: Session, principal: Principal, lot_id: uuid.UUID
) -> tuple[Entry, list[OpeningBid], set[uuid.UUID], bool]:
    entry = enter(session, principal, lot_id, roles=READERS)
    return (
        entry,
        bids_of(session, entry.lot.id),
        objectors(session, entry.lot.id),
        finished(session, entry.opening, entry.now),
    )


# --- the host starts ------------------------------------------------------------------------------


def start(session: Session, principal: Principal, lot_id: uuid.UUID) -> Entry:
    """Open the session at or after the deadline: the decryption window starts now (DB clock)."""
    entry = enter(session, principal, lot_id, roles=("host",))
    ensure_failed_not(entry.opening)
    lot = lots.lock(session, entry.lot.id)
    lots.ensure_not_suspended(lot)
    opening = lock_opening(session, lot.id)
    if opening.status != "awaiting_start":
        raise errors.wrong_status("开标已经开始", "opening_already_started", opening.status)
    now = db_now(session)
    opening.status, opening.started_at, opening.started_by = "decrypting", now, principal.subject
    opening.decryption_ends_at = now + timedelta(minutes=lot.decryption_window_minutes)
    append(
        session,
        lot.id,
        "opening.started",
        {
            "started_at": stamp(now),
            "decryption_ends_at": stamp(opening.decryption_ends_at),
            "decryption_window_minutes": lot.decryption_window_minutes,
        },
    )
    _emit(
        session,
        principal,
        entry,
        "opening.started",
        "lot",
        lot.id,
        {
            "started_at": now.isoformat(),
            "decryption_ends_at": opening.decryption_ends_at.isoformat(),
            "decryption_window_minutes": lot.decryption_window_minutes,
        },
    )
    return entry


# --- bidders sign in and release their keys -------------------------------------------------------


def sign_in(session: Session, principal: Principal, lot_id: uuid.UUID) -> tuple[OpeningBid, bool]:
    """Sign in to the opening (签到); a second sign-in returns the first. Returns whether it was new."""
    entry = enter(session, principal, lot_id, roles=("bidder",))
    ensure_failed_not(entry.opening)
    assert entry.own is not None  # noqa: S101 - every valid bid of an opening that did not fail has its row
    if entry.own.signed_in_at is not None:
        return entry.own, False
    bid = lock_bid(session, entry.own.bid_id)
    opening = session.scalars(
        select(Opening).where(Opening.lot_id == entry.lot.id).execution_options(populate_existing=True)
    ).one()
    if bid.signed_in_at is not None:
        return bid, False
    if opening.status not in ("awaiting_start", "decrypting"):
        raise _decryption_closed(opening)
    now = db_now(session)
    ip, agent = _client()
    bid.signed_in_at, bid.signed_in_by, bid.sign_in_ip, bid.sign_in_user_agent = now, principal.subject, ip, agent
    append(
        session,
        entry.lot.id,
        "bidder.signed_in",
        {
            "bid_id": str(bid.bid_id),
            "bidder_org": bid.bidder_org,
            "bidder_credit_code": bid.bidder_credit_code,
            "signed_in_at": stamp(now),
        },
    )
    _emit(
        session,
        principal,
        entry,
        "opening.signed_in",
        "bid",
        bid.bid_id,
        {"signed_in_at": now.isoformat(), "client_ip": ip, "user_agent": agent},
    )
    return bid, True


def _signed_fields(session: Session, bid: OpeningBid) -> SignedFields:
    header = session.scalars(
        select(BidVersion.header).where(BidVersion.bid_id == bid.bid_id, BidVersion.version == bid.version)
    ).one()
    return parse_header(header.encode("utf-8")).signed


def _replay(bid: OpeningBid, signed: SignedFields, release: dict[str, str]) -> OpeningBid:
    """A release for a bid already decrypted: the same key gets the same answer."""
    try:
        same = decryption.key_sha256(release, signed) == bid.key_sha256
    except EnvelopeRejected:
        same = False
    if not same:
        raise Conflict("本单位投标文件已解密，本次提交的密钥不是解密所用的密钥", code="bid_already_decrypted")
    return bid


def _check_ready(bid: OpeningBid, opening: Opening, now: datetime) -> None:
    if opening.status == "awaiting_start":
        raise _not_started(opening)
    if opening.status != "decrypting" or bid.status != "pending":
        raise _decryption_closed(opening)
    if bid.signed_in_at is None:
        raise Conflict("请先签到再解密", code="not_signed_in")
    assert opening.decryption_ends_at is not None  # noqa: S101 - table constraint decryption_window
    if now >= opening.decryption_ends_at:
        raise errors.wrong_status("解密时限已过", "decryption_window_closed", opening.status)


def release_key(
    session: Session, principal: Principal, lot_id: uuid.UUID, release: dict[str, str], store: BlobStore
) -> tuple[OpeningBid, bool]:
    """Decrypt the caller's bid with the key it releases. Returns the bid and whether this was a
    repeat of a release already done (the same result, nothing changed)."""
    entry = enter(session, principal, lot_id, roles=("bidder",))
    ensure_failed_not(entry.opening)
    own = entry.own
    assert own is not None  # noqa: S101 - as in sign_in
    signed = _signed_fields(session, own)
    if own.status == "decrypted":
        return _replay(own, signed, release), True
    _check_ready(own, entry.opening, entry.now)
    # Nothing is held while the bid is decrypted; the second transaction checks everything again.
    session.commit()
    try:
        opened = decryption.open_bid(store, signed, release)
    except EnvelopeRejected as exc:
        attempts = _record_failure(session, principal, entry, own.bid_id, exc.reason)
        # Kept although the request fails: every attempt is part of the record (电子招标投标办法 第十四条).
        session.commit()
        raise errors.decryption_failed(exc, attempts) from exc
    except CiphertextUnavailable:
        _record_failure(session, principal, entry, own.bid_id, "ciphertext_unavailable", count=False)
        session.commit()
        raise
    return _record_decryption(session, principal, entry, own.bid_id, signed, release, opened)


def _record_failure(
    session: Session, principal: Principal, entry: Entry, bid_id: uuid.UUID, reason: str, *, count: bool = True
) -> int:
    bid = lock_bid(session, bid_id)
    now = db_now(session)
    if count and bid.status == "pending":
        bid.failed_attempts += 1
        bid.last_failure_reason, bid.last_failure_at = reason, now
    _emit(
        session,
        principal,
        entry,
        "opening.decryption_failed",
        "bid",
        bid.bid_id,
        {"reason": reason, "at": now.isoformat(), "failed_attempts": bid.failed_attempts},
    )
    return bid.failed_attempts


def _record_decryption(
    session: Session,
    principal: Principal,
    entry: Entry,
    bid_id: uuid.UUID,
    signed: SignedFields,
    release: dict[str, str],
    opened: decryption.Opened,
) -> tuple[OpeningBid, bool]:
    bid = lock_bid(session, bid_id)
    if bid.status == "decrypted":  # the same bidder's other request got here first
        return _replay(bid, signed, release), True
    opening = session.scalars(
        select(Opening).where(Opening.lot_id == entry.lot.id).execution_options(populate_existing=True)
    ).one()
    # Decided when the decryption is recorded, as a bid is accepted when it is recorded: a close
    # that got in first, or a window that ran out meanwhile, wins.
    now = db_now(session)
    _check_ready(bid, opening, now)
    form = opened.form
    ip, agent = _client()
    bid.status, bid.decrypted_at, bid.decrypted_by = "decrypted", now, principal.subject
    bid.decrypt_ip, bid.decrypt_user_agent, bid.key_sha256 = ip, agent, opened.key_sha256
    bid.price_fen, bid.duration_days, bid.quality = form.price_fen, form.duration_days, form.quality
    bid.project_manager_name = form.project_manager.name
    bid.project_manager_certificate_no = form.project_manager.certificate_no
    bid.extra = dict(form.extra)
    # The hall learns that a bid opened, not its content: prices are read out together in the
    # record, so no bidder still holding its key can first see the others' prices.
    append(
        session,
        entry.lot.id,
        "bid.decrypted",
        {
            "bid_id": str(bid.bid_id),
            "bidder_org": bid.bidder_org,
            "bidder_credit_code": bid.bidder_credit_code,
            "decrypted_at": stamp(now),
        },
    )
    _emit(
        session,
        principal,
        entry,
        "opening.bid_decrypted",
        "bid",
        bid.bid_id,
        {
            "decrypted_at": now.isoformat(),
            "plaintext_sha256": opened.plaintext_sha256,
            "key_sha256": opened.key_sha256,
            "bid_form": form.model_dump(mode="json"),
            "client_ip": ip,
        },
    )
    return bid, False


# --- the host closes decryption and publishes the record -------------------------------------------


def close(session: Session, principal: Principal, lot_id: uuid.UUID, data: CloseIn) -> tuple[Entry, Opening]:
    """End decryption: after the window, or sooner once every bid is decrypted. Bids not decrypted
    are revoked (the bidder's fault) unless the host lists them as the platform's fault."""
    entry = enter(session, principal, lot_id, roles=("host",))
    ensure_failed_not(entry.opening)
    if entry.opening.status == "awaiting_start":
        raise _not_started(entry.opening)
    # Bids first, then the opening row: the order of a decryption being recorded, which this waits for.
    bids = list(
        session.scalars(
            select(OpeningBid)
            .where(OpeningBid.lot_id == entry.lot.id)
            .order_by(OpeningBid.bid_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    opening = lock_opening(session, entry.lot.id)
    if opening.status != "decrypting":
        raise errors.wrong_status("解密已结束", "decryption_already_closed", opening.status)
    assert opening.decryption_ends_at is not None  # noqa: S101 - table constraint decryption_window
    now = db_now(session)
    pending = {b.bid_id: b for b in bids if b.status == "pending"}
    if pending and now < opening.decryption_ends_at:
        raise Conflict(
            "解密时限未到，且仍有投标文件未解密",
            code="decryption_window_open",
            details={"decryption_ends_at": opening.decryption_ends_at.isoformat(), "pending": len(pending)},
        )
    faults = {f.bid_id: f.reason for f in data.platform_faults}
    listed = [f.bid_id for f in data.platform_faults]
    duplicates = sorted({str(i) for i in listed if listed.count(i) > 1})
    not_pending = sorted(str(i) for i in faults if i not in pending)
    if duplicates or not_pending:
        raise Unprocessable(
            "只能对未解密的投标文件登记平台原因，且每份只登记一次",
            code="invalid_platform_faults",
            details={"not_pending": not_pending, "duplicates": duplicates},
        )
    outcomes = []
    for bid in bids:
        if bid.status == "pending":
            if bid.bid_id in faults:
                bid.status, bid.fault, bid.fault_reason = "withdrawn", "platform", faults[bid.bid_id]
            else:
                bid.status, bid.fault = "revoked", "bidder"
                bid.fault_reason = "未在解密时限内解密" if bid.signed_in_at else "未签到且未在解密时限内解密"
        outcomes.append(
            {
                "bid_id": str(bid.bid_id),
                "bidder_org": bid.bidder_org,
                "bidder_credit_code": bid.bidder_credit_code,
                "status": bid.status,
                "fault": bid.fault,
                "reason": bid.fault_reason,
            }
        )
    opening.status, opening.closed_at, opening.closed_by = "decryption_closed", now, principal.subject
    append(session, entry.lot.id, "decryption.closed", {"closed_at": stamp(now), "bids": outcomes})
    _emit(
        session,
        principal,
        entry,
        "opening.decryption_closed",
        "lot",
        entry.lot.id,
        {"closed_at": now.isoformat(), "bids": outcomes, "basis": BASIS_DECRYPTION},
    )
    return entry, opening


def publish_record(
    session: Session, principal: Principal, lot_id: uuid.UUID, confirmation_minutes: int
) -> tuple[Entry, Opening]:
    """Generate the opening record from what was stored, keep it verbatim and publish it; the
    bidders' time to confirm it starts now."""
    entry = enter(session, principal, lot_id, roles=("host",))
    ensure_failed_not(entry.opening)
    opening = lock_opening(session, entry.lot.id)
    if opening.status == "record_published":
        raise errors.wrong_status("开标记录已发布", "record_already_published", opening.status)
    if opening.status != "decryption_closed":
        raise errors.wrong_status("解密结束后才能生成开标记录", "decryption_not_closed", opening.status)
    now = db_now(session)
    bids = bids_of(session, entry.lot.id)
    deposits = {
        d.bid_id: d for d in session.scalars(select(BidDeposit).where(BidDeposit.bid_id.in_([b.bid_id for b in bids])))
    }
    body = records.build(
        lot=entry.lot,
        project=entry.project,
        opening=opening,
        bids=bids,
        deposits=deposits,
        host=principal,
        published_at=now,
    )
    text, digest = records.encode(body)
    opening.status, opening.record, opening.record_sha256 = "record_published", text, digest
    opening.record_published_at, opening.record_published_by = now, principal.subject
    opening.confirmation_ends_at = now + timedelta(minutes=confirmation_minutes)
    append(
        session,
        entry.lot.id,
        "record.published",
        {"sha256": digest, "confirmation_ends_at": stamp(opening.confirmation_ends_at), "record": body},
    )
    _emit(
        session,
        principal,
        entry,
        "opening.record_published",
        "lot",
        entry.lot.id,
        {
            "record_sha256": digest,
            "published_at": now.isoformat(),
            "confirmation_ends_at": opening.confirmation_ends_at.isoformat(),
            "basis": "电子招标投标办法 第三十二条",
        },
    )
    return entry, opening


def published_record(
    session: Session, principal: Principal, lot_id: uuid.UUID
) -> tuple[Entry, list[OpeningBid], set[uuid.UUID]]:
    entry = enter(session, principal, lot_id, roles=READERS)
    ensure_failed_not(entry.opening)
    if entry.opening.status != "record_published":
        raise errors.wrong_status("开标记录尚未发布", "record_not_published", entry.opening.status)
    return entry, bids_of(session, entry.lot.id), objectors(session, entry.lot.id)


# --- bidders confirm or object; the host answers ------------------------------------------------


def confirm(session: Session, principal: Principal, lot_id: uuid.UUID) -> tuple[OpeningBid, bool]:
    """Confirm the published record (确认); a second confirmation returns the first."""
    entry = enter(session, principal, lot_id, roles=("bidder",))
    ensure_failed_not(entry.opening)
    assert entry.own is not None  # noqa: S101 - as in sign_in
    bid = lock_bid(session, entry.own.bid_id)
    if bid.confirmed_at is not None:
        return bid, False
    opening = entry.opening
    if opening.status != "record_published" or opening.confirmation_ends_at is None:
        raise errors.wrong_status("开标记录尚未发布", "record_not_published", opening.status)
    now = db_now(session)
    if now >= opening.confirmation_ends_at:
        raise Conflict(
            "确认时限已过，未确认的视为认可开标记录",
            code="confirmation_closed",
            details={"confirmation_ends_at": opening.confirmation_ends_at.isoformat()},
        )
    bid.confirmed_at, bid.confirmed_by = now, principal.subject
    append(
        session,
        entry.lot.id,
        "record.confirmed",
        {
            "bid_id": str(bid.bid_id),
            "bidder_org": bid.bidder_org,
            "bidder_credit_code": bid.bidder_credit_code,
            "confirmed_at": stamp(now),
        },
    )
    _emit(
        session,
        principal,
        entry,
        "opening.record_confirmed",
        "bid",
        bid.bid_id,
        {"confirmed_at": now.isoformat(), "record_sha256": opening.record_sha256},
    )
    return bid, True


def raise_objection(session: Session, principal: Principal, lot_id: uuid.UUID, body: str) -> OpeningObjection:
    """An objection at the opening (条例 第四十四条): from the start until the time to confirm the
    record ends."""
    entry = enter(session, principal, lot_id, roles=("bidder",))
    ensure_failed_not(entry.opening)
    opening, now = entry.opening, entry.now
    assert entry.own is not None  # noqa: S101 - as in sign_in
    if opening.status == "awaiting_start":
        raise _not_started(opening)
    if opening.confirmation_ends_at is not None and now >= opening.confirmation_ends_at:
        raise Conflict(
            "开标已结束，异议应当在开标现场提出",
            code="objection_period_over",
            details={"confirmation_ends_at": opening.confirmation_ends_at.isoformat()},
        )
    objection = OpeningObjection(
        lot_id=entry.lot.id,
        bid_id=entry.own.bid_id,
        bidder_org=entry.own.bidder_org,
        raised_by=principal.subject,
        body=body,
        raised_at=now,
    )
    session.add(objection)
    session.flush()
    append(
        session,
        entry.lot.id,
        "objection.raised",
        {
            "objection_id": str(objection.id),
            "bid_id": str(objection.bid_id),
            "bidder_org": objection.bidder_org,
            "bidder_credit_code": entry.own.bidder_credit_code,
            "body": body,
            "raised_at": stamp(now),
        },
    )
    _emit(
        session,
        principal,
        entry,
        "opening.objection_raised",
        "opening_objection",
        objection.id,
        {
            "bid_id": str(objection.bid_id),
            "body": body,
            "raised_at": now.isoformat(),
            "basis": "招标投标法实施条例 第四十四条",
        },
    )
    return objection


def objections_of(session: Session, principal: Principal, lot_id: uuid.UUID) -> list[OpeningObjection]:
    entry = enter(session, principal, lot_id, roles=READERS)
    query = select(OpeningObjection).where(OpeningObjection.lot_id == entry.lot.id)
    return list(session.scalars(query.order_by(OpeningObjection.raised_at, OpeningObjection.id)))


def answer(
    session: Session, principal: Principal, lot_id: uuid.UUID, objection_id: uuid.UUID, text: str
) -> OpeningObjection:
    entry = enter(session, principal, lot_id, roles=("host",))
    found = session.get(OpeningObjection, objection_id)
    if found is None or found.lot_id != entry.lot.id:
        raise NotFound("异议不存在", code="opening_objection_not_found")
    objection = session.scalars(
        select(OpeningObjection)
        .where(OpeningObjection.id == found.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if objection.answer is not None:
        raise Conflict("该异议已答复", code="opening_objection_already_answered")
    now = db_now(session)
    objection.answer, objection.answered_at, objection.answered_by = text, now, principal.subject
    append(
        session,
        entry.lot.id,
        "objection.answered",
        {"objection_id": str(objection.id), "answer": text, "answered_at": stamp(now)},
    )
    _emit(
        session,
        principal,
        entry,
        "opening.objection_answered",
        "opening_objection",
        objection.id,
        {"answer": text, "answered_at": now.isoformat()},
    )
    return objection


# --- what the evaluation reads --------------------------------------------------------------------


def result(session: Session, principal: Principal, lot_id: uuid.UUID) -> OpeningResult:
    """The decrypted bids, once the record is published; revoked and withdrawn bids never reach
    the committee. A failed lot answers ``failed`` with no bids."""
    entry = enter(session, principal, lot_id, roles=("host", "service"))
    lot, opening = entry.lot, entry.opening
    common: dict[str, Any] = {
        "lot_id": lot.id,
        "evaluation": lot.evaluation,
        "price_adjustments": lot.price_adjustments,
        "ceiling_price_fen": lot.ceiling_price_fen,
    }
    if opening.status == "failed":
        return OpeningResult(status="failed", opened_at=None, bids=[], **common)
    if opening.status != "record_published":
        raise errors.wrong_status("开标尚未完成（开标记录未发布）", "opening_in_progress", opening.status)
    return OpeningResult(
        status="opened",
        opened_at=opening.started_at,
        bids=[_opened(b) for b in bids_of(session, lot.id) if b.status == "decrypted"],
        **common,
    )


def _opened(bid: OpeningBid) -> OpenedBid:
    # Table constraint "decrypted": every one of these is set on a decrypted bid.
    assert bid.price_fen is not None and bid.duration_days is not None and bid.quality is not None  # noqa: S101
    assert bid.project_manager_name is not None and bid.project_manager_certificate_no is not None  # noqa: S101
    assert bid.decrypted_at is not None and bid.extra is not None  # noqa: S101
    return OpenedBid(
        bid_id=bid.bid_id,
        bidder_org=bid.bidder_org,
        bidder_credit_code=bid.bidder_credit_code,
        price_fen=bid.price_fen,
        duration_days=bid.duration_days,
        quality=bid.quality,
        project_manager_name=bid.project_manager_name,
        project_manager_certificate_no=bid.project_manager_certificate_no,
        extra=bid.extra,
        plaintext_sha256=bid.plaintext_sha256,
        decrypted_at=bid.decrypted_at,
    )


# --- a failed lot is tendered again ---------------------------------------------------------------


def retender(session: Session, principal: Principal, lot_id: uuid.UUID, data: RetenderIn) -> Lot:
    """A new lot in the same project with the failed lot's terms and new dates, created by the
    lots service (so every legal check of a new lot applies); announce it with a new notice."""
    entry = enter(session, principal, lot_id, roles=("host",))
    lot = lots.lock(session, entry.lot.id)
    opening = lock_opening(session, lot.id)
    if opening.status != "failed":
        raise errors.wrong_status("只有流标的标段才能重新招标", "opening_not_failed", opening.status)
    if opening.retendered_as is not None:
        raise Conflict("该标段已重新招标", code="already_retendered", details={"lot_id": str(opening.retendered_as)})
    try:
        terms = LotCreate.model_validate(
            {
                "name": data.name or lot.name,
                "estimated_price_fen": lot.estimated_price_fen,
                "ceiling_price_fen": lot.ceiling_price_fen,
                "procurement_method": lot.procurement_method,
                "evaluation": lot.evaluation,
                "documents_from": data.documents_from,
                "documents_until": data.documents_until,
                "bid_deadline": data.bid_deadline,
                "decryption_window_minutes": lot.decryption_window_minutes,
                "deposit": lot.deposit,
                "price_adjustments": lot.price_adjustments,
            }
        )
    except ValidationError as exc:
        raise Unprocessable(
            "重新招标的标段设置不合法",
            code="validation_error",
            details=[{"loc": list(e["loc"]), "type": e["type"], "msg": e["msg"]} for e in exc.errors()],
        ) from None
    new = lots.create(session, principal, entry.project.id, terms)
    now = db_now(session)
    opening.retendered_as, opening.retendered_at, opening.retendered_by = new.id, now, principal.subject
    _emit(
        session,
        principal,
        entry,
        "opening.retendered",
        "lot",
        lot.id,
        {
            "new_lot_id": str(new.id),
            "new_lot_no": new.lot_no,
            "at": now.isoformat(),
            "basis": "招标投标法实施条例 第四十四条",
        },
    )
    return new
