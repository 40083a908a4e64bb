"""Resident ID numbers (公民身份号码, GB 11643-1999): validation, masking, encryption at rest.

An ID number is personal information of the most sensitive kind a registry holds, so the plaintext
lives only in memory while a request is served. At rest there are three derived values:

- ``id_number_ciphertext``: AES-256-GCM under a key derived from ``EXPERT_POOL_ID_NUMBER_KEY``,
  with a fresh 96-bit nonce per encryption and the expert's id as associated data, so a ciphertext
  copied onto another expert's row no longer decrypts (rows cannot be swapped unnoticed);
- ``id_number_hmac``: HMAC-SHA256 under a second key derived from the same setting, unique in the
  table, so one person cannot be registered twice without the number ever being stored in clear;
- ``id_number_masked``: what people see, first four and last four characters.

The two keys come from one setting by HKDF with distinct labels: the look-up key is never the
encryption key, and leaking one derived key says nothing about the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import uuid
from datetime import date
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.settings import DEV_SECRET_PREFIX

ID_NUMBER_LENGTH = 18
# ISO 7064 MOD 11-2 as GB 11643-1999 applies it: weight of position i (1-based, left to right) is
# 2^(18-i) mod 11; the check character is the one that makes the weighted sum ≡ 1 (mod 11).
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARACTERS = "10X98765432"
# First two digits: a province-level code of GB/T 2260 (83 is used by residence permits of Taiwan
# residents, 81/82 by those of Hong Kong and Macao residents).
_PROVINCES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43"}
    | {"44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83"}
)

KEY_SIZE = 32
NONCE_SIZE = 12
# First byte of every stored ciphertext: the format (and, with rotation, the key) it was made with.
FORMAT_V1 = b"\x01"
_ENCRYPTION_LABEL = b"jincheng expert_pool id-number aes-256-gcm v1"
_LOOKUP_LABEL = b"jincheng expert_pool id-number hmac-sha256 v1"
_AAD_PREFIX = b"jincheng expert_pool id-number v1 expert:"


class InvalidIdNumber(ValueError):
    """Not a valid resident ID number. The message never contains the number itself."""


class IdNumberDecryptionError(Exception):
    """A stored ciphertext did not decrypt: wrong key, tampered bytes, or another expert's row."""


def check_character(first17: str) -> str:
    total = sum(int(ch) * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def validate_id_number(value: str) -> str:
    """The normalised number (upper-case ``X``), or :class:`InvalidIdNumber` saying what is wrong."""
    number = value.strip().upper()
    if len(number) != ID_NUMBER_LENGTH:
        raise InvalidIdNumber(f"身份证号码应为18位，实际为{len(number)}位")
    if not number[:17].isascii() or not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise InvalidIdNumber("身份证号码前17位应为数字，第18位为数字或X")
    if number[:2] not in _PROVINCES:
        raise InvalidIdNumber("身份证号码的地址码不是有效的省级行政区划代码")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber("身份证号码中的出生日期无效") from None
    if born.year < 1900:
        raise InvalidIdNumber("身份证号码中的出生日期无效")
    if number[17] != check_character(number[:17]):
        raise InvalidIdNumber("身份证号码校验位错误")
    return number


def mask_id_number(number: str) -> str:
    """First four (the province and city of issue) and last four characters: enough for a person
    to recognise their own number, too little to reconstruct it."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def master_key_from_setting(value: str) -> bytes:
    """32 bytes from ``EXPERT_POOL_ID_NUMBER_KEY``: base64 of 32 random bytes in deployments; a
    public ``dev-insecure-…`` string's SHA-256 in development (production settings refuse it)."""
    if value.startswith(DEV_SECRET_PREFIX):
        return hashlib.sha256(value.encode()).digest()
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("EXPERT_POOL_ID_NUMBER_KEY must be base64 of 32 random bytes") from None
    if len(key) != KEY_SIZE:
        raise ValueError(f"EXPERT_POOL_ID_NUMBER_KEY must decode to {KEY_SIZE} bytes, got {len(key)}")
    return key


def _derive(master: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=label).derive(master)


def _aad(expert_id: uuid.UUID) -> bytes:
    return _AAD_PREFIX + expert_id.bytes


class IdNumberCipher:
    """Seal, open and hash ID numbers under keys derived from one setting."""

    def __init__(self, setting: str) -> None:
        master = master_key_from_setting(setting)
        self._aead = AESGCM(_derive(master, _ENCRYPTION_LABEL))
        self._lookup_key = _derive(master, _LOOKUP_LABEL)

    def seal(self, number: str, expert_id: uuid.UUID) -> bytes:
        """``version ‖ nonce ‖ ciphertext ‖ tag``, bound to ``expert_id``. The nonce is random per
        call: GCM with a repeated nonce under one key would leak the XOR of two plaintexts."""
        nonce = os.urandom(NONCE_SIZE)
        return FORMAT_V1 + nonce + self._aead.encrypt(nonce, number.encode("ascii"), _aad(expert_id))

    def open(self, sealed: bytes, expert_id: uuid.UUID) -> str:
        if len(sealed) < 1 + NONCE_SIZE + 16 or sealed[:1] != FORMAT_V1:
            raise IdNumberDecryptionError("unknown ciphertext format")
        nonce, body = sealed[1 : 1 + NONCE_SIZE], sealed[1 + NONCE_SIZE :]
        try:
            return self._aead.decrypt(nonce, body, _aad(expert_id)).decode("ascii")
        except InvalidTag:
            raise IdNumberDecryptionError("ciphertext does not authenticate for this expert and key") from None

    def lookup_hash(self, number: str) -> str:
        """The keyed hash stored in ``id_number_hmac`` (hex). Keyed, because the space of ID numbers
        is small enough (birth dates × sequence numbers) that a plain hash is reversed by brute force."""
        return hmac.new(self._lookup_key, number.encode("ascii"), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4)
def cipher_for(setting: str) -> IdNumberCipher:
    """One cipher per key setting for the process (key derivation is not free per request)."""
    return IdNumberCipher(setting)
