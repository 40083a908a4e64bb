"""统一社会信用代码 (unified social credit code), GB 32100-2015.

18 characters from the alphabet 0-9 and A-Z without I, O, Z, S, V. The 18th is a check character:
weights are 3^(i) mod 31 for positions 1..17, and check = 31 - (Σ value·weight mod 31), with 31 read
as 0. The first character is the registration authority, the second the organisation category and
characters 3-8 the administrative region (GB/T 2260).
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class InvalidCreditCode(ValueError):
    """The string is not a valid unified social credit code."""


def check_character(first17: str) -> str:
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(code: str) -> str:
    """Return the normalised (upper-case) code, or raise :class:`InvalidCreditCode` saying why."""
    normalised = code.strip().upper()
    if len(normalised) != 18:
        raise InvalidCreditCode(f"统一社会信用代码应为18位，实际为{len(normalised)}位")
    bad = sorted({ch for ch in normalised if ch not in _VALUE})
    if bad:
        raise InvalidCreditCode(f"统一社会信用代码含有不允许的字符: {''.join(bad)}")
    expected = check_character(normalised[:17])
    if normalised[17] != expected:
        raise InvalidCreditCode(f"统一社会信用代码校验位错误：应为 {expected}")
    return normalised


def make_credit_code(body17: str) -> str:
    """Complete a 17-character body with its check character (for seeds and tests)."""
    if len(body17) != 17 or any(ch not in _VALUE for ch in body17):
        raise InvalidCreditCode("body must be 17 characters of the credit-code alphabet")
    return body17 + check_character(body17)
