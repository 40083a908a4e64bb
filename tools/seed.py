"""Seed a development or test platform: trading centres, demo users (one per role), service
clients whose secrets match each service's settings, and a county sub-platform client.

Idempotent: running it again changes nothing. ``python -m tools.seed`` prints the accounts.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.expert_pool.settings import ExpertPoolSettings
from services.portal.identity.models import Organisation, User
from services.portal.identity.passwords import hash_password
from services.portal.keys.service import ensure_active_key
from services.portal.oauth.models import ApiClient
from services.portal.settings import PortalSettings
from services.supervision.settings import SupervisionSettings
from services.trading.settings import TradingSettings
from shared.credit_code import make_credit_code
from shared.db import make_engine, make_session_factory
from shared.platforms import PLATFORMS
from shared.settings import ServiceSettings

DEMO_PASSWORD = "Jincheng-demo-2026"


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    platform: str
    org_key: str | None


DEMO_USERS = (
    DemoUser("demo-admin", "admin", "jincheng", "centre-jincheng"),
    DemoUser("demo-operator", "operator", "jincheng", "centre-jincheng"),
    DemoUser("demo-supervisor", "supervisor", "jincheng", "supervisor-jincheng"),
    DemoUser("demo-tenderee", "tenderee", "jincheng", "tenderee"),
    DemoUser("demo-agency", "agency", "jincheng", "agency"),
    DemoUser("demo-bidder", "bidder", "jincheng", "bidder"),
    DemoUser("demo-expert", "expert", "jincheng", None),
    DemoUser("gaoping-admin", "admin", "gaoping", "centre-gaoping"),
    DemoUser("gaoping-operator", "operator", "gaoping", "centre-gaoping"),
    DemoUser("gaoping-supervisor", "supervisor", "gaoping", "supervisor-gaoping"),
)

# 17-character bodies (registration authority, category, region code, sequence); the check
# character is computed so the seeds are valid GB 32100 codes.
_ORG_BODIES: dict[str, tuple[str, str, str, str]] = {
    "centre-jincheng": ("12140500MB0000001", "晋城市公共资源交易中心", "trading_centre", "jincheng"),
    "centre-gaoping": ("12140581MB0000002", "高平市公共资源交易中心", "trading_centre", "gaoping"),
    "centre-yangcheng": ("12140522MB0000003", "阳城县公共资源交易中心", "trading_centre", "yangcheng"),
    "centre-lingchuan": ("12140524MB0000004", "陵川县公共资源交易中心", "trading_centre", "lingchuan"),
    "centre-qinshui": ("12140521MB0000005", "沁水县公共资源交易中心", "trading_centre", "qinshui"),
    "supervisor-jincheng": ("11140500MB0000006", "晋城市行政审批服务管理局", "supervisor_department", "jincheng"),
    "supervisor-gaoping": ("11140581MB0000007", "高平市行政审批服务管理局", "supervisor_department", "gaoping"),
    "tenderee": ("12140502MB0000008", "晋城市城区示范招标人", "tenderee", "jincheng"),
    "agency": ("91140500MA0000009", "晋城示范招标代理有限公司", "agency", "jincheng"),
    "bidder": ("91140500MA0000010", "晋城示范建设工程有限公司", "bidder", "jincheng"),
}

SERVICE_SCOPES: dict[str, list[str]] = {
    "portal": ["audit:ingest:portal"],
    "trading": ["audit:ingest:trading", "credit:read", "experts:draw"],
    "expert_pool": ["audit:ingest:expert_pool", "credit:read", "trading:read", "trading:evaluation"],
    "supervision": ["audit:ingest:supervision", "trading:suspend", "trading:read"],
}
COUNTY_CLIENT_ID = "gaoping-subplatform"
COUNTY_CLIENT_SECRET = "dev-insecure-gaoping-subplatform-secret"


def _service_settings() -> list[ServiceSettings]:
    return [PortalSettings(), TradingSettings(), ExpertPoolSettings(), SupervisionSettings()]


def seed(session: Session, portal: PortalSettings) -> None:
    ensure_active_key(session, portal.key_encryption_secret)
    orgs: dict[str, Organisation] = {}
    for key, (body, name, org_type, platform) in _ORG_BODIES.items():
        code = make_credit_code(body)
        org = session.scalars(select(Organisation).where(Organisation.credit_code == code)).first()
        if org is None:
            org = Organisation(name=name, credit_code=code, org_type=org_type, platform=platform)
            session.add(org)
            session.flush()
        orgs[key] = org
    for demo in DEMO_USERS:
        if session.scalars(select(User).where(User.username == demo.username)).first() is None:
            session.add(
                User(
                    username=demo.username,
                    display_name=demo.username,
                    roles=[demo.role],
                    platform=demo.platform,
                    password_hash=hash_password(DEMO_PASSWORD),
                    organisation_id=orgs[demo.org_key].id if demo.org_key else None,
                )
            )
    for settings in _service_settings():
        _ensure_client(
            session,
            settings.client_id,
            f"{settings.service_name} service",
            "service",
            SERVICE_SCOPES[settings.service_name],
            "jincheng",
            settings.client_secret,
        )
    _ensure_client(
        session,
        COUNTY_CLIENT_ID,
        "高平市分平台系统",
        "county_platform",
        ["trading:read"],
        "gaoping",
        COUNTY_CLIENT_SECRET,
    )
    session.flush()


def _ensure_client(
    session: Session, client_id: str, name: str, kind: str, scopes: list[str], platform: str, secret: str
) -> None:
    client = session.get(ApiClient, client_id)
    if client is None:
        session.add(
            ApiClient(
                client_id=client_id,
                name=name,
                kind=kind,
                scopes=scopes,
                platform=platform,
                secret_hash=hash_password(secret),
            )
        )
    else:
        client.scopes = scopes


def main() -> int:
    portal = PortalSettings()
    engine = make_engine(portal.sqlalchemy_url(), pool_size=1)
    with make_session_factory(engine).begin() as session:
        seed(session, portal)
    engine.dispose()
    print(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
    for demo in DEMO_USERS:
        print(f"  {demo.username:<20} role={demo.role:<11} platform={demo.platform} ({PLATFORMS[demo.platform].name})")
    print(f"County sub-platform client: {COUNTY_CLIENT_ID} / {COUNTY_CLIENT_SECRET} (scope trading:read)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
