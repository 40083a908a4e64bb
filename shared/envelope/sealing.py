"""Sealing: stream the plaintext through AES-256-GCM, sign the header, write the envelope."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

from shared.certificates import CertificateRejected, verify_signature
from shared.envelope.bid_form import read_bid_form
from shared.envelope.codec import b64encode
from shared.envelope.errors import EnvelopeRejected
from shared.envelope.header import (
    CIPHER_NAME,
    FORMAT_NAME,
    KEY_LENGTH,
    NONCE_LENGTH,
    Declared,
    EnvelopeHeader,
    SignedFields,
    encode_header,
)
from shared.envelope.streams import CHUNK_SIZE, iter_chunks

TOOL_NAME = "jincheng-bidder"
TOOL_VERSION = "0.1.0"
DEFAULT_TOOL = f"{TOOL_NAME}/{TOOL_VERSION}"

# A signer takes the canonical signed bytes and returns the signature. A callable rather than a key object
# so that USB-key (UKey) middleware, which never exposes the private key, can plug in.
Signer = Callable[[bytes], bytes]
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def signer_for(key: SigningKey) -> Signer:
    """Sign in the forms :func:`shared.certificates.verify_signature` accepts."""

    def sign(message: bytes) -> bytes:
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(message, ec.ECDSA(hashes.SHA256()))
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return key.sign(message)

    return sign


def load_signing_key(pem: bytes, password: bytes | None = None) -> SigningKey:
    """Load a PEM private key of a type the platform can verify; ``TypeError`` if a password is needed."""
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError(f"{type(key).__name__} keys cannot sign bids (EC, RSA or Ed25519 required)")
    return key


def _subject_serial(certificate_pem: bytes) -> str | None:
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError as exc:
        raise ValueError(f"not a PEM certificate: {exc}") from exc
    values = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _encrypt(plaintext: Path, sink: Path, key: bytes, nonce: bytes, chunk_size: int) -> dict[str, str | int]:
    encryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
    plain_hash, cipher_hash = hashlib.sha256(), hashlib.sha256()
    length = 0
    with plaintext.open("rb") as source, sink.open("wb") as target:
        for chunk in iter_chunks(source, chunk_size):
            plain_hash.update(chunk)
            length += len(chunk)
            encrypted = encryptor.update(chunk)
            cipher_hash.update(encrypted)
            target.write(encrypted)
        # GCM emits no bytes at finalize; kept for the general contract of the API.
        tail = encryptor.finalize()
        cipher_hash.update(tail)
        target.write(tail)
    return {
        "tag": b64encode(encryptor.tag),
        "ciphertext_sha256": cipher_hash.hexdigest(),
        "ciphertext_length": length + len(tail),
        "plaintext_sha256": plain_hash.hexdigest(),
        "plaintext_length": length,
    }


def seal(
    plaintext: Path,
    *,
    out: Path,
    lot_id: str,
    bidder_credit_code: str,
    certificate_pem: bytes,
    signer: Signer,
    chain_pem: Sequence[bytes] = (),
    device_fingerprint: str | None = None,
    document_author: str | None = None,
    tool: str = DEFAULT_TOOL,
    sealed_at: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> tuple[Path, bytes]:
    """Encrypt the plaintext archive at ``plaintext`` into the envelope ``out``; return it and the content key.

    The bid form is validated first and the certificate must name ``bidder_credit_code`` (the platform's
    rules), so a bid that would be refused at upload or be unreadable at opening is never sealed. ``chain_pem``
    holds one certificate per entry. The content key is the bidder's to keep until opening.
    """
    read_bid_form(plaintext)
    serial = _subject_serial(certificate_pem)
    if serial != bidder_credit_code:
        raise EnvelopeRejected(
            "identity_mismatch",
            f"签名证书的主体序列号（{serial or '无'}）与投标人统一社会信用代码（{bidder_credit_code}）不一致",
        )
    when = (sealed_at or datetime.now(UTC)).astimezone(UTC)
    key = os.urandom(KEY_LENGTH)
    nonce = os.urandom(NONCE_LENGTH)
    # The ciphertext goes to a scratch file next to ``out`` because its digest must be signed into the header,
    # which precedes it in the envelope. Same directory: the final copy never crosses file systems.
    fd, scratch_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".ciphertext", dir=out.parent)
    os.close(fd)
    scratch = Path(scratch_name)
    partial = out.with_name(f".{out.name}.part")
    try:
        digests = _encrypt(plaintext, scratch, key, nonce, chunk_size)
        signed = SignedFields.model_validate(
            {
                "format": FORMAT_NAME,
                "lot_id": lot_id,
                "bidder_credit_code": bidder_credit_code,
                "cipher": CIPHER_NAME,
                "nonce": b64encode(nonce),
                **digests,
                "sealed_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "declared": Declared(device_fingerprint=device_fingerprint, document_author=document_author, tool=tool),
            }
        )
        message = signed.message()
        signature = signer(message)
        try:
            verify_signature(certificate_pem, message, signature)
        except CertificateRejected as exc:
            # Caught here rather than at upload: a key/certificate mix-up is the commonest sealing mistake.
            raise ValueError(f"the signing key does not match the certificate: {exc.message}") from exc
        header = EnvelopeHeader(
            signed=signed,
            signature=b64encode(signature),
            certificate=certificate_pem.decode("ascii"),
            chain=[pem.decode("ascii") for pem in chain_pem],
        )
        with partial.open("wb") as target:
            target.write(encode_header(header))
            with scratch.open("rb") as source:
                for chunk in iter_chunks(source, chunk_size):
                    target.write(chunk)
        # Atomic: a crash never leaves a half-written envelope under the name the bidder will upload.
        partial.replace(out)
    finally:
        scratch.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return out, key
