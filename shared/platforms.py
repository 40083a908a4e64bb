"""The 1+4 platform registry (市县一体): one city platform and four county sub-platforms.

Region codes are GB/T 2260. Projects of 城区, 泽州县 and the development zone trade on the city
platform; each county-level region trades on its own sub-platform.
"""

from __future__ import annotations

from dataclasses import dataclass

CITY_PLATFORM = "jincheng"

# The development zone (晋城经济技术开发区) has no GB/T 2260 code of its own; the city assigns it this
# functional code, which is configurable data rather than law.
DEVELOPMENT_ZONE_REGION = "140571"


@dataclass(frozen=True)
class Platform:
    code: str
    name: str
    is_city: bool
    regions: tuple[str, ...]


PLATFORMS: dict[str, Platform] = {
    p.code: p
    for p in (
        Platform("jincheng", "晋城市公共资源交易中心", True, ("140500", "140502", "140525", DEVELOPMENT_ZONE_REGION)),
        Platform("gaoping", "高平市分平台", False, ("140581",)),
        Platform("yangcheng", "阳城县分平台", False, ("140522",)),
        Platform("lingchuan", "陵川县分平台", False, ("140524",)),
        Platform("qinshui", "沁水县分平台", False, ("140521",)),
    )
}

REGION_NAMES: dict[str, str] = {
    "140500": "晋城市",
    "140502": "城区",
    "140525": "泽州县",
    DEVELOPMENT_ZONE_REGION: "晋城经济技术开发区",
    "140581": "高平市",
    "140522": "阳城县",
    "140524": "陵川县",
    "140521": "沁水县",
}

_REGION_TO_PLATFORM = {region: p.code for p in PLATFORMS.values() for region in p.regions}


class UnknownRegion(ValueError):
    """The region is not one Jincheng's platforms serve."""


def is_known_platform(code: str) -> bool:
    return code in PLATFORMS


def platform_for_region(region_code: str) -> str:
    """The platform a project in ``region_code`` must trade on (一个平台管交易)."""
    try:
        return _REGION_TO_PLATFORM[region_code]
    except KeyError:
        raise UnknownRegion(f"region {region_code!r} is not served by any Jincheng platform") from None


def can_access(principal_platform: str, object_platform: str) -> bool:
    """City principals act across all platforms; county principals only within their own."""
    if principal_platform == object_platform:
        return True
    principal = PLATFORMS.get(principal_platform)
    return principal is not None and principal.is_city
