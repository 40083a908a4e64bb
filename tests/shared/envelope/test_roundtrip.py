"""Seal → verify upload → release key → open → read the bid form, and the format's fixed points."""

from __future__ import annotations

import hashlib
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.audit.outbox import canonical_json as audit_canonical_json
from shared.certificates import TrustStore
from shared.envelope import (
    MAGIC,
    BidForm,
    build_plaintext_zip,
    content_key_for,
    key_release_for,
    open_envelope,
    parse_key_release,
    read_bid_form,
)
from shared.envelope.codec import canonical_json
from tests.shared.envelope.conftest import (
    CREDIT_CODE,
    LOT_ID,
    Sealed,
    read_upload,
    seal_with,
    split,
)
from tests.support.pki import IssuedCert, KeyType, issue_leaf

CANONICAL_SAMPLES: list[object] = [
    {"b": 1, "a": '晋城\n"x"\\', "c": [True, None, 0], "\u00e9": {"z": "", "y": "\x01\x7f\u2028"}},
    {"price": 10**15, "nested": [{"k": []}, {}], "emoji": "\U0001f600", "neg": -1},
]


def test_canonical_json_is_pinned() -> None:
    # The published format depends on these exact bytes (docs/bid-envelope.md §3).
    expected = '{"a":"晋城\\n\\"x\\"\\\\","b":1,"c":[true,null,0],"é":{"y":"\\u0001\x7f\u2028","z":""}}'
    assert canonical_json(CANONICAL_SAMPLES[0]) == expected.encode("utf-8")


@pytest.mark.parametrize("value", CANONICAL_SAMPLES)
def test_canonical_json_matches_the_audit_trail(value: object) -> None:
    # Envelope digests and audit digests are computed the same way; a change to either must be deliberate.
    assert canonical_json(value) == audit_canonical_json(value)


def test_canonical_json_refuses_what_is_not_json() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    with pytest.raises(TypeError):
        canonical_json({"when": datetime.now(UTC)})


@pytest.mark.parametrize("key_type", ["ec", "rsa", "ed25519"])
def test_round_trip(
    tmp_path: Path, plaintext: Path, form: BidForm, ca: IssuedCert, store: TrustStore, key_type: KeyType
) -> None:
    # Every leaf key type verify_signature accepts. The CA stays EC: the chain verifier's WebPKI profile
    # forbids Ed25519 as a certificate-signing algorithm, which is shared.certificates' policy, not ours.
    leaf = issue_leaf(ca, common_name="投标人", subject_serial=CREDIT_CODE, key_type=key_type)
    sealed = seal_with(plaintext, tmp_path / "bid.jcb", leaf)
    data = sealed.envelope.read_bytes()
    assert data.startswith(MAGIC)

    reader, ciphertext = read_upload(data, store, expected_bidder_credit_code=CREDIT_CODE)
    signed = reader.signed
    assert reader.identity.subject_serial == CREDIT_CODE
    assert reader.ciphertext_sha256 == signed.ciphertext_sha256 == hashlib.sha256(ciphertext).hexdigest()
    assert signed.plaintext_sha256 == hashlib.sha256(plaintext.read_bytes()).hexdigest()
    # Encrypted: the bid form's text does not appear in what the platform stores.
    assert b"price_fen" not in data
    assert "合格".encode() not in data

    release = parse_key_release(key_release_for(signed, sealed.content_key).to_json())
    assert release.envelope_sha256 == signed.ciphertext_sha256
    key = content_key_for(release, signed)
    opened = open_envelope([ciphertext[:100], ciphertext[100:]], signed, key, tmp_path / "opened.zip")
    assert opened.read_bytes() == plaintext.read_bytes()
    assert read_bid_form(opened) == form


def test_header_fields(sealed: Sealed, leaf: IssuedCert) -> None:
    header, raw, ciphertext = split(sealed.envelope)
    data = sealed.envelope.read_bytes()
    assert data[7:11] == len(raw).to_bytes(4, "big")
    assert data[11 : 11 + len(raw)] == raw
    signed = header.signed
    assert signed.format == "JCBID1"
    assert signed.cipher == "AES-256-GCM"
    assert signed.lot_id == LOT_ID
    assert signed.bidder_credit_code == CREDIT_CODE
    assert len(signed.nonce_bytes()) == 12
    assert len(signed.tag_bytes()) == 16
    assert signed.ciphertext_length == len(ciphertext) == signed.plaintext_length
    assert signed.declared.tool.startswith("jincheng-bidder/")
    assert signed.declared.document_author == "张三"
    assert header.certificate.encode() == leaf.pem
    sealed_at = datetime.strptime(signed.sealed_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - sealed_at).total_seconds()) < 60


def test_two_seals_of_one_bid_share_no_key_nonce_or_ciphertext(
    tmp_path: Path, plaintext: Path, leaf: IssuedCert
) -> None:
    first = seal_with(plaintext, tmp_path / "a.jcb", leaf)
    second = seal_with(plaintext, tmp_path / "b.jcb", leaf)
    assert len(first.content_key) == 32
    assert first.content_key != second.content_key
    a, _, ca = split(first.envelope)
    b, _, cb = split(second.envelope)
    assert a.signed.nonce != b.signed.nonce
    assert ca != cb


def test_plaintext_zip_layout_and_salt(tmp_path: Path, form: BidForm, attachment: Path) -> None:
    first = build_plaintext_zip(form, [attachment], out=tmp_path / "1.zip")
    second = build_plaintext_zip(form, [attachment], out=tmp_path / "2.zip")
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["bid-form.json", f"attachments/{attachment.name}"]
        assert archive.read(f"attachments/{attachment.name}") == attachment.read_bytes()
        assert archive.read("bid-form.json") == canonical_json(form.model_dump(mode="json"))
        # 256 random bits so the published plaintext_sha256 cannot be brute-forced from guessed prices.
        assert len(archive.comment) == 64
    assert hashlib.sha256(first.read_bytes()).digest() != hashlib.sha256(second.read_bytes()).digest()


def test_plaintext_zip_refuses_duplicate_attachment_names(tmp_path: Path, form: BidForm, attachment: Path) -> None:
    twin = tmp_path / "other"
    twin.mkdir()
    (twin / attachment.name).write_bytes(b"x")
    with pytest.raises(ValueError, match="same file name"):
        build_plaintext_zip(form, [attachment, twin / attachment.name], out=tmp_path / "x.zip")


def test_plaintext_zip_default_location_is_a_temporary_file(form: BidForm) -> None:
    path = build_plaintext_zip(form, [])
    try:
        assert read_bid_form(path) == form
    finally:
        path.unlink()
