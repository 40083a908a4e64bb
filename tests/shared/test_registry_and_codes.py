"""Platform registry (1+4) and unified social credit codes (GB 32100-2015)."""

from __future__ import annotations

import pytest

from shared.credit_code import InvalidCreditCode, check_character, make_credit_code, validate_credit_code
from shared.platforms import CITY_PLATFORM, PLATFORMS, UnknownRegion, can_access, platform_for_region


@pytest.mark.parametrize(
    ("region", "platform"),
    [
        ("140500", "jincheng"),
        ("140502", "jincheng"),
        ("140525", "jincheng"),
        ("140581", "gaoping"),
        ("140522", "yangcheng"),
        ("140524", "lingchuan"),
        ("140521", "qinshui"),
    ],
)
def test_region_maps_to_platform(region, platform):
    assert platform_for_region(region) == platform


def test_unknown_region_is_refused():
    with pytest.raises(UnknownRegion):
        platform_for_region("110000")  # Beijing trades elsewhere


def test_city_sees_all_counties_see_themselves():
    assert PLATFORMS[CITY_PLATFORM].is_city
    for code in PLATFORMS:
        assert can_access("jincheng", code)
        assert can_access(code, code)
    assert not can_access("gaoping", "yangcheng")
    assert not can_access("gaoping", "jincheng")
    assert not can_access("nowhere", "gaoping")


@pytest.mark.parametrize("code", ["91350100M000100Y43", make_credit_code("12140500MB0000001")])
def test_real_codes_validate(code):
    assert validate_credit_code(code) == code
    assert validate_credit_code(code.lower()) == code


def test_check_character_is_computed_per_the_standard():
    assert check_character("91350100M000100Y4") == "3"
    assert make_credit_code("91350100M000100Y4") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("91350100M000100Y4", "18位"),
        ("91350100M000100Y42", "校验位"),
        ("91350100M000100I43", "不允许的字符"),
        ("91350100M000100O43", "不允许的字符"),
        ("", "18位"),
    ],
)
def test_invalid_codes_say_why(code, why):
    with pytest.raises(InvalidCreditCode, match=why):
        validate_credit_code(code)
