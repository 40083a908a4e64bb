"""Remote opening (不见面开标) over HTTP: the flow is described in docs/opening.md."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from services.trading.documents.streaming import blob_store
from services.trading.lots.router import out as lot_out
from services.trading.lots.schemas import LotOut
from services.trading.opening import feed, service
from services.trading.opening.access import Entry, enter
from services.trading.opening.models import OpeningBid, OpeningObjection
from services.trading.opening.schemas import (
    AnswerIn,
    BidFormOut,
    CloseIn,
    ConfirmationOut,
    DecryptionOut,
    KeyReleaseIn,
    ObjectionIn,
    ObjectionOut,
    OpeningBidOut,
    OpeningOut,
    RecordOut,
    RetenderIn,
    SignInDetail,
    SignInOut,
)
from services.trading.settings import TradingSettings
from shared.auth import Principal, require
from shared.contracts.trading import OpeningResult
from shared.db import DbSession, commit_before_answering
from shared.storage import BlobStore

router = APIRouter(tags=["opening"])
readers = require("bidder", "tenderee", "agency", "operator", "admin", "supervisor", typ="user")
hosts = require("tenderee", "agency", "operator", "admin", typ="user")
bidders = require("bidder", typ="user")
result_readers = require("tenderee", "agency", "operator", "admin", scopes=("trading:evaluation",))
organisers = require("tenderee", "agency", typ="user")

REPLAYED = "Idempotent-Replayed"
FEED_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "server-sent events until the opening is finished or the stream's time is up",
        "content": {feed.MEDIA_TYPE: {"schema": {"type": "string"}}},
    }
}


def _bid_out(bid: OpeningBid, entry: Entry, objected: set[uuid.UUID]) -> OpeningBidOut:
    # Where a bidder signed in from is a collusion signal for the host and supervisors (domain
    # §4), not something the other bidders need.
    staff = entry.role in ("host", "supervisor")
    return OpeningBidOut(
        bid_id=bid.bid_id,
        bidder_org=bid.bidder_org,
        bidder_credit_code=bid.bidder_credit_code,
        status=bid.status,
        signed_in_at=bid.signed_in_at,
        decrypted_at=bid.decrypted_at,
        fault=bid.fault,
        fault_reason=bid.fault_reason,
        failed_attempts=bid.failed_attempts,
        confirmation=service.confirmation_of(bid, entry.opening, bid.bid_id in objected, entry.now),
        confirmed_at=bid.confirmed_at,
        sign_in=SignInDetail(ip=bid.sign_in_ip, user_agent=bid.sign_in_user_agent)
        if staff and bid.signed_in_at
        else None,
    )


def _opening_out(entry: Entry, bids: list[OpeningBid], objected: set[uuid.UUID], finished: bool) -> OpeningOut:
    opening = entry.opening
    return OpeningOut(
        lot_id=entry.lot.id,
        status=opening.status,
        finished=finished,
        now=entry.now,
        bid_deadline=entry.lot.bid_deadline,
        valid_bid_count=opening.valid_bid_count,
        failure_reason=opening.failure_reason,
        started_at=opening.started_at,
        decryption_ends_at=opening.decryption_ends_at,
        closed_at=opening.closed_at,
        record_sha256=opening.record_sha256,
        record_published_at=opening.record_published_at,
        confirmation_ends_at=opening.confirmation_ends_at,
        retendered_as=opening.retendered_as,
        bids=[_bid_out(b, entry, objected) for b in bids],
    )


def _state(session: Session, principal: Principal, lot_id: uuid.UUID) -> OpeningOut:
    entry, bids, objected, finished = service.state(session, principal, lot_id)
    return _opening_out(entry, bids, objected, finished)


def _objection_out(o: OpeningObjection) -> ObjectionOut:
    return ObjectionOut(
        id=o.id,
        lot_id=o.lot_id,
        bid_id=o.bid_id,
        bidder_org=o.bidder_org,
        body=o.body,
        raised_at=o.raised_at,
        answer=o.answer,
        answered_at=o.answered_at,
    )


def _decryption_out(bid: OpeningBid) -> DecryptionOut:
    assert bid.decrypted_at is not None  # noqa: S101 - only decrypted bids get here
    return DecryptionOut(
        bid_id=bid.bid_id,
        status="decrypted",
        decrypted_at=bid.decrypted_at,
        plaintext_sha256=bid.plaintext_sha256,
        # Each is set on a decrypted bid (table constraint "decrypted").
        bid_form=BidFormOut(
            price_fen=bid.price_fen,
            duration_days=bid.duration_days,
            quality=bid.quality,
            project_manager_name=bid.project_manager_name,
            project_manager_certificate_no=bid.project_manager_certificate_no,
            extra=bid.extra or {},
        ),
    )


# --- everyone in the hall ------------------------------------------------------------------------


@router.get("/lots/{lot_id}/opening", response_model=OpeningOut)
def opening_state(lot_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)) -> OpeningOut:
    """The opening of a lot (开标): its status, the decryption window, and every bid taking part
    with its sign-in, decryption and confirmation — but not the bids' content, which the record
    reads out. For the host (the project's tenderee or agency, or trading-centre staff of its
    platform), supervisors of its platform, and bidders with a valid bid.

    Before the bid deadline (database clock) every caller gets 409 ``opening_not_due``, whatever
    the lot's bids (电子招标投标办法 第二十一条). The first request after the deadline decides once
    for all whether the lot opens: with fewer than three valid bids it fails (``status: failed``,
    流标; 招标投标法实施条例 第四十四条). A bidder without a valid bid gets 403
    ``not_a_participant``."""
    result = _state(session, principal, lot_id)
    commit_before_answering(session)
    return result


@router.get("/lots/{lot_id}/opening/feed", response_class=StreamingResponse, responses=FEED_RESPONSE)
def opening_feed(
    lot_id: uuid.UUID,
    request: Request,
    session: DbSession,
    principal: Principal = Depends(readers),
    last_event_id: str | None = Header(None, alias="Last-Event-ID", max_length=32),
) -> StreamingResponse:
    """The opening hall's live feed as server-sent events (``text/event-stream``), for the same
    callers as ``GET /lots/{id}/opening``: ``opening.due`` (the bids taking part), ``opening.failed``,
    ``opening.started``, ``bidder.signed_in``, ``bid.decrypted`` (who and when, not the content),
    ``decryption.closed`` (each bid's outcome), ``record.published`` (the whole record),
    ``record.confirmed``, ``objection.raised`` and ``objection.answered``. Each event's ``id`` is
    its number in the lot's feed: reconnect with ``Last-Event-ID`` to continue after it.

    The stream ends with an ``end`` event: ``{"reason": "finished"}`` once the opening is over
    (failed, or the record published, its confirmation period past and every objection
    answered), or ``{"reason": "max_duration"}`` after ``TRADING_OPENING_FEED_MAX_SECONDS`` —
    then reconnect. Comment lines (``: keep-alive``) keep idle connections open."""
    after = feed.cursor_from(last_event_id)
    entry = enter(session, principal, lot_id, roles=service.READERS)
    commit_before_answering(session)
    settings: TradingSettings = request.app.state.settings
    timing = feed.FeedTiming(
        poll_seconds=settings.opening_feed_poll_seconds,
        max_seconds=settings.opening_feed_max_seconds,
        heartbeat_seconds=settings.opening_feed_heartbeat_seconds,
    )
    return StreamingResponse(
        feed.stream(request.app.state.session_factory, entry.lot.id, after, timing),
        media_type=feed.MEDIA_TYPE,
        # no-store: a stale copy of a live feed is wrong; X-Accel-Buffering: the gateway must pass
        # each event on at once instead of buffering the response.
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/lots/{lot_id}/opening/record", response_model=RecordOut)
def get_record(lot_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)) -> RecordOut:
    """The published opening record (开标记录) exactly as stored: ``sha256`` is the SHA-256 of
    ``canonical_json(record)`` (docs/bid-envelope.md §2), and each bid's confirmation at this
    moment. 409 ``record_not_published`` before the host publishes it."""
    entry, bids, objected = service.published_record(session, principal, lot_id)
    opening = entry.opening
    assert opening.record and opening.record_sha256 and opening.record_published_at  # noqa: S101 - published
    assert opening.confirmation_ends_at is not None  # noqa: S101 - table constraint record_fields
    result = RecordOut(
        record=json.loads(opening.record),
        sha256=opening.record_sha256,
        published_at=opening.record_published_at,
        confirmation_ends_at=opening.confirmation_ends_at,
        confirmations={
            str(b.bid_id): service.confirmation_of(b, opening, b.bid_id in objected, entry.now) for b in bids
        },
    )
    commit_before_answering(session)
    return result


@router.get("/lots/{lot_id}/opening/objections", response_model=list[ObjectionOut])
def list_objections(
    lot_id: uuid.UUID, session: DbSession, principal: Principal = Depends(readers)
) -> list[ObjectionOut]:
    """Every objection raised at the opening and its answer, oldest first: they are part of the
    opening's record (招标投标法实施条例 第四十四条)."""
    result = [_objection_out(o) for o in service.objections_of(session, principal, lot_id)]
    commit_before_answering(session)
    return result


# --- the host ------------------------------------------------------------------------------------


@router.post("/lots/{lot_id}/opening/start", response_model=OpeningOut)
def start_opening(lot_id: uuid.UUID, session: DbSession, principal: Principal = Depends(hosts)) -> OpeningOut:
    """Start the opening at or after the bid deadline (database clock), as its host: the
    decryption window (the lot's ``decryption_window_minutes``) runs from now. 409
    ``opening_not_due`` before the deadline, ``opening_failed`` for a lot with fewer than three
    valid bids, ``opening_already_started``, ``lot_suspended``."""
    service.start(session, principal, lot_id)
    result = _state(session, principal, lot_id)
    commit_before_answering(session)
    return result


@router.post("/lots/{lot_id}/opening/close", response_model=OpeningOut)
def close_decryption(
    lot_id: uuid.UUID, session: DbSession, principal: Principal = Depends(hosts), body: CloseIn | None = None
) -> OpeningOut:
    """Close decryption, after the window or as soon as every bid is decrypted (409
    ``decryption_window_open`` before). Every bid not decrypted is revoked (撤销, the bidder's
    fault) unless listed in ``platform_faults`` with the reason, which withdraws it (撤回, e.g. a
    platform outage) (电子招标投标办法 第三十一条); the opening continues with the others.
    422 ``invalid_platform_faults`` for a bid listed twice or not pending."""
    service.close(session, principal, lot_id, body or CloseIn())
    result = _state(session, principal, lot_id)
    commit_before_answering(session)
    return result


@router.post("/lots/{lot_id}/opening/record", response_model=RecordOut, status_code=201)
def publish_record(
    lot_id: uuid.UUID, request: Request, session: DbSession, principal: Principal = Depends(hosts)
) -> RecordOut:
    """Generate the opening record (开标记录表) from what the opening stored — for every bid its
    bidder, price, duration, quality, project manager, deposit and decryption — keep it verbatim
    with its SHA-256 and publish it to the participants (电子招标投标办法 第三十二条). Bidders may
    confirm it or object for ``TRADING_OPENING_CONFIRMATION_MINUTES``; silence is acceptance.
    409 ``decryption_not_closed`` / ``record_already_published``."""
    settings: TradingSettings = request.app.state.settings
    service.publish_record(session, principal, lot_id, settings.opening_confirmation_minutes)
    return get_record(lot_id, session, principal)


@router.post("/lots/{lot_id}/opening/objections/{objection_id}/answer", response_model=ObjectionOut)
def answer_objection(
    lot_id: uuid.UUID,
    objection_id: uuid.UUID,
    body: AnswerIn,
    session: DbSession,
    principal: Principal = Depends(hosts),
) -> ObjectionOut:
    """Answer an objection raised at the opening, on the spot; the answer is recorded and shown in
    the hall. 409 ``opening_objection_already_answered``."""
    objection = service.answer(session, principal, lot_id, objection_id, body.answer)
    commit_before_answering(session)
    return _objection_out(objection)


@router.get("/lots/{lot_id}/opening/result", response_model=OpeningResult)
def opening_result(
    lot_id: uuid.UUID, session: DbSession, principal: Principal = Depends(result_readers)
) -> OpeningResult:
    """For the expert pool's evaluation (scope ``trading:evaluation``) and the host: the bids
    decrypted at the opening with their bid forms, once the record is published (409
    ``opening_in_progress`` before). Revoked and withdrawn bids are not included. A failed lot
    answers ``status: failed`` with no bids."""
    result = service.result(session, principal, lot_id)
    commit_before_answering(session)
    return result


@router.post("/lots/{lot_id}/retender", response_model=LotOut, status_code=201, tags=["opening", "lots"])
def retender(
    lot_id: uuid.UUID, body: RetenderIn, session: DbSession, principal: Principal = Depends(organisers)
) -> LotOut:
    """Tender a failed lot again (重新招标, 招标投标法实施条例 第四十四条), as the project's tenderee or
    agency: a new lot in the same project with the failed lot's price, method, evaluation,
    deposit and decryption window, and the dates given. It is checked like any new lot (422
    ``legal_rule_violated``); then draft, document and publish a notice for it as usual. 409
    ``opening_not_failed``, ``already_retendered``."""
    lot = service.retender(session, principal, lot_id, body)
    commit_before_answering(session)
    return lot_out(lot)


# --- bidders -------------------------------------------------------------------------------------


@router.post("/lots/{lot_id}/opening/sign-in", response_model=SignInOut)
def sign_in(
    lot_id: uuid.UUID, response: Response, session: DbSession, principal: Principal = Depends(bidders)
) -> SignInOut:
    """Sign in to the opening (签到), once the deadline has passed and until decryption closes;
    your time, IP address and user agent are recorded. Signing in again returns the first sign-in
    (``Idempotent-Replayed: true``)."""
    bid, new = service.sign_in(session, principal, lot_id)
    commit_before_answering(session)
    if not new:
        response.headers[REPLAYED] = "true"
    assert bid.signed_in_at is not None  # noqa: S101 - just signed in
    return SignInOut(bid_id=bid.bid_id, signed_in_at=bid.signed_in_at)


@router.post("/lots/{lot_id}/opening/key", response_model=DecryptionOut)
def release_key(
    lot_id: uuid.UUID,
    body: KeyReleaseIn,
    response: Response,
    session: DbSession,
    principal: Principal = Depends(bidders),
    store: BlobStore = Depends(blob_store),
) -> DecryptionOut:
    """Release your content key (docs/bid-envelope.md §8: send the JSON that
    ``python -m tools.bidder release-key bid.jcb.key.json`` prints), after signing in and within
    the decryption window. The platform decrypts your stored envelope, checks the plaintext
    against the digest you signed and reads your bid form; the answer is what it read.

    A key that does not open the bid answers 422 ``decryption_failed`` (``details.reason``:
    ``wrong_key``, ``plaintext_digest_mismatch`` or ``bad_bid_form``) and you may try again
    within the window. The window is checked when the decryption is recorded: 409
    ``decryption_window_closed`` once it has run out, ``decryption_closed`` once the host closed
    it, ``not_signed_in``, ``opening_not_started``. Sending the same key again returns the same
    result (``Idempotent-Replayed: true``); another key for a decrypted bid 409
    ``bid_already_decrypted``."""
    bid, replayed = service.release_key(session, principal, lot_id, body.model_dump(), store)
    commit_before_answering(session)
    if replayed:
        response.headers[REPLAYED] = "true"
    return _decryption_out(bid)


@router.post("/lots/{lot_id}/opening/record/confirmation", response_model=ConfirmationOut)
def confirm_record(
    lot_id: uuid.UUID, response: Response, session: DbSession, principal: Principal = Depends(bidders)
) -> ConfirmationOut:
    """Confirm the published opening record (确认开标记录) before its confirmation period ends (409
    ``confirmation_closed`` after; silence is acceptance). Confirming again returns the first
    confirmation (``Idempotent-Replayed: true``)."""
    bid, new = service.confirm(session, principal, lot_id)
    commit_before_answering(session)
    if not new:
        response.headers[REPLAYED] = "true"
    assert bid.confirmed_at is not None  # noqa: S101 - just confirmed
    return ConfirmationOut(bid_id=bid.bid_id, confirmed_at=bid.confirmed_at)


@router.post("/lots/{lot_id}/opening/objections", response_model=ObjectionOut, status_code=201)
def raise_objection(
    lot_id: uuid.UUID, body: ObjectionIn, session: DbSession, principal: Principal = Depends(bidders)
) -> ObjectionOut:
    """Raise an objection at the opening (开标异议, 招标投标法实施条例 第四十四条), from its start until the
    record's confirmation period ends (409 ``objection_period_over``); the host answers it on
    the spot. Everyone in the hall sees it and its answer."""
    objection = service.raise_objection(session, principal, lot_id, body.body)
    commit_before_answering(session)
    return _objection_out(objection)
