"""Experts' phone numbers and names: normalised for storage, masked for the audit trail.

Draw notifications call or text the expert, so the number must be dialable: a mainland mobile
number (11 digits starting 13-19) or a landline with its area code (0 + 2-3 digits, then 7-8
digits). Audit events travel to supervision and are kept for years; they carry only masked values.
"""

from __future__ import annotations

import re

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_LANDLINE = re.compile(r"^(0[1-9][0-9]{1,2})-?([1-9][0-9]{6,7})$")


class InvalidPhone(ValueError):
    pass


def normalise_phone(value: str) -> str:
    """``13912345678`` for mobiles, ``0356-2345678`` for landlines; spaces, hyphens and a
    ``+86``/``0086`` prefix are accepted on the way in."""
    compact = re.sub(r"\s", "", value)
    for prefix in ("+86", "0086"):
        if compact.startswith(prefix):
            compact = compact.removeprefix(prefix).lstrip("-")
            break
    digits = compact.replace("-", "")
    if _MOBILE.match(digits):
        return digits
    # A hyphen the caller wrote says where the area code ends (0356-2345678 vs 035-62345678).
    landline = _LANDLINE.match(compact)
    if landline:
        return f"{landline.group(1)}-{landline.group(2)}"
    raise InvalidPhone("联系电话应为11位手机号码或带区号的固定电话（如 0356-2345678）")


def mask_phone(phone: str) -> str:
    """Keep the first three and last four characters: ``139****5678``."""
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:]


def mask_name(name: str) -> str:
    """The first character (usually the surname) only: ``张**``."""
    return name[:1] + "*" * max(len(name) - 1, 1)
