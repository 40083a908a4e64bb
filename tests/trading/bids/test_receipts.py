"""The receipt format as published: the documented example verifies, keys load, production refuses
the development key."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.trading.app import create_app
from services.trading.bids.receipts import ReceiptSigner, new_receipt_no, receipt_body, verify_receipt
from services.trading.settings import DEV_RECEIPT_SIGNING_KEY, TradingSettings
from shared.db import PROJECT_ROOT
from shared.ed25519_keys import public_key_bytes, seed_from_setting
from shared.envelope.codec import canonical_json
from tests.support.pki import issue_leaf, make_ca

DOC = PROJECT_ROOT / "docs" / "bid-receipt.md"


def _code_block_after(text: str, marker: str) -> str:
    start = text.index(marker)
    block = re.search(r"```text\n(.*?)\n```", text[start:], re.DOTALL)
    assert block is not None
    return block.group(1)


def test_the_documented_example_verifies_with_the_development_key():
    text = DOC.read_text()
    signed_bytes = _code_block_after(text, "The signed bytes:")
    signature = _code_block_after(text, "Signature:")
    receipt = json.loads(signed_bytes)
    assert canonical_json(receipt).decode() == signed_bytes  # the page shows canonical bytes
    signer = ReceiptSigner(DEV_RECEIPT_SIGNING_KEY)
    key = public_key_bytes(signer.public_key)
    assert base64.b64encode(key).decode() in text and signer.key_id in text
    assert receipt["key_id"] == signer.key_id
    assert verify_receipt(key, receipt, signature)
    assert not verify_receipt(key, {**receipt, "recorded_at": "2026-11-29T09:20:05.123456Z"}, signature)


def test_signing_adds_format_and_key_and_is_deterministic():
    signer = ReceiptSigner(base64.b64encode(bytes(range(32))).decode())
    body = receipt_body(
        kind="bid_withdrawn",
        receipt_no="JCR-20261129-AAAAAAAAAA",
        platform="gaoping",
        lot_id="l",
        bid_id="b",
        version=3,
        bidder_org="o",
        bidder_credit_code="c",
        recorded_at=datetime(2026, 11, 29, 1, 2, 3, 4, tzinfo=UTC),
        ciphertext_sha256="0" * 64,
        ciphertext_length=0,
        plaintext_sha256="1" * 64,
        envelope_sha256="2" * 64,
    )
    signed = signer.sign(body)
    assert signed.body["format"] == "JCRECEIPT1" and signed.body["key_id"] == signer.key_id
    assert signed.body["recorded_at"] == "2026-11-29T01:02:03.000004Z"
    assert signer.sign(body) == signed  # Ed25519 is deterministic
    assert verify_receipt(public_key_bytes(signer.public_key), signed.body, signed.signature)
    assert not verify_receipt(public_key_bytes(signer.public_key), signed.body, "not base64!")


def test_receipt_numbers_are_dated_and_random():
    moment = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)  # already the 30th in Jincheng
    numbers = {new_receipt_no(moment) for _ in range(200)}
    assert len(numbers) == 200
    assert all(re.fullmatch(r"JCR-20261130-[A-HJ-NP-Z2-9]{10}", n) for n in numbers)


@pytest.mark.parametrize("value", ["not base64", base64.b64encode(b"short").decode(), "", "   "])
def test_malformed_keys_are_refused_at_start(value):
    if not value.strip():
        assert TradingSettings(receipt_signing_key=value).receipt_signing_key == DEV_RECEIPT_SIGNING_KEY
        return
    with pytest.raises(ValueError, match="receipt signing key"):
        seed_from_setting(value, what="receipt signing key")
    with pytest.raises(ValidationError):
        TradingSettings(receipt_signing_key=value)


def test_production_refuses_the_development_key():
    real = base64.b64encode(bytes(32)).decode()
    with pytest.raises(ValidationError, match="receipt_signing_key"):
        TradingSettings(environment="production", client_secret="s3cret", receipt_signing_key="")
    settings = TradingSettings(environment="production", client_secret="s3cret", receipt_signing_key=real)
    assert settings.receipt_signing_key == real


def test_trusted_cas_are_loaded_at_start(tmp_path, engine):
    """A missing CA file or a leaf listed as a CA stops the service at start, not at the first bid."""
    ca = make_ca("Start CA")
    leaf_file = tmp_path / "leaf.pem"
    leaf_file.write_bytes(issue_leaf(ca, common_name="x", subject_serial=None).pem)
    for path in (tmp_path / "missing.pem", leaf_file):
        with pytest.raises((OSError, ValueError)):
            create_app(TradingSettings(environment="test", trusted_ca_files=str(path)), engine=engine)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.pem)
    app = create_app(TradingSettings(environment="test", trusted_ca_files=f" {ca_file} ,"), engine=engine)
    assert len(app.state.trust_store) == 1
