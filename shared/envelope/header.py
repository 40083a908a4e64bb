"""The JCBID1 header: its fields, its byte encoding, and the checks on who signed it.

Layout: ``MAGIC`` (7 bytes) + header length (4 bytes, big-endian) + header (canonical JSON) + ciphertext.
See docs/bid-envelope.md; every constant here is part of that published format.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, BinaryIO, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.certificates import (
    CertificateIdentity,
    CertificateRejected,
    TrustStore,
    verify_certificate,
    verify_signature,
)
from shared.credit_code import InvalidCreditCode, validate_credit_code
from shared.envelope.codec import b64decode_strict, canonical_json, loads_strict
from shared.envelope.errors import EnvelopeRejected
from shared.envelope.streams import read_exact

MAGIC = b"JCBID1\n"
FORMAT_NAME = "JCBID1"
CIPHER_NAME = "AES-256-GCM"
HEADER_LENGTH_BYTES = 4
# Certificate plus a few intermediates fit in well under 16 KiB; the cap bounds what an unauthenticated
# upload can make the server buffer before any signature has been checked.
MAX_HEADER_LENGTH = 64 * 1024
KEY_LENGTH = 32
NONCE_LENGTH = 12
TAG_LENGTH = 16
# Largest integer every JSON implementation (JavaScript included) reads exactly.
MAX_JSON_INT = 2**53 - 1
MAX_CHAIN_CERTIFICATES = 8

# File signatures of what bidders most often upload by mistake, so the refusal can say what was sent.
_KNOWN_PLAIN_FORMATS = (
    (b"PK\x03\x04", "未加密的 ZIP 压缩包"),
    (b"PK\x05\x06", "未加密的 ZIP 压缩包"),
    (b"%PDF", "未加密的 PDF 文件"),
    (b"\xd0\xcf\x11\xe0", "未加密的 Office 文档"),
    (b"Rar!", "未加密的 RAR 压缩包"),
    (b"7z\xbc\xaf", "未加密的 7z 压缩包"),
)


def _matching(pattern: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.fullmatch(value) is None:
            raise ValueError(f"{what} must match {pattern}")
        return value

    return check


def _base64_of(length: int | None, max_length: int = 4096) -> Callable[[str], str]:
    def check(value: str) -> str:
        raw = b64decode_strict(value)
        if length is not None and len(raw) != length:
            raise ValueError(f"must encode exactly {length} bytes, got {len(raw)}")
        if not 0 < len(raw) <= max_length:
            raise ValueError(f"must encode 1 to {max_length} bytes")
        return value

    return check


def _credit_code(value: str) -> str:
    try:
        normalised = validate_credit_code(value)
    except InvalidCreditCode as exc:
        raise ValueError(str(exc)) from exc
    if normalised != value:
        # Signed data has one spelling; the identity check compares it byte for byte.
        raise ValueError("unified social credit code must be written in upper case without spaces")
    return value


def _utc_timestamp(value: str) -> str:
    _matching(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "sealed_at")(value)
    datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")  # noqa: DTZ007 - the Z suffix is checked above; month 13 fails here
    return value


LotId = Annotated[str, AfterValidator(_matching(r"[A-Za-z0-9._:-]{1,64}", "lot_id"))]
Sha256Hex = Annotated[str, AfterValidator(_matching(r"[0-9a-f]{64}", "SHA-256 digest (64 lower-case hex digits)"))]
Length = Annotated[int, Field(ge=0, le=MAX_JSON_INT)]
Metadata = Annotated[str, Field(min_length=1, max_length=256)]
ContentKeyB64 = Annotated[str, AfterValidator(_base64_of(KEY_LENGTH))]


class _Strict(BaseModel):
    # strict: a string "5" or a float 5.0 where an integer is signed would make two encodings of one value.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Declared(_Strict):
    """What the bidder's tool declares about where the bid was made: collusion signals (domain §4).

    Self-declared and therefore evidence for supervisors, never proof; null when unknown.
    """

    device_fingerprint: Metadata | None
    document_author: Metadata | None
    tool: Annotated[str, AfterValidator(_matching(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}/[A-Za-z0-9.+_-]{1,32}", "tool"))]


class SignedFields(_Strict):
    """Everything the bidder's signature covers: ``canonical_json`` of this object is the signed message."""

    format: Literal["JCBID1"]
    lot_id: LotId
    bidder_credit_code: Annotated[str, AfterValidator(_credit_code)]
    cipher: Literal["AES-256-GCM"]
    nonce: Annotated[str, AfterValidator(_base64_of(NONCE_LENGTH))]
    tag: Annotated[str, AfterValidator(_base64_of(TAG_LENGTH))]
    ciphertext_sha256: Sha256Hex
    ciphertext_length: Length
    plaintext_sha256: Sha256Hex
    plaintext_length: Length
    sealed_at: Annotated[str, AfterValidator(_utc_timestamp)]
    declared: Declared

    @model_validator(mode="after")
    def _gcm_preserves_length(self) -> Self:
        # GCM is a stream mode and the tag travels in the header, so the two lengths are always equal; a
        # header claiming otherwise comes from a broken tool and could never open.
        if self.ciphertext_length != self.plaintext_length:
            raise ValueError("ciphertext_length must equal plaintext_length (AES-GCM, tag stored separately)")
        return self

    def message(self) -> bytes:
        """The exact bytes the signature is over."""
        return canonical_json(self.model_dump(mode="json"))

    def nonce_bytes(self) -> bytes:
        return b64decode_strict(self.nonce)

    def tag_bytes(self) -> bytes:
        return b64decode_strict(self.tag)


class EnvelopeHeader(_Strict):
    signed: SignedFields
    signature: Annotated[str, AfterValidator(_base64_of(None))]
    certificate: Annotated[str, Field(min_length=1, max_length=MAX_HEADER_LENGTH)]
    chain: Annotated[list[Annotated[str, Field(min_length=1)]], Field(max_length=MAX_CHAIN_CERTIFICATES)]

    def signature_bytes(self) -> bytes:
        return b64decode_strict(self.signature)


def encode_header(header: EnvelopeHeader) -> bytes:
    """Magic, length prefix and canonical header: everything in the envelope before the ciphertext."""
    body = canonical_json(header.model_dump(mode="json"))
    if len(body) > MAX_HEADER_LENGTH:
        raise EnvelopeRejected(
            "header_too_large",
            f"文件头 {len(body)} 字节，超过上限 {MAX_HEADER_LENGTH} 字节（证书链过长？）",
        )
    return MAGIC + len(body).to_bytes(HEADER_LENGTH_BYTES, "big") + body


def _not_an_envelope(start: bytes) -> EnvelopeRejected:
    if not start:
        what = "空文件"
    else:
        what = next((name for prefix, name in _KNOWN_PLAIN_FORMATS if start.startswith(prefix)), "未知格式的文件")
    return EnvelopeRejected(
        "not_an_envelope",
        f"上传的文件不是加密投标文件（缺少 JCBID1 标识），而是{what}。"
        "平台拒收未加密的投标文件，请先用投标文件加密工具（如 jincheng-bidder seal）加密后再上传。",
    )


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(header)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def parse_header(body: bytes) -> EnvelopeHeader:
    """Decode the header bytes (without magic and length prefix), requiring the canonical encoding."""
    try:
        raw: Any = loads_strict(body)
        # Canonical form is required, not just accepted: then the header bytes themselves identify the
        # envelope and no two tools can disagree about what the signature covers.
        canonical = canonical_json(raw)
    except (ValueError, UnicodeError) as exc:
        raise EnvelopeRejected("malformed_header", f"文件头不是有效的 UTF-8 JSON：{exc}") from exc
    if canonical != body:
        raise EnvelopeRejected("malformed_header", "文件头不是规范 JSON（键排序、无空白、UTF-8 直写）")
    if not isinstance(raw, dict):
        raise EnvelopeRejected("malformed_header", "文件头必须是 JSON 对象")
    try:
        return EnvelopeHeader.model_validate(raw)
    except ValidationError as exc:
        raise EnvelopeRejected("malformed_header", f"文件头字段不符合 JCBID1 格式：{_describe(exc)}") from exc


def read_header(stream: BinaryIO) -> tuple[EnvelopeHeader, bytes]:
    """Consume magic, length and header from ``stream``; return the parsed header and its raw bytes.

    Leaves ``stream`` positioned at the first ciphertext byte. Checks format only, not the signature.
    """
    start = read_exact(stream, len(MAGIC))
    if start != MAGIC:
        raise _not_an_envelope(start)
    prefix = read_exact(stream, HEADER_LENGTH_BYTES)
    if len(prefix) != HEADER_LENGTH_BYTES:
        raise EnvelopeRejected("malformed_header", "文件在文件头长度处被截断")
    length = int.from_bytes(prefix, "big")
    if length > MAX_HEADER_LENGTH:
        raise EnvelopeRejected("header_too_large", f"文件头声明 {length} 字节，超过上限 {MAX_HEADER_LENGTH} 字节")
    if length == 0:
        raise EnvelopeRejected("malformed_header", "文件头长度为 0")
    body = read_exact(stream, length)
    if len(body) != length:
        raise EnvelopeRejected("malformed_header", f"文件头被截断：声明 {length} 字节，只有 {len(body)} 字节")
    return parse_header(body), body


def verify_header_signature(header: EnvelopeHeader) -> None:
    """Proof that the holder of the certificate's key signed these fields (no trust decision yet)."""
    try:
        verify_signature(header.certificate.encode(), header.signed.message(), header.signature_bytes())
    except CertificateRejected as exc:
        if exc.reason == "malformed":
            raise EnvelopeRejected(
                "malformed_header", f"文件头中的证书无法读取：{exc.message}", certificate_reason=exc.reason
            ) from exc
        raise EnvelopeRejected(
            "bad_signature", f"投标文件签名验证失败：{exc.message}", certificate_reason=exc.reason
        ) from exc


def verify_header_identity(header: EnvelopeHeader, trust: TrustStore, *, at: datetime) -> CertificateIdentity:
    """Validate the certificate against ``trust`` as of ``at`` and bind it to the declared bidder.

    Rule: the certificate's subject serialNumber (where Chinese CAs put the unified social credit code)
    must equal ``signed.bidder_credit_code`` exactly. Otherwise anyone with any valid certificate could
    seal a bid in another company's name.
    """
    try:
        identity = verify_certificate(header.certificate.encode(), [pem.encode() for pem in header.chain], trust, at=at)
    except CertificateRejected as exc:
        raise EnvelopeRejected(
            "untrusted_certificate", f"签名证书未通过验证：{exc.message}", certificate_reason=exc.reason
        ) from exc
    declared = header.signed.bidder_credit_code
    if identity.subject_serial != declared:
        raise EnvelopeRejected(
            "identity_mismatch",
            f"签名证书的主体序列号（{identity.subject_serial or '无'}）与投标人统一社会信用代码（{declared}）不一致",
        )
    return identity
