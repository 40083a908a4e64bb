"""Signed tree heads: the bytes signed, the JSON form, the key and its settings."""

from __future__ import annotations

import base64
import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from services.supervision.ledger import tree_heads
from services.supervision.settings import DEV_LEDGER_SIGNING_KEY, SupervisionSettings
from shared import ed25519_keys as keys

ROOT, CHAIN = bytes(range(32)), bytes(range(32, 64))
MOMENT = datetime(2026, 11, 29, 9, 20, 0, 123456, tzinfo=UTC)
SEED = base64.b64encode(bytes(range(100, 132))).decode()


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return keys.signing_key(SEED)


def test_the_signed_bytes_are_the_documented_layout(key):
    head = tree_heads.sign(key, 1_000_000, ROOT, CHAIN, MOMENT)
    data = head.signed_bytes()
    micros = int((MOMENT - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 10**6 + 123456
    assert data == b"JINCHENG-AUDIT-STH-V1\x00" + struct.pack(">QQ", 1_000_000, micros) + ROOT + CHAIN
    assert len(data) == 102
    key.public_key().verify(head.signature, data)  # raises if not
    assert head.key_id == keys.key_id(key.public_key()) and len(head.key_id) == 16


def test_the_json_form_round_trips_exactly(key):
    head = tree_heads.sign(key, 7, ROOT, CHAIN, MOMENT.astimezone(timezone(timedelta(hours=8))))
    data = head.to_json()
    assert data["timestamp"] == "2026-11-29T09:20:00.123456+00:00"
    assert data["root_hash"] == ROOT.hex() and base64.b64decode(data["signature"]) == head.signature
    again = tree_heads.SignedTreeHead.from_json(data)
    assert again.to_json() == data
    assert again.signature_valid(key.public_key())


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 8},
        {"root_hash": CHAIN},
        {"chain_head": ROOT},
        {"timestamp": MOMENT + timedelta(microseconds=1)},
    ],
)
def test_any_change_breaks_the_signature(key, change):
    head = tree_heads.sign(key, 7, ROOT, CHAIN, MOMENT)
    assert not replace(head, **change).signature_valid(key.public_key())
    assert not head.signature_valid(Ed25519PrivateKey.generate().public_key())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("root_hash"), "lacks 'root_hash'"),
        (lambda d: d.update(root_hash="zz"), "malformed"),
        (lambda d: d.update(root_hash="00"), "32 bytes"),
        (lambda d: d.update(signature="%%"), "malformed"),
        (lambda d: d.update(timestamp="2026-11-29T09:20:00"), "UTC offset"),
        (lambda d: d.update(timestamp="yesterday"), "malformed"),
        (lambda d: d.update(tree_size=-1), "non-negative"),
        (lambda d: d.update(tree_size=True), "non-negative"),
        (lambda d: d.update(tree_size="7"), "non-negative"),
    ],
)
def test_malformed_saved_tree_heads_are_refused(key, mutate, message):
    data = tree_heads.sign(key, 7, ROOT, CHAIN, MOMENT).to_json()
    mutate(data)
    with pytest.raises(ValueError, match=message):
        tree_heads.SignedTreeHead.from_json(data)
    with pytest.raises(ValueError, match="JSON object"):
        tree_heads.SignedTreeHead.from_json([data])


def test_public_keys_load_from_pem_or_base64(key):
    public = key.public_key()
    for text in (keys.public_key_pem(public), base64.b64encode(keys.public_key_bytes(public)).decode()):
        assert keys.public_key_bytes(keys.load_public_key(text)) == keys.public_key_bytes(public)
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(ValueError):
            keys.load_public_key(bad)


def test_the_development_key_is_derived_from_a_public_seed(monkeypatch):
    monkeypatch.delenv("SUPERVISION_LEDGER_SIGNING_KEY", raising=False)
    assert SupervisionSettings(environment="development").ledger_signing_key == DEV_LEDGER_SIGNING_KEY
    settings = SupervisionSettings(environment="development", ledger_signing_key="")
    assert settings.ledger_signing_key == DEV_LEDGER_SIGNING_KEY
    assert (
        keys.seed_from_setting(DEV_LEDGER_SIGNING_KEY)
        == __import__("hashlib").sha256(DEV_LEDGER_SIGNING_KEY.encode()).digest()
    )
    assert "ledger_signing_key" in settings.secret_values()


def test_production_refuses_the_development_key_and_takes_a_real_one():
    with pytest.raises(ValidationError, match="ledger_signing_key"):
        SupervisionSettings(environment="production", client_secret="s3cret", ledger_signing_key="")
    settings = SupervisionSettings(environment="production", client_secret="s3cret", ledger_signing_key=SEED)
    assert keys.seed_from_setting(settings.ledger_signing_key) == bytes(range(100, 132))


@pytest.mark.parametrize(
    "bad", ["not base64!", base64.b64encode(bytes(31)).decode(), base64.b64encode(bytes(33)).decode()]
)
def test_a_malformed_key_stops_the_service_at_start(bad):
    with pytest.raises(ValidationError, match="32"):
        SupervisionSettings(environment="development", ledger_signing_key=bad)


def test_the_signing_interval_must_be_positive():
    with pytest.raises(ValidationError, match="positive"):
        SupervisionSettings(ledger_sign_interval_seconds=0)
