"""Phone numbers must be dialable (draw notifications call them); audit values are masked."""

from __future__ import annotations

import pytest

from services.expert_pool.registry.contact import InvalidPhone, mask_name, mask_phone, normalise_phone


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("13912345678", "13912345678"),
        ("139 1234 5678", "13912345678"),
        ("139-1234-5678", "13912345678"),
        ("+86 139 1234 5678", "13912345678"),
        ("008613912345678", "13912345678"),
        ("0356-2345678", "0356-2345678"),
        ("03562345678", "0356-2345678"),
        ("010-12345678", "010-12345678"),
        ("035-62345678", "035-62345678"),  # the caller's hyphen decides where the area code ends
    ],
)
def test_valid_phones_are_normalised(given, stored):
    assert normalise_phone(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "",
        "12912345678",
        "1391234567",
        "139123456789",
        "2345678",
        "0356-0345678",
        "phone",
        "139１2345678",
        "+1 13912345678",
    ],
)
def test_invalid_phones_are_refused(given):
    with pytest.raises(InvalidPhone):
        normalise_phone(given)


def test_masks():
    assert mask_phone("13912345678") == "139****5678"
    assert mask_phone("0356-2345678") == "035*****5678"
    assert mask_name("张建国") == "张**"
    assert mask_name("欧阳") == "欧*"
