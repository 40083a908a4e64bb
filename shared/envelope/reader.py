"""Server side of an upload: verify the header, stream the ciphertext out while hashing, then check."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from datetime import datetime
from typing import BinaryIO

from shared.certificates import CertificateIdentity, TrustStore
from shared.envelope.errors import EnvelopeRejected
from shared.envelope.header import (
    HEADER_LENGTH_BYTES,
    MAGIC,
    MAX_HEADER_LENGTH,
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
        self.identity: CertificateIdentity = verify_envelope_header(
            self.header,
            trust=trust,
            at=at,
            expected_lot_id=expected_lot_id,
            expected_bidder_credit_code=expected_bidder_credit_code,
        )
        self._counter = CiphertextCounter(self.header.signed)
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


def verify_envelope_header(
    header: EnvelopeHeader,
    *,
    trust: TrustStore,
    at: datetime,
    expected_lot_id: str,
    expected_bidder_credit_code: str | None = None,
) -> CertificateIdentity:
    """Steps 3 and 4 of docs/bid-envelope.md §7 on a parsed header: signature, certificate chain and
    identity, lot, bidder. Returns the verified identity; :class:`EnvelopeRejected` otherwise."""
    # Signature before trust: a tampered header is reported as tampered whatever the CA.
    verify_header_signature(header)
    identity = verify_header_identity(header, trust, at=at)
    signed = header.signed
    if signed.lot_id != expected_lot_id:
        raise EnvelopeRejected("wrong_lot", f"投标文件是为标段 {signed.lot_id} 加密的，不能投到标段 {expected_lot_id}")
    if expected_bidder_credit_code is not None and signed.bidder_credit_code != expected_bidder_credit_code:
        raise EnvelopeRejected(
            "wrong_bidder",
            f"投标文件属于 {signed.bidder_credit_code}，与提交单位 {expected_bidder_credit_code} 不一致",
        )
    return identity


class CiphertextCounter:
    """Hashes and counts ciphertext against the signed digest and length; also used by ``bidder inspect``.

    With ``hashing=False`` it only counts, for a caller whose sink hashes the same bytes anyway (a
    content-addressed store): that digest is then handed to :meth:`check`, and the bytes are hashed
    once instead of twice."""

    def __init__(self, signed: SignedFields, *, hashing: bool = True) -> None:
        self._signed = signed
        self._hash = hashlib.sha256() if hashing else None
        self.length = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self.length += len(chunk)
        limit = self._signed.ciphertext_length
        if self.length > limit:
            raise EnvelopeRejected("length_mismatch", f"密文长于签名中声明的 {limit} 字节")
        if self._hash is not None:
            self._hash.update(chunk)

    def hexdigest(self) -> str:
        if self._hash is None:
            raise RuntimeError("this counter does not hash; its caller's sink has the digest")
        return self._hash.hexdigest()

    def check(self, sha256: str | None = None) -> None:
        """Length and digest against the signed ones; ``sha256`` is the sink's digest of the same
        bytes when this counter does not hash them itself."""
        signed = self._signed
        if self.length != signed.ciphertext_length:
            raise EnvelopeRejected(
                "length_mismatch",
                f"密文长度 {self.length} 字节，签名中声明 {signed.ciphertext_length} 字节（文件不完整？）",
            )
        digest = self.hexdigest() if sha256 is None else sha256
        if digest != signed.ciphertext_sha256:
            raise EnvelopeRejected("digest_mismatch", "密文的 SHA-256 与签名中声明的不一致（文件已损坏或被篡改）")


class EnvelopeFeed:
    """:class:`EnvelopeReader` for a body that is pushed, not pulled: an ``async`` server hands each
    piece of the request to :meth:`feed` as it arrives, on its event loop, without a thread to block in.

    The header (at most 64 KiB) is buffered until it is complete, then parsed and verified exactly as
    :class:`EnvelopeReader` does (same checks, same order, same refusals, docs/bid-envelope.md §7
    steps 1-4); a wrong magic or header length is refused as soon as those bytes are in. From then on
    :meth:`feed` returns the ciphertext part of each piece, counted against the signed length (step 5
    stops at once past it), for the caller to pass to temporary storage; :meth:`check` is the final
    length and digest check. It also hashes everything fed: ``envelope_sha256`` is what
    ``sha256sum bid.jcb`` prints.

    ``hash_ciphertext=False``: the caller's sink hashes the ciphertext itself (a content-addressed
    store) and passes that digest to :meth:`check`, so the bytes are hashed twice, not three times.
    """

    def __init__(
        self,
        *,
        trust: TrustStore,
        at: datetime,
        expected_lot_id: str,
        expected_bidder_credit_code: str | None = None,
        hash_ciphertext: bool = True,
    ) -> None:
        self._trust = trust
        self._at = at
        self._expected_lot_id = expected_lot_id
        self._expected_bidder_credit_code = expected_bidder_credit_code
        self._hash_ciphertext = hash_ciphertext
        self._pending = bytearray()
        self._whole = hashlib.sha256()
        self._counter: CiphertextCounter | None = None
        self.header: EnvelopeHeader | None = None
        self.raw_header = b""
        self.identity: CertificateIdentity | None = None

    @property
    def header_size(self) -> int:
        """Magic, length prefix and header: the bytes before the ciphertext (0 until verified)."""
        return len(MAGIC) + HEADER_LENGTH_BYTES + len(self.raw_header) if self.header is not None else 0

    @property
    def envelope_sha256(self) -> str:
        return self._whole.hexdigest()

    def feed(self, data: bytes) -> memoryview:
        """Take the next piece of the body; return the ciphertext in it (empty while the header is
        still incomplete). :class:`EnvelopeRejected` as soon as the bytes in show a refusal."""
        self._whole.update(data)
        if self._counter is not None:
            ciphertext = memoryview(data)
        else:
            self._pending += data
            ciphertext = self._take_header()
        if self._counter is not None and ciphertext:
            self._counter.update(ciphertext)  # stops at once past the signed length
        return ciphertext

    def _take_header(self) -> memoryview:
        pending = self._pending
        prefix = len(MAGIC) + HEADER_LENGTH_BYTES
        if len(pending) >= len(MAGIC) and pending[: len(MAGIC)] != MAGIC:
            read_header(io.BytesIO(pending))  # raises not_an_envelope, naming what was sent
        if len(pending) < prefix:
            return memoryview(b"")
        length = int.from_bytes(pending[len(MAGIC) : prefix], "big")
        if length > MAX_HEADER_LENGTH or length == 0:
            read_header(io.BytesIO(pending))  # raises header_too_large or malformed_header
        if len(pending) < prefix + length:
            return memoryview(b"")
        # The complete header: parsed by the same function as EnvelopeReader, so the two cannot differ.
        header, raw = read_header(io.BytesIO(pending[: prefix + length]))
        self.identity = verify_envelope_header(
            header,
            trust=self._trust,
            at=self._at,
            expected_lot_id=self._expected_lot_id,
            expected_bidder_credit_code=self._expected_bidder_credit_code,
        )
        self.header, self.raw_header = header, raw
        self._counter = CiphertextCounter(header.signed, hashing=self._hash_ciphertext)
        rest = memoryview(bytes(pending[prefix + length :]))
        self._pending = bytearray()
        return rest

    def end(self) -> None:
        """The body is over: a header still incomplete is refused as :func:`read_header` refuses it."""
        if self.header is None:
            read_header(io.BytesIO(self._pending))
            raise EnvelopeRejected("malformed_header", "文件头不完整")  # pragma: no cover - read_header raised

    def check(self, ciphertext_sha256: str | None = None) -> None:
        """After :meth:`end`: the ciphertext's length and SHA-256 against the signed ones."""
        if self._counter is None:
            raise RuntimeError("check() before the header was read")
        self._counter.check(ciphertext_sha256)
