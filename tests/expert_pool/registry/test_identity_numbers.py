"""ID numbers: GB 11643-1999 validation, masking, and the encryption and keyed hash at rest."""

from __future__ import annotations

import base64
import hashlib
import uuid

import pytest

from services.expert_pool.registry.identity_numbers import (
    NONCE_SIZE,
    IdNumberCipher,
    IdNumberDecryptionError,
    InvalidIdNumber,
    mask_id_number,
    master_key_from_setting,
    validate_id_number,
)
from services.expert_pool.settings import DEV_ID_NUMBER_KEY
from tests.expert_pool.factories import make_id_number

# The standard's own example, and two Jincheng numbers with check characters worked by hand.
SPECIMENS = ["11010519491231002X", "140502198001010014", "140581197203150024"]


def _other_key() -> str:
    return base64.b64encode(bytes(range(32))).decode()


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("number", SPECIMENS)
def test_specimen_numbers_are_valid(number):
    assert validate_id_number(number) == number


def test_lower_case_x_and_spaces_are_normalised():
    assert validate_id_number(" 11010519491231002x ") == "11010519491231002X"


def test_factory_numbers_are_valid_and_distinct():
    numbers = [make_id_number(n) for n in range(0, 3_000_000, 997)]
    assert all(validate_id_number(n) == n for n in numbers)
    assert len(set(numbers)) == len(numbers)
    assert make_id_number(5, region="140581").startswith("140581")


def test_every_wrong_check_character_is_refused():
    good = make_id_number(42)
    for ch in "0123456789X":
        if ch != good[-1]:
            with pytest.raises(InvalidIdNumber, match="校验位"):
                validate_id_number(good[:-1] + ch)


def test_one_changed_digit_is_caught_by_the_check_character():
    good = make_id_number(1234)
    for position in range(17):
        digit = str((int(good[position]) + 1) % 10)
        changed = good[:position] + digit + good[position + 1 :]
        # Either the date or the province turns invalid, or the check character no longer matches.
        with pytest.raises(InvalidIdNumber):
            validate_id_number(changed)


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("11010519491231002", "18位"),
        ("11010519491231002XX", "18位"),
        ("", "18位"),
        ("1101051949123100AX", "数字"),
        ("11010519491231002Y", "数字"),
        ("１１０１０５１９４９１２３１００２X", "数字"),  # full-width digits are digits to str.isdigit
        ("99010519491231002X", "地址码"),
        ("110105194913310020", "出生日期"),  # month 13
        ("110105194902300020", "出生日期"),  # 30 February
        ("110105180001010020", "出生日期"),  # before 1900
    ],
)
def test_malformed_numbers_are_refused_without_echoing_them(number, why):
    with pytest.raises(InvalidIdNumber, match=why) as caught:
        validate_id_number(number)
    if number:
        assert number not in str(caught.value)


def test_mask_keeps_four_and_four():
    assert mask_id_number("140502198001010014") == "1405**********0014"
    assert len(mask_id_number(make_id_number(7))) == 18


# --- keys ----------------------------------------------------------------------------------------


def test_development_key_is_the_sha256_of_the_public_string():
    assert master_key_from_setting(DEV_ID_NUMBER_KEY) == hashlib.sha256(DEV_ID_NUMBER_KEY.encode()).digest()


def test_deployment_key_is_base64_of_32_bytes():
    assert master_key_from_setting(_other_key()) == bytes(range(32))
    with pytest.raises(ValueError, match="32 bytes"):
        master_key_from_setting(base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="base64"):
        master_key_from_setting("not base64 at all!")


# --- encryption ----------------------------------------------------------------------------------


def test_round_trip_and_no_plaintext_in_the_ciphertext():
    cipher = IdNumberCipher(DEV_ID_NUMBER_KEY)
    number, expert_id = make_id_number(9), uuid.uuid4()
    sealed = cipher.seal(number, expert_id)
    assert cipher.open(sealed, expert_id) == number
    assert number.encode() not in sealed
    # version byte, 12-byte nonce, 18 bytes of ciphertext, 16-byte tag
    assert len(sealed) == 1 + NONCE_SIZE + 18 + 16


def test_nonce_is_fresh_for_every_encryption():
    cipher = IdNumberCipher(DEV_ID_NUMBER_KEY)
    number, expert_id = make_id_number(9), uuid.uuid4()
    sealed = [cipher.seal(number, expert_id) for _ in range(200)]
    assert len({s[1 : 1 + NONCE_SIZE] for s in sealed}) == 200
    assert len(set(sealed)) == 200


def test_wrong_key_fails():
    number, expert_id = make_id_number(9), uuid.uuid4()
    sealed = IdNumberCipher(DEV_ID_NUMBER_KEY).seal(number, expert_id)
    with pytest.raises(IdNumberDecryptionError):
        IdNumberCipher(_other_key()).open(sealed, expert_id)


def test_every_tampered_byte_fails():
    cipher = IdNumberCipher(DEV_ID_NUMBER_KEY)
    expert_id = uuid.uuid4()
    sealed = cipher.seal(make_id_number(9), expert_id)
    for position in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(IdNumberDecryptionError):
            cipher.open(bytes(tampered), expert_id)
    with pytest.raises(IdNumberDecryptionError):
        cipher.open(sealed[:-1], expert_id)
    with pytest.raises(IdNumberDecryptionError):
        cipher.open(b"", expert_id)


def test_ciphertext_is_bound_to_its_expert_so_rows_cannot_be_swapped():
    cipher = IdNumberCipher(DEV_ID_NUMBER_KEY)
    first, second = uuid.uuid4(), uuid.uuid4()
    sealed_first = cipher.seal(make_id_number(1), first)
    sealed_second = cipher.seal(make_id_number(2), second)
    with pytest.raises(IdNumberDecryptionError):
        cipher.open(sealed_first, second)
    with pytest.raises(IdNumberDecryptionError):
        cipher.open(sealed_second, first)


# --- the look-up hash ----------------------------------------------------------------------------


def test_lookup_hash_is_deterministic_keyed_and_not_a_plain_hash():
    number = make_id_number(3)
    dev = IdNumberCipher(DEV_ID_NUMBER_KEY)
    other = IdNumberCipher(_other_key())
    assert dev.lookup_hash(number) == dev.lookup_hash(number)
    assert len(dev.lookup_hash(number)) == 64
    assert dev.lookup_hash(number) != dev.lookup_hash(make_id_number(4))
    assert dev.lookup_hash(number) != other.lookup_hash(number)
    assert dev.lookup_hash(number) != hashlib.sha256(number.encode()).hexdigest()


def test_lookup_key_is_not_the_encryption_key():
    # Knowing the HMAC key must not decrypt: derive both and compare through behaviour: an AES-GCM
    # cipher keyed with the HMAC key cannot open what the real cipher sealed.
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    cipher = IdNumberCipher(DEV_ID_NUMBER_KEY)
    expert_id = uuid.uuid4()
    sealed = cipher.seal(make_id_number(5), expert_id)
    lookup_key = cipher._lookup_key
    with pytest.raises(InvalidTag):
        AESGCM(lookup_key).decrypt(
            sealed[1 : 1 + NONCE_SIZE],
            sealed[1 + NONCE_SIZE :],
            b"jincheng expert_pool id-number v1 expert:" + expert_id.bytes,
        )
    assert lookup_key != master_key_from_setting(DEV_ID_NUMBER_KEY)
