from __future__ import annotations

import base64
import re
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Header, Request, Response

from services.trading.bids import deposits, service, submission
from services.trading.bids.errors import UnsupportedMediaType
from services.trading.bids.idempotency import check_key
from services.trading.bids.models import Bid, BidDeposit, BidReceipt, BidVersion
from services.trading.bids.receipts import RECEIPT_LAYOUT, ReceiptSigner
from services.trading.bids.schemas import (
    BidOut,
    DepositIn,
    DepositOut,
    LotDepositOut,
    ReceiptBody,
    ReceiptKeyOut,
    ReceiptOut,
    RefundDueIn,
    RefundIn,
    VersionOut,
)
from services.trading.bids.state import receipt_signer
from services.trading.bids.upload import too_large
from services.trading.settings import TradingSettings
from shared.auth import Principal, require, require_on_loop
from shared.credit_code import InvalidCreditCode, validate_credit_code
from shared.db import DbSession, commit_before_answering, db_today
from shared.ed25519_keys import public_key_bytes
from shared.errors import Unprocessable

router = APIRouter(tags=["bids"])
bidders = require("bidder", typ="user")
# The upload endpoint is async: its token check runs on the event loop too (no worker-thread hop).
uploading_bidders = require_on_loop("bidder", typ="user")
deposit_readers = require("operator", "admin", "supervisor", typ="user")
deposit_keepers = require("operator", "admin", typ="user")

ENVELOPE_MEDIA_TYPE = "application/octet-stream"
_PAYER_ACCOUNT = re.compile(r"^[0-9A-Za-z][0-9A-Za-z -]{0,63}$")

# The submission reads the raw body as a stream, so OpenAPI has to be told what it is.
ENVELOPE_UPLOAD: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the sealed JCBID1 envelope (bid.jcb) as the raw body, not multipart (docs/bid-envelope.md)",
        "content": {ENVELOPE_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    }
}
CREDIT_CODE = Header(
    alias="X-Bidder-Credit-Code",
    min_length=1,
    max_length=32,
    description="your organisation's 统一社会信用代码; the envelope's signed bidder_credit_code must equal it",
)
IDEMPOTENCY_KEY = Header(
    None, alias="Idempotency-Key", max_length=200, description="any unique string per submission, e.g. a UUID"
)
PAYER_ACCOUNT = Header(
    None, alias="X-Deposit-Payer-Account", max_length=64, description="the account the bid deposit was paid from"
)


def receipt_out(receipt: BidReceipt) -> ReceiptOut:
    return ReceiptOut(receipt=ReceiptBody.model_validate(service.receipt_json(receipt)), signature=receipt.signature)


def _deposit_fields(deposit: BidDeposit, today: Any) -> dict[str, Any]:
    return {
        "form": deposit.form,
        "amount_fen": deposit.amount_fen,
        "reference": deposit.reference,
        "document_sha256": deposit.document_sha256,
        "payer_account": deposit.payer_account,
        "recorded_at": deposit.recorded_at,
        "refund_due_on": deposit.refund_due_on,
        "refund_basis": deposit.refund_basis,
        "refunded_at": deposit.refunded_at,
        "refund_reference": deposit.refund_reference,
        "overdue": deposits.is_overdue(deposit, today),
    }


def lot_deposit_out(bid: Bid, deposit: BidDeposit, today: Any) -> LotDepositOut:
    return LotDepositOut(
        bid_id=bid.id,
        bidder_org=bid.bidder_org,
        bidder_credit_code=bid.bidder_credit_code,
        bid_status=bid.status,
        **_deposit_fields(deposit, today),
    )


def _version_out(bid: Bid, v: BidVersion) -> VersionOut:
    return VersionOut(
        version=v.version,
        current=v.version == bid.latest_version and bid.status == "submitted",
        receipt_no=v.receipt_no,
        accepted_at=v.accepted_at,
        ciphertext_sha256=v.ciphertext_sha256,
        ciphertext_length=v.ciphertext_length,
        plaintext_sha256=v.plaintext_sha256,
        envelope_sha256=v.envelope_sha256,
        sealed_at=v.sealed_at,
        tool=v.tool,
    )


def _credit_code(value: str) -> str:
    try:
        return validate_credit_code(value)
    except InvalidCreditCode as exc:
        message = f"X-Bidder-Credit-Code 不是有效的统一社会信用代码：{exc}"
        raise Unprocessable(message, code="invalid_credit_code") from None


def _payer_account(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not _PAYER_ACCOUNT.match(value):
        raise Unprocessable("X-Deposit-Payer-Account 须为账号（字母、数字、空格或 -）", code="invalid_payer_account")
    return value


def _check_media_type(request: Request) -> None:
    declared = request.headers.get("content-type")
    if declared is not None and declared.split(";", 1)[0].strip().lower() != ENVELOPE_MEDIA_TYPE:
        raise UnsupportedMediaType(
            "请以 application/octet-stream 原样上传加密投标文件（不要用 multipart 表单）",
            details={"expected": ENVELOPE_MEDIA_TYPE},
        )


# --- bidders -------------------------------------------------------------------------------------


@router.post(
    "/lots/{lot_id}/bids",
    status_code=201,
    response_model=ReceiptOut,
    openapi_extra=ENVELOPE_UPLOAD,
)
async def submit_bid(
    lot_id: uuid.UUID,
    request: Request,
    response: Response,
    principal: Principal = Depends(uploading_bidders),
    credit_code: str = CREDIT_CODE,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
    payer_account: str | None = PAYER_ACCOUNT,
) -> ReceiptOut:
    """Submit your sealed bid (投标) for a lot, or a new version of it (修改): send ``bid.jcb`` as the
    raw body with ``Content-Type: application/octet-stream``. Bidders of every platform may bid.

    The platform verifies the envelope while it streams in (docs/bid-envelope.md §7): the signature,
    the certificate chain against the trusted CAs, that the certificate's subject serialNumber, the
    signed ``bidder_credit_code`` and your ``X-Bidder-Credit-Code`` are the same, the lot, and the
    ciphertext's length and SHA-256. Anything else — an unencrypted ZIP or PDF included — answers
    422 ``envelope_rejected`` with ``details.reason`` (电子招标投标办法 第二十六条). Over
    ``TRADING_MAX_BID_BYTES``: 413 ``payload_too_large``.

    The bid is accepted only if the database clock is strictly before the lot's bid deadline when
    it is recorded, after the upload has finished; otherwise 409 ``bid_deadline_passed`` (招标投标法
    第二十八条) — start large uploads early. A suspended lot answers 409 ``lot_suspended``; a
    bidder under a ban 403 ``bidder_banned``; 503 ``dependency_unavailable`` when the credit check
    cannot be made (retry).

    The answer is the receipt (回执), signed by the platform: verify it offline with
    ``GET /receipts/public-key`` (docs/bid-receipt.md). Each submission is a new version; only the
    latest counts. Send an ``Idempotency-Key`` to retry safely: the same key with the same file
    returns the first receipt (header ``Idempotent-Replayed: true``), with another file 422
    ``idempotency_key_reused``, and 409 ``idempotency_in_progress`` while the first attempt is still
    uploading. ``X-Device-Fingerprint`` and ``X-Deposit-Payer-Account`` are recorded with the bid."""
    # ``async``: the body is read on the event loop and the blocking steps go to worker threads in
    # as few hops as there are steps (services/trading/bids/submission.py); the receipt is answered
    # only after the transaction that records the bid has committed, inside submission.submit.
    settings: TradingSettings = request.app.state.settings
    _check_media_type(request)
    declared = request.headers.get("content-length")
    # An honest client that announces too much is refused before a byte is read.
    if declared is not None and declared.isdigit() and int(declared) > settings.max_bid_bytes:
        raise too_large(settings.max_bid_bytes)
    facts = service.Declared(
        credit_code=_credit_code(credit_code),
        idempotency_key=check_key(idempotency_key) if idempotency_key is not None else None,
        deposit_payer_account=_payer_account(payer_account),
    )
    receipt, replayed = await submission.submit(request, principal, lot_id, facts)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return receipt_out(receipt)


@router.get("/lots/{lot_id}/bids/mine", response_model=BidOut)
def my_bid(lot_id: uuid.UUID, session: DbSession, principal: Principal = Depends(bidders)) -> BidOut:
    """Your organisation's bid for the lot: its status, every version with its digests (only the
    latest counts) and the deposit you declared. 404 ``bid_not_found`` if you have not bid. Nobody
    else can see that you bid before the deadline."""
    bid, versions, deposit = service.mine(session, principal, lot_id)
    today = db_today(session)
    return BidOut(
        id=bid.id,
        lot_id=bid.lot_id,
        bidder_org=bid.bidder_org,
        bidder_credit_code=bid.bidder_credit_code,
        status=bid.status,
        latest_version=bid.latest_version,
        created_at=bid.created_at,
        updated_at=bid.updated_at,
        withdrawn_at=bid.withdrawn_at,
        versions=[_version_out(bid, v) for v in versions],
        deposit=DepositOut(**_deposit_fields(deposit, today)) if deposit is not None else None,
    )


@router.delete("/lots/{lot_id}/bids/mine", response_model=ReceiptOut)
def withdraw_bid(
    lot_id: uuid.UUID,
    session: DbSession,
    principal: Principal = Depends(bidders),
    signer: ReceiptSigner = Depends(receipt_signer),
) -> ReceiptOut:
    """Withdraw your bid (撤回) before the deadline, with a signed withdrawal receipt. After the
    deadline 409 ``bid_deadline_passed``; 409 ``bid_already_withdrawn`` if it is withdrawn already.
    A deposit you paid is due back within 5 days (招标投标法实施条例 第三十五条). You may bid again
    before the deadline; that submission is the next version."""
    receipt = service.withdraw(session, principal, lot_id, signer)
    commit_before_answering(session)
    return receipt_out(receipt)


@router.get("/lots/{lot_id}/bids/mine/receipts", response_model=list[ReceiptOut])
def my_receipts(lot_id: uuid.UUID, session: DbSession, principal: Principal = Depends(bidders)) -> list[ReceiptOut]:
    """Every receipt of your bid for the lot, oldest first: one per version accepted, one per withdrawal."""
    return [receipt_out(r) for r in service.my_receipts(session, principal, lot_id)]


@router.put("/lots/{lot_id}/bids/mine/deposit", response_model=DepositOut)
def record_deposit(
    lot_id: uuid.UUID, body: DepositIn, session: DbSession, principal: Principal = Depends(bidders)
) -> DepositOut:
    """Declare the bid deposit (投标保证金) of your bid, before the deadline: the form you chose among
    those the lot allows (``waived`` where it requires none; cash only where the lot names it) and
    the evidence (reference number, optional SHA-256 of the guarantee letter or slip, the paying
    account). 422 ``deposit_required``, ``deposit_not_required`` or ``deposit_form_not_allowed``
    with ``details.allowed``. Sending it again replaces the declaration."""
    deposit = deposits.record(session, principal, lot_id, body)
    today = db_today(session)
    commit_before_answering(session)
    return DepositOut(**_deposit_fields(deposit, today))


# --- trading centre ------------------------------------------------------------------------------


@router.get("/lots/{lot_id}/deposits", response_model=list[LotDepositOut], tags=["deposits"])
def lot_deposits(
    lot_id: uuid.UUID, session: DbSession, principal: Principal = Depends(deposit_readers)
) -> list[LotDepositOut]:
    """The lot's bid deposits with their refund status (due date, refunded, ``overdue``), for the
    trading centre and supervisors. Before the bid deadline 403 ``secret_until_deadline``: who
    paid a deposit is who bid (电子招标投标办法 第二十一条)."""
    found, today = deposits.of_lot(session, principal, lot_id)
    return [lot_deposit_out(bid, deposit, today) for bid, deposit in found]


@router.put("/lots/{lot_id}/deposits/refund-due", response_model=list[LotDepositOut], tags=["deposits"])
def set_refund_due(
    lot_id: uuid.UUID, body: RefundDueIn, session: DbSession, principal: Principal = Depends(deposit_keepers)
) -> list[LotDepositOut]:
    """Record the date of the lot's result: every deposit not refunded yet is due back 5 days later
    (招标投标法实施条例 第五十七条). Deposits of withdrawn bids keep their own due date."""
    found, today = deposits.set_result_date(session, principal, lot_id, body.result_on)
    commit_before_answering(session)
    return [lot_deposit_out(bid, deposit, today) for bid, deposit in found]


@router.post("/lots/{lot_id}/deposits/{bid_id}/refund", response_model=LotDepositOut, tags=["deposits"])
def refund_deposit(
    lot_id: uuid.UUID,
    bid_id: uuid.UUID,
    session: DbSession,
    principal: Principal = Depends(deposit_keepers),
    body: RefundIn | None = None,
) -> LotDepositOut:
    """Mark a bid's deposit refunded, at the database's time. 409 ``deposit_already_refunded`` or
    ``deposit_waived``; a refund after the due date stays flagged ``overdue``."""
    bid, deposit, today = deposits.mark_refunded(session, principal, lot_id, bid_id, (body or RefundIn()).reference)
    commit_before_answering(session)
    return lot_deposit_out(bid, deposit, today)


# --- public --------------------------------------------------------------------------------------


@router.get("/receipts/public-key", response_model=ReceiptKeyOut, tags=["bids"])
def receipt_public_key(signer: ReceiptSigner = Depends(receipt_signer)) -> ReceiptKeyOut:
    """The Ed25519 key that signs bid receipts, and what it signs; no login needed, so anyone can
    verify a receipt offline (docs/bid-receipt.md)."""
    return ReceiptKeyOut(
        key_id=signer.key_id,
        public_key=base64.b64encode(public_key_bytes(signer.public_key)).decode("ascii"),
        public_key_pem=signer.public_key_pem(),
        receipt_format=RECEIPT_LAYOUT,
    )
