"""Every refusal reason, each provoked by the one defect it names."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.certificates import TrustStore
from shared.envelope import (
    MAGIC,
    MAX_HEADER_LENGTH,
    BidForm,
    Declared,
    EnvelopeReader,
    EnvelopeRejected,
    SignedFields,
    build_plaintext_zip,
    content_key_for,
    encode_header,
    key_release_for,
    open_envelope,
    parse_key_release,
    read_bid_form,
)
from shared.envelope.codec import b64encode, canonical_json
from tests.shared.envelope.conftest import (
    CREDIT_CODE,
    LOT_ID,
    OTHER_CREDIT_CODE,
    OTHER_LOT_ID,
    Sealed,
    read_upload,
    resign,
    seal_with,
    split,
)
from tests.support.pki import IssuedCert, issue_leaf, make_ca


def upload_rejection(data: bytes, store: TrustStore, **kwargs: Any) -> EnvelopeRejected:
    with pytest.raises(EnvelopeRejected) as info:
        read_upload(data, store, **kwargs)
    return info.value


def with_raw_header(sealed: Sealed, header: dict[str, Any] | bytes) -> bytes:
    """The envelope with its header replaced by ``header`` (encoded canonically unless given as bytes)."""
    _, _, ciphertext = split(sealed.envelope)
    body = header if isinstance(header, bytes) else canonical_json(header)
    return MAGIC + len(body).to_bytes(4, "big") + body + ciphertext


def header_dict(sealed: Sealed) -> dict[str, Any]:
    header, _, _ = split(sealed.envelope)
    return header.model_dump(mode="json")


# --- not_an_envelope: unencrypted uploads --------------------------------------------------------------


def test_plain_zip_uploaded_as_is_is_refused(plaintext: Path, store: TrustStore) -> None:
    rejected = upload_rejection(plaintext.read_bytes(), store)
    assert rejected.reason == "not_an_envelope"
    assert "未加密的 ZIP" in rejected.message


@pytest.mark.parametrize(
    ("data", "named"),
    [(b"%PDF-1.7\n...", "PDF"), (b"", "空文件"), (b"JCBID2\n\x00\x00\x00\x02{}", "未知格式")],
)
def test_other_plain_uploads_are_refused(data: bytes, named: str, store: TrustStore) -> None:
    rejected = upload_rejection(data, store)
    assert rejected.reason == "not_an_envelope"
    assert named in rejected.message


# --- header framing ------------------------------------------------------------------------------------


def test_header_length_over_cap_is_refused_before_reading_it(store: TrustStore) -> None:
    data = MAGIC + (MAX_HEADER_LENGTH + 1).to_bytes(4, "big") + b"{" * 10
    assert upload_rejection(data, store).reason == "header_too_large"


def test_header_at_cap_is_read(sealed: Sealed, store: TrustStore) -> None:
    # Pads the JSON with insignificant whitespace to exactly the cap: it is read (then refused as non-canonical).
    body = canonical_json(header_dict(sealed))
    padded = body + b" " * (MAX_HEADER_LENGTH - len(body))
    assert upload_rejection(with_raw_header(sealed, padded), store).reason == "malformed_header"


def test_encode_header_refuses_oversized_chain(sealed: Sealed) -> None:
    header, _, _ = split(sealed.envelope)
    bloated = header.model_copy(update={"chain": [header.certificate * 20] * 8})
    with pytest.raises(EnvelopeRejected) as info:
        encode_header(bloated)
    assert info.value.reason == "header_too_large"


@pytest.mark.parametrize(
    "data",
    [MAGIC, MAGIC + b"\x00\x00", MAGIC + b"\x00\x00\x00\x00", MAGIC + b"\x00\x00\x01\x00{}"],
    ids=["no-length", "short-length", "zero-length", "truncated-header"],
)
def test_truncated_framing_is_malformed(data: bytes, store: TrustStore) -> None:
    assert upload_rejection(data, store).reason == "malformed_header"


def _set(path: str, value: Any) -> Any:
    def change(header: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = header
        for key in parents:
            target = target[key]
        target[last] = value

    return change


def _drop(path: str) -> Any:
    def change(header: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = header
        for key in parents:
            target = target[key]
        del target[last]

    return change


@pytest.mark.parametrize(
    "change",
    [
        _set("signed.unexpected", 1),
        _drop("signed.tag"),
        _set("signed.format", "JCBID2"),
        _set("signed.cipher", "AES-128-CBC"),
        _set("signed.ciphertext_length", "12"),
        _set("signed.plaintext_length", True),
        _set("signed.nonce", "AAAA"),
        _set("signed.tag", "not base64!"),
        _set("signed.ciphertext_sha256", "AB" * 32),
        _set("signed.bidder_credit_code", CREDIT_CODE.lower()),
        _set("signed.bidder_credit_code", CREDIT_CODE[:17] + "0"),
        _set("signed.lot_id", "lot with spaces"),
        _set("signed.sealed_at", "2026-13-01T00:00:00Z"),
        _set("signed.sealed_at", "2026-01-01T08:00:00+08:00"),
        _set("signed.declared.tool", "no version"),
        _set("chain", "not a list"),
    ],
    ids=[
        "extra-field",
        "missing-field",
        "format",
        "cipher",
        "string-int",
        "bool-int",
        "nonce-length",
        "tag-base64",
        "upper-hex",
        "credit-code-case",
        "credit-code-check",
        "lot-id",
        "date",
        "not-utc",
        "tool",
        "chain",
    ],
)
def test_schema_violations_are_malformed(sealed: Sealed, store: TrustStore, change: Any) -> None:
    header = header_dict(sealed)
    change(header)
    assert upload_rejection(with_raw_header(sealed, header), store).reason == "malformed_header"


def test_float_length_is_malformed(sealed: Sealed, store: TrustStore) -> None:
    header = header_dict(sealed)
    header["signed"]["plaintext_length"] = float(header["signed"]["plaintext_length"])
    assert upload_rejection(with_raw_header(sealed, header), store).reason == "malformed_header"


def test_unequal_lengths_are_malformed(sealed: Sealed, store: TrustStore) -> None:
    header = header_dict(sealed)
    header["signed"]["plaintext_length"] += 1
    rejected = upload_rejection(with_raw_header(sealed, header), store)
    assert rejected.reason == "malformed_header"
    assert "ciphertext_length must equal plaintext_length" in rejected.message


@pytest.mark.parametrize(
    "encode",
    [
        lambda h: json.dumps(h, sort_keys=True, indent=1).encode(),
        lambda h: canonical_json(h).replace(b"{", b"{ ", 1),
        lambda h: json.dumps(h, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(),
        lambda h: b"\xef\xbb\xbf" + canonical_json(h),
        lambda h: canonical_json(h)[:-1] + b',"chain":[]}',
        lambda h: b"[" + canonical_json(h) + b"]",
        lambda h: b"\xff" + canonical_json(h)[1:],
        lambda h: canonical_json(h).replace(b'"chain":[]', b'"chain":NaN'),
    ],
    ids=["indented", "space", "ascii-escaped", "bom", "duplicate-key", "array", "not-utf8", "nan"],
)
def test_non_canonical_or_invalid_json_is_malformed(sealed: Sealed, store: TrustStore, encode: Any) -> None:
    header = header_dict(sealed)
    assert header["chain"] == []
    assert upload_rejection(with_raw_header(sealed, encode(header)), store).reason == "malformed_header"


def test_unreadable_certificate_is_malformed(sealed: Sealed, store: TrustStore) -> None:
    header = header_dict(sealed)
    header["certificate"] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    rejected = upload_rejection(with_raw_header(sealed, header), store)
    assert rejected.reason == "malformed_header"
    assert rejected.certificate_reason == "malformed"


# --- signature, certificate and identity ------------------------------------------------------------------


def _shorten_lengths(header: dict[str, Any]) -> None:
    # The two lengths are tied together by the schema; change both so only the signature is wrong.
    header["signed"]["plaintext_length"] -= 1
    header["signed"]["ciphertext_length"] -= 1


@pytest.mark.parametrize(
    "change",
    [
        _shorten_lengths,
        _set("signed.declared.document_author", "王五"),
        _set("signed.sealed_at", "2020-01-01T00:00:00Z"),
        _set("signed.ciphertext_sha256", "0" * 64),
    ],
    ids=["lengths", "author", "sealed_at", "digest"],
)
def test_changed_signed_field_breaks_signature(sealed: Sealed, store: TrustStore, change: Any) -> None:
    header = header_dict(sealed)
    change(header)
    assert upload_rejection(with_raw_header(sealed, header), store).reason == "bad_signature"


def test_unchanged_header_reencoded_is_accepted(sealed: Sealed, store: TrustStore) -> None:
    # Control for the tests above and below: the test's re-encoding alone changes nothing.
    read_upload(with_raw_header(sealed, header_dict(sealed)), store)


def test_signature_by_another_key_is_refused(sealed: Sealed, store: TrustStore, ca: IssuedCert) -> None:
    impostor = issue_leaf(ca, common_name="冒名者", subject_serial=CREDIT_CODE)
    header = header_dict(sealed)
    header["signature"] = b64encode(impostor.sign(SignedFields.model_validate(header["signed"]).message()))
    rejected = upload_rejection(with_raw_header(sealed, header), store)
    assert rejected.reason == "bad_signature"


def test_untrusted_ca_is_refused(sealed: Sealed, other_ca: IssuedCert) -> None:
    rejected = upload_rejection(sealed.envelope.read_bytes(), TrustStore([other_ca.cert]))
    assert rejected.reason == "untrusted_certificate"
    assert rejected.certificate_reason == "untrusted_chain"


def test_self_issued_lookalike_of_trusted_ca_is_refused(
    tmp_path: Path, plaintext: Path, ca: IssuedCert, store: TrustStore
) -> None:
    forged = issue_leaf(ca, common_name="伪造", subject_serial=CREDIT_CODE, self_signed=True)
    sealed = seal_with(plaintext, tmp_path / "bid.jcb", forged)
    assert upload_rejection(sealed.envelope.read_bytes(), store).reason == "untrusted_certificate"


def test_certificate_expired_at_acceptance_time_is_refused(sealed: Sealed, store: TrustStore) -> None:
    later = datetime.now(UTC) + timedelta(days=400)
    rejected = upload_rejection(sealed.envelope.read_bytes(), store, at=later)
    assert rejected.reason == "untrusted_certificate"
    assert rejected.certificate_reason == "expired"


def test_intermediate_in_chain_is_used(tmp_path: Path, plaintext: Path, ca: IssuedCert, store: TrustStore) -> None:
    sub = make_ca("Shanxi Test Sub-CA", parent=ca)
    leaf = issue_leaf(sub, common_name="投标人", subject_serial=CREDIT_CODE)
    sealed = seal_with(plaintext, tmp_path / "with.jcb", leaf, chain_pem=[sub.pem])
    read_upload(sealed.envelope.read_bytes(), store)
    without = seal_with(plaintext, tmp_path / "without.jcb", leaf)
    assert upload_rejection(without.envelope.read_bytes(), store).reason == "untrusted_certificate"


def test_certificate_of_another_company_is_refused(sealed: Sealed, store: TrustStore, ca: IssuedCert) -> None:
    # Validly signed with a trusted certificate, but that certificate names another credit code.
    other = issue_leaf(ca, common_name="另一家公司", subject_serial=OTHER_CREDIT_CODE)
    resign(sealed.envelope, other)
    rejected = upload_rejection(sealed.envelope.read_bytes(), store)
    assert rejected.reason == "identity_mismatch"
    assert OTHER_CREDIT_CODE in rejected.message


def test_certificate_without_subject_serial_is_refused(sealed: Sealed, store: TrustStore, ca: IssuedCert) -> None:
    resign(sealed.envelope, issue_leaf(ca, common_name="无序列号", subject_serial=None))
    assert upload_rejection(sealed.envelope.read_bytes(), store).reason == "identity_mismatch"


def test_resigned_header_with_matching_identity_is_accepted(
    sealed: Sealed, store: TrustStore, leaf: IssuedCert
) -> None:
    # Control for the two tests above: re-signing itself is not what they detect.
    resign(sealed.envelope, leaf)
    read_upload(sealed.envelope.read_bytes(), store)


def test_seal_refuses_certificate_of_another_company(tmp_path: Path, plaintext: Path, ca: IssuedCert) -> None:
    other = issue_leaf(ca, common_name="另一家公司", subject_serial=OTHER_CREDIT_CODE)
    with pytest.raises(EnvelopeRejected) as info:
        seal_with(plaintext, tmp_path / "bid.jcb", other)
    assert info.value.reason == "identity_mismatch"
    assert not (tmp_path / "bid.jcb").exists()


def test_seal_refuses_key_not_matching_certificate(
    tmp_path: Path, plaintext: Path, leaf: IssuedCert, ca: IssuedCert
) -> None:
    stranger = issue_leaf(ca, common_name="x", subject_serial=CREDIT_CODE)
    with pytest.raises(ValueError, match="does not match the certificate"):
        seal_with(plaintext, tmp_path / "bid.jcb", leaf, signer=stranger.sign)
    assert list(tmp_path.glob("*bid.jcb*")) == []


# --- lot and bidder ---------------------------------------------------------------------------------------


def test_envelope_for_another_lot_is_refused(sealed: Sealed, store: TrustStore) -> None:
    assert upload_rejection(sealed.envelope.read_bytes(), store, expected_lot_id=OTHER_LOT_ID).reason == "wrong_lot"


def test_envelope_of_another_bidder_is_refused(sealed: Sealed, store: TrustStore) -> None:
    data = sealed.envelope.read_bytes()
    rejected = upload_rejection(data, store, expected_bidder_credit_code=OTHER_CREDIT_CODE)
    assert rejected.reason == "wrong_bidder"


# --- ciphertext digest and length -------------------------------------------------------------------------


def test_one_flipped_ciphertext_byte_fails_the_digest_check(sealed: Sealed, store: TrustStore) -> None:
    data = bytearray(sealed.envelope.read_bytes())
    data[-10] ^= 0x01
    assert upload_rejection(bytes(data), store).reason == "digest_mismatch"


def test_truncated_ciphertext_fails_the_length_check(sealed: Sealed, store: TrustStore) -> None:
    assert upload_rejection(sealed.envelope.read_bytes()[:-1], store).reason == "length_mismatch"


def test_overlong_ciphertext_stops_the_copy_before_the_excess_reaches_the_sink(
    sealed: Sealed, store: TrustStore
) -> None:
    data = sealed.envelope.read_bytes() + b"\x00" * 10
    header, _, ciphertext = split(sealed.envelope)
    reader = EnvelopeReader(io.BytesIO(data), trust=store, at=datetime.now(UTC), expected_lot_id=LOT_ID, chunk_size=64)
    received = bytearray()
    with pytest.raises(EnvelopeRejected) as info:
        reader.copy_ciphertext(received.extend)
    assert info.value.reason == "length_mismatch"
    assert len(received) <= header.signed.ciphertext_length
    assert bytes(received) == ciphertext[: len(received)]


def test_check_before_copy_is_a_programming_error(sealed: Sealed, store: TrustStore) -> None:
    stream = io.BytesIO(sealed.envelope.read_bytes())
    reader = EnvelopeReader(stream, trust=store, at=datetime.now(UTC), expected_lot_id=LOT_ID)
    with pytest.raises(RuntimeError):
        reader.check()


# --- opening: key, tag, plaintext digest --------------------------------------------------------------------


def test_one_flipped_ciphertext_byte_fails_the_gcm_tag_at_opening(tmp_path: Path, sealed: Sealed) -> None:
    header, _, ciphertext = split(sealed.envelope)
    tampered = bytearray(ciphertext)
    tampered[len(tampered) // 2] ^= 0x80
    out = tmp_path / "opened.zip"
    with pytest.raises(EnvelopeRejected) as info:
        open_envelope([bytes(tampered)], header.signed, sealed.content_key, out)
    assert info.value.reason == "wrong_key"
    # Nothing unauthenticated is left behind.
    assert not out.exists()
    assert list(tmp_path.glob("*opened*")) == []


def test_wrong_content_key_is_refused(tmp_path: Path, sealed: Sealed) -> None:
    header, _, ciphertext = split(sealed.envelope)
    wrong = bytes(b ^ 0xFF for b in sealed.content_key)
    with pytest.raises(EnvelopeRejected) as info:
        open_envelope([ciphertext], header.signed, wrong, tmp_path / "opened.zip")
    assert info.value.reason == "wrong_key"
    assert not (tmp_path / "opened.zip").exists()


def test_short_content_key_is_refused(tmp_path: Path, sealed: Sealed) -> None:
    header, _, ciphertext = split(sealed.envelope)
    with pytest.raises(EnvelopeRejected) as info:
        open_envelope([ciphertext], header.signed, sealed.content_key[:16], tmp_path / "opened.zip")
    assert info.value.reason == "wrong_key"


def test_key_release_for_another_envelope_is_refused(
    tmp_path: Path, sealed: Sealed, plaintext: Path, leaf: IssuedCert
) -> None:
    other = seal_with(plaintext, tmp_path / "other.jcb", leaf)
    header, _, _ = split(sealed.envelope)
    other_header, _, _ = split(other.envelope)
    release = key_release_for(other_header.signed, other.content_key)
    with pytest.raises(EnvelopeRejected) as info:
        content_key_for(release, header.signed)
    assert info.value.reason == "wrong_key"
    assert content_key_for(release, other_header.signed) == other.content_key


@pytest.mark.parametrize(
    "document",
    [b"not json", b'{"lot_id":"x"}', b'{"lot_id":"x","envelope_sha256":"' + b"0" * 64 + b'","content_key":"AAAA"}'],
    ids=["not-json", "missing-fields", "short-key"],
)
def test_malformed_key_release_is_refused(document: bytes) -> None:
    with pytest.raises(EnvelopeRejected) as info:
        parse_key_release(document)
    assert info.value.reason == "wrong_key"


def test_plaintext_not_matching_signed_digest_is_refused(tmp_path: Path, sealed: Sealed) -> None:
    # The right key and an intact ciphertext, but the signed plaintext_sha256 names other content: the bid
    # is pinned to the plaintext the bidder signed, whatever the cipher accepts.
    header, _, ciphertext = split(sealed.envelope)
    signed = header.signed.model_copy(update={"plaintext_sha256": "0" * 64})
    with pytest.raises(EnvelopeRejected) as info:
        open_envelope([ciphertext], signed, sealed.content_key, tmp_path / "opened.zip")
    assert info.value.reason == "plaintext_digest_mismatch"
    assert not (tmp_path / "opened.zip").exists()


# --- bid form -------------------------------------------------------------------------------------------


def _zip(tmp_path: Path, entries: dict[str, bytes]) -> Path:
    path = tmp_path / "form.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _form(**changes: Any) -> bytes:
    form: dict[str, Any] = {
        "price_fen": 100,
        "duration_days": 30,
        "quality": "合格",
        "project_manager": {"name": "李四", "certificate_no": "A1"},
    }
    form.update(changes)
    return json.dumps(form, ensure_ascii=False).encode()


def test_minimal_bid_form_is_read(tmp_path: Path) -> None:
    form = read_bid_form(_zip(tmp_path, {"bid-form.json": _form(), "attachments/a.pdf": b"%PDF"}))
    assert form.price_fen == 100
    assert form.extra == {}


@pytest.mark.parametrize(
    ("entries", "mentions"),
    [
        ({"attachments/a.pdf": b"x"}, "缺少 bid-form.json"),
        ({"bid-form.json": _form(price_fen=1.5)}, "price_fen"),
        ({"bid-form.json": _form(price_fen=100.0)}, "price_fen"),
        ({"bid-form.json": _form(price_fen="100")}, "price_fen"),
        ({"bid-form.json": _form(price_fen=-1)}, "price_fen"),
        ({"bid-form.json": _form(duration_days=0)}, "duration_days"),
        ({"bid-form.json": _form(discount=5)}, "discount"),
        ({"bid-form.json": _form(project_manager={"name": "李四"})}, "project_manager.certificate_no"),
        ({"bid-form.json": b'{"price_fen":1,"price_fen":2}'}, "duplicate key"),
        ({"bid-form.json": b"\xff\xfe"}, "UTF-8 JSON"),
        ({"bid-form.json": _form(), "../evil.sh": b"x"}, "../evil.sh"),
        ({"bid-form.json": _form(), "other/x.pdf": b"x"}, "other/x.pdf"),
        ({"bid-form.json": _form(), "attachments/../../x": b"x"}, "attachments/../../x"),
    ],
    ids=[
        "missing",
        "float-price",
        "float-integral-price",
        "string-price",
        "negative-price",
        "zero-duration",
        "unknown-field",
        "missing-nested",
        "duplicate-key",
        "not-utf8",
        "zip-slip",
        "outside-layout",
        "dot-dot",
    ],
)
def test_bad_bid_forms_are_refused(tmp_path: Path, entries: dict[str, bytes], mentions: str) -> None:
    with pytest.raises(EnvelopeRejected) as info:
        read_bid_form(_zip(tmp_path, entries))
    assert info.value.reason == "bad_bid_form"
    assert mentions in info.value.message


def test_not_a_zip_is_a_bad_bid_form(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"plain text")
    with pytest.raises(EnvelopeRejected) as info:
        read_bid_form(path)
    assert info.value.reason == "bad_bid_form"


def test_oversized_bid_form_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EnvelopeRejected) as info:
        read_bid_form(_zip(tmp_path, {"bid-form.json": b" " * (1024 * 1024 + 1)}))
    assert info.value.reason == "bad_bid_form"


def test_seal_refuses_plaintext_without_valid_bid_form(tmp_path: Path, leaf: IssuedCert) -> None:
    # A bid that would be unreadable at opening is lost (撤销); refuse it while the bidder can still fix it.
    bad = _zip(tmp_path, {"bid-form.json": _form(price_fen=9.99)})
    with pytest.raises(EnvelopeRejected) as info:
        seal_with(bad, tmp_path / "bid.jcb", leaf)
    assert info.value.reason == "bad_bid_form"
    assert not (tmp_path / "bid.jcb").exists()


def test_seal_refuses_invalid_credit_code(tmp_path: Path, plaintext: Path, ca: IssuedCert) -> None:
    bad_code = CREDIT_CODE[:17] + ("0" if CREDIT_CODE[17] != "0" else "1")
    leaf = issue_leaf(ca, common_name="x", subject_serial=bad_code)
    with pytest.raises(ValueError, match="bidder_credit_code"):
        seal_with(plaintext, tmp_path / "bid.jcb", leaf, bidder_credit_code=bad_code)


def test_declared_metadata_is_bounded() -> None:
    with pytest.raises(ValueError):
        Declared(device_fingerprint="x" * 257, document_author=None, tool="jincheng-bidder/0.1.0")


def test_bid_form_model_forbids_float_price() -> None:
    with pytest.raises(ValueError):
        BidForm.model_validate(
            {
                "price_fen": 1.0,
                "duration_days": 1,
                "quality": "q",
                "project_manager": {"name": "n", "certificate_no": "c"},
            }
        )


def test_zip_with_attachments_from_build_is_accepted(tmp_path: Path, form: BidForm, attachment: Path) -> None:
    assert read_bid_form(build_plaintext_zip(form, [attachment], out=tmp_path / "ok.zip")) == form
