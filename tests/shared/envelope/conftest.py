"""A test PKI, a bid form and helpers to seal, read and re-sign envelopes."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.certificates import TrustStore
from shared.credit_code import make_credit_code
from shared.envelope import (
    BidForm,
    EnvelopeHeader,
    EnvelopeReader,
    build_plaintext_zip,
    encode_header,
    read_header,
    seal,
    signer_for,
)
from shared.envelope.codec import b64encode
from tests.support.pki import IssuedCert, issue_leaf, make_ca

CREDIT_CODE = make_credit_code("91140500MA0K1234X")
OTHER_CREDIT_CODE = make_credit_code("91140581MA0L5678Y")
LOT_ID = "0b6f3c1e-5d2a-4e8b-9c7d-1a2b3c4d5e6f"
OTHER_LOT_ID = "7e1d2c3b-4a59-4687-9012-abcdefabcdef"


@dataclass(frozen=True)
class Sealed:
    envelope: Path
    content_key: bytes


@pytest.fixture(scope="session")
def ca() -> IssuedCert:
    return make_ca("Shanxi Test CA")


@pytest.fixture(scope="session")
def other_ca() -> IssuedCert:
    return make_ca("Untrusted CA")


@pytest.fixture(scope="session")
def leaf(ca: IssuedCert) -> IssuedCert:
    return issue_leaf(ca, common_name="晋城市某建设有限公司", subject_serial=CREDIT_CODE)


@pytest.fixture(scope="session")
def store(ca: IssuedCert) -> TrustStore:
    return TrustStore([ca.cert])


@pytest.fixture
def form() -> BidForm:
    return BidForm.model_validate(
        {
            "price_fen": 123_456_789,
            "duration_days": 180,
            "quality": "合格",
            "project_manager": {"name": "李四", "certificate_no": "晋114050800001"},
            "extra": {"warranty_months": 24},
        }
    )


@pytest.fixture
def attachment(tmp_path: Path) -> Path:
    path = tmp_path / "技术标.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"technical proposal\n" * 100)
    return path


@pytest.fixture
def plaintext(tmp_path: Path, form: BidForm, attachment: Path) -> Path:
    return build_plaintext_zip(form, [attachment], out=tmp_path / "plain.zip")


def seal_with(plaintext: Path, out: Path, cert: IssuedCert, **overrides: Any) -> Sealed:
    kwargs: dict[str, Any] = {
        "out": out,
        "lot_id": LOT_ID,
        "bidder_credit_code": CREDIT_CODE,
        "certificate_pem": cert.pem,
        "signer": signer_for(cert.key),
        "device_fingerprint": "sha256:" + "ab" * 32,
        "document_author": "张三",
    }
    kwargs.update(overrides)
    envelope, key = seal(plaintext, **kwargs)
    return Sealed(envelope, key)


@pytest.fixture
def sealed(tmp_path: Path, plaintext: Path, leaf: IssuedCert) -> Sealed:
    return seal_with(plaintext, tmp_path / "bid.jcb", leaf)


def split(envelope: Path) -> tuple[EnvelopeHeader, bytes, bytes]:
    """Header, header bytes, ciphertext (whole: test envelopes are small)."""
    with envelope.open("rb") as stream:
        header, raw = read_header(stream)
        return header, raw, stream.read()


def resign(envelope: Path, signer: IssuedCert, chain: list[IssuedCert] | None = None, **changes: Any) -> Path:
    """Rewrite ``envelope`` with ``changes`` to its signed fields, validly signed by ``signer``.

    Lets a test present a header that ``seal`` itself would refuse to produce (e.g. a foreign credit code).
    """
    header, _, ciphertext = split(envelope)
    signed = header.signed.model_copy(update=changes)
    forged = EnvelopeHeader(
        signed=signed,
        signature=b64encode(signer.sign(signed.message())),
        certificate=signer.pem.decode(),
        chain=[c.pem.decode() for c in chain or []],
    )
    envelope.write_bytes(encode_header(forged) + ciphertext)
    return envelope


def read_upload(data: bytes, store: TrustStore, **kwargs: Any) -> tuple[EnvelopeReader, bytes]:
    """Run the server's upload path on ``data``; return the reader and what reached the sink."""
    received = bytearray()
    options: dict[str, Any] = {"trust": store, "at": datetime.now(UTC), "expected_lot_id": LOT_ID}
    options.update(kwargs)
    reader = EnvelopeReader(io.BytesIO(data), **options)
    reader.copy_ciphertext(received.extend)
    reader.check()
    return reader, bytes(received)
