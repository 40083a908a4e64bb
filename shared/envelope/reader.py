"""Server side of an upload: verify the header, stream the ciphertext out while hashing, then check."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import BinaryIO

from shared.certificates import CertificateIdentity, TrustStore
from shared.envelope.errors import EnvelopeRejected
from shared.envelope.header import (
    EnvelopeHeader,
    SignedFields,
    read_header,
    verify_header_identity,
    verify_header_signature,
)
from shared.envelope.streams import CHUNK_SIZE, iter_chunks


class EnvelopeReader:
    """Reads one envelope from ``stream``; the constructor refuses anything but a signed, trusted header.

    Usage: ``reader = EnvelopeReader(...)``, ``reader.copy_ciphertext(store.write)``, ``reader.check()``.
    The sink sees ciphertext before ``check()`` has passed, so it must write somewhere that is discarded
    on rejection (a temporary object), never straight to the accepted store.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        trust: TrustStore,
        at: datetime,
        expected_lot_id: str,
        expected_bidder_credit_code: str | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        """``at`` is the acceptance time (the database clock), not the bidder's ``sealed_at`` claim.

        ``expected_bidder_credit_code`` is the uploading organisation's code, when the caller knows it: an
        envelope validly signed by company A must not be submitted from company B's account.
        """
        self._stream = stream
        self._chunk_size = chunk_size
        self.header: EnvelopeHeader
        self.header, self.raw_header = read_header(stream)
        # Signature before trust: a tampered header is reported as tampered whatever the CA.
        verify_header_signature(self.header)
        self.identity: CertificateIdentity = verify_header_identity(self.header, trust, at=at)
        signed = self.header.signed
        if signed.lot_id != expected_lot_id:
            raise EnvelopeRejected(
                "wrong_lot", f"投标文件是为标段 {signed.lot_id} 加密的，不能投到标段 {expected_lot_id}"
            )
        if expected_bidder_credit_code is not None and signed.bidder_credit_code != expected_bidder_credit_code:
            raise EnvelopeRejected(
                "wrong_bidder",
                f"投标文件属于 {signed.bidder_credit_code}，与提交单位 {expected_bidder_credit_code} 不一致",
            )
        self._counter = CiphertextCounter(signed)
        self._consumed = False

    @property
    def signed(self) -> SignedFields:
        return self.header.signed

    def copy_ciphertext(self, sink: Callable[[bytes], object]) -> int:
        """Pass the ciphertext to ``sink`` chunk by chunk while hashing and counting; return its length.

        Stops as soon as the stream runs past the signed length, so an oversized upload is not read to its end.
        """
        if self._consumed:
            raise RuntimeError("the ciphertext has already been consumed")
        self._consumed = True
        for chunk in iter_chunks(self._stream, self._chunk_size):
            self._counter.update(chunk)
            sink(chunk)
        return self._counter.length

    def check(self) -> None:
        """Compare what was streamed with the signed length and SHA-256; raise if either differs."""
        if not self._consumed:
            raise RuntimeError("check() before copy_ciphertext() has consumed the stream")
        self._counter.check()

    @property
    def ciphertext_sha256(self) -> str:
        """The digest of what was streamed (equal to the signed one once ``check()`` has passed)."""
        return self._counter.hexdigest()


class CiphertextCounter:
    """Hashes and counts ciphertext against the signed digest and length; also used by ``bidder inspect``."""

    def __init__(self, signed: SignedFields) -> None:
        self._signed = signed
        self._hash = hashlib.sha256()
        self.length = 0

    def update(self, chunk: bytes) -> None:
        self.length += len(chunk)
        limit = self._signed.ciphertext_length
        if self.length > limit:
            raise EnvelopeRejected("length_mismatch", f"密文长于签名中声明的 {limit} 字节")
        self._hash.update(chunk)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def check(self) -> None:
        signed = self._signed
        if self.length != signed.ciphertext_length:
            raise EnvelopeRejected(
                "length_mismatch",
                f"密文长度 {self.length} 字节，签名中声明 {signed.ciphertext_length} 字节（文件不完整？）",
            )
        if self._hash.hexdigest() != signed.ciphertext_sha256:
            raise EnvelopeRejected("digest_mismatch", "密文的 SHA-256 与签名中声明的不一致（文件已损坏或被篡改）")
