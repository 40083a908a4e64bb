"""Opening (开标解密): the bidder releases the content key and the platform decrypts and checks the bid."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.envelope.codec import b64decode_strict, b64encode, canonical_json, loads_strict
from shared.envelope.errors import EnvelopeRejected
from shared.envelope.header import KEY_LENGTH, ContentKeyB64, LotId, Sha256Hex, SignedFields


class KeyRelease(BaseModel):
    """The document a bidder sends at opening. Not signed: the bidder is logged in with a certificate when
    sending it, and a wrong key cannot produce a plaintext that passes both the GCM tag and the signed
    ``plaintext_sha256``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    lot_id: LotId
    # Named for the envelope it opens; the value is the signed ciphertext_sha256.
    envelope_sha256: Sha256Hex
    content_key: ContentKeyB64

    def to_json(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))


def key_release_for(signed: SignedFields, content_key: bytes) -> KeyRelease:
    return KeyRelease(
        lot_id=signed.lot_id, envelope_sha256=signed.ciphertext_sha256, content_key=b64encode(content_key)
    )


def parse_key_release(data: bytes) -> KeyRelease:
    try:
        return KeyRelease.model_validate(loads_strict(data))
    except (ValueError, UnicodeError) as exc:  # ValidationError is a ValueError
        detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise EnvelopeRejected("wrong_key", f"解密密钥文件格式错误：{detail}") from exc


def content_key_for(release: KeyRelease, signed: SignedFields) -> bytes:
    """The content key, once the release is shown to be meant for this envelope."""
    if release.lot_id != signed.lot_id or release.envelope_sha256 != signed.ciphertext_sha256:
        raise EnvelopeRejected("wrong_key", "该解密密钥不属于这份投标文件（标段或密文摘要不符）")
    return b64decode_strict(release.content_key)


def open_envelope(ciphertext_chunks: Iterable[bytes], signed: SignedFields, content_key: bytes, out: Path) -> Path:
    """Decrypt into ``out`` and return it, only after the GCM tag and ``plaintext_sha256`` both verify.

    Plaintext is written to a side file and renamed at the end, so nothing unauthenticated ever appears
    under ``out``. GCM alone is not key-committing (one ciphertext can be crafted to open under two keys into
    two different bids); the signed ``plaintext_sha256`` is what pins the bid to a single plaintext.
    """
    if len(content_key) != KEY_LENGTH:
        raise EnvelopeRejected("wrong_key", f"解密密钥应为 {KEY_LENGTH} 字节，实际 {len(content_key)} 字节")
    decryptor = Cipher(algorithms.AES(content_key), modes.GCM(signed.nonce_bytes(), signed.tag_bytes())).decryptor()
    digest = hashlib.sha256()
    length = 0
    partial = out.with_name(f".{out.name}.part")
    try:
        with partial.open("wb") as target:
            for chunk in ciphertext_chunks:
                plain = decryptor.update(chunk)
                digest.update(plain)
                length += len(plain)
                target.write(plain)
            try:
                tail = decryptor.finalize()
            except InvalidTag as exc:
                raise EnvelopeRejected("wrong_key", "解密失败：解密密钥不正确，或密文已损坏、被篡改") from exc
            digest.update(tail)
            length += len(tail)
            target.write(tail)
        if length != signed.plaintext_length or digest.hexdigest() != signed.plaintext_sha256:
            raise EnvelopeRejected("plaintext_digest_mismatch", "解密后的内容与签名中的明文摘要不一致")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return out
