"""Ledger fixtures: the service's own key, and for the tamper tests a database of their own.

Tampering needs committed data and a superuser that disables triggers, which the rolled-back
per-test transaction cannot give. A template database is filled once per module through the real
API; each test gets a fresh copy of it (``CREATE DATABASE ... TEMPLATE``, a file copy), so every
test tampers with an intact ledger.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from services.supervision.app import create_app
from services.supervision.ledger.tree_heads import SignedTreeHead
from services.supervision.settings import SupervisionSettings
from shared.auth.deps import Authenticator
from shared.auth.keys import StaticKeySource
from shared.auth.revocations import StaticRevocations
from shared.ed25519_keys import signing_key
from tests.supervision.events import make_event
from tests.support.tokens import TestIssuer
from tools import migrate


@pytest.fixture(scope="session")
def ledger_public_key() -> Ed25519PublicKey:
    """The key the test apps sign with (the development key: tests run with environment=test)."""
    return signing_key(SupervisionSettings(environment="test").ledger_signing_key).public_key()


def supervision_app(engine: Engine, issuer: TestIssuer, **overrides: Any) -> TestClient:
    """The real supervision app on a database of its own (relay off; signer off unless overridden)."""
    settings = SupervisionSettings(
        environment="test",
        relay_enabled=False,
        database_url=engine.url.render_as_string(hide_password=False),
        **{"ledger_signer_enabled": False, **overrides},
    )
    authenticator = Authenticator(
        audience="supervision", keys=StaticKeySource([issuer.jwk]), revocations=StaticRevocations()
    )
    return TestClient(create_app(settings, engine=engine, authenticator=authenticator), raise_server_exceptions=False)


def relay_headers(issuer: TestIssuer, source: str) -> dict[str, str]:
    return issuer.headers(
        sub="relay", roles=[], platform="jincheng", aud="supervision", typ="service", scope=f"audit:ingest:{source}"
    )


def city_supervisor(issuer: TestIssuer) -> dict[str, str]:
    return issuer.headers(sub="sup-city", roles=["supervisor"], platform="jincheng", aud="supervision", typ="user")


@dataclass
class Template:
    name: str
    saved: dict[int, dict[str, Any]]  # tree size -> the signed tree head as GET .../latest answered it
    size: int


# Batches ingested into the template, a tree head signed after each: (source, first seq, last seq).
TEMPLATE_BATCHES = [("trading", 1, 40), ("portal", 1, 25), ("trading", 41, 70), ("expert_pool", 1, 30)]
TEMPLATE_PLATFORMS = ("jincheng", "gaoping", "yangcheng")


@pytest.fixture(scope="module")
def ledger_template(database_server, issuer: TestIssuer) -> Iterator[Template]:
    name = f"jincheng_ledger_tpl_{uuid.uuid4().hex[:8]}"
    url = database_server.create(name)
    migrate.upgrade_all(url, services=("supervision",))
    saved: dict[int, dict[str, Any]] = {}
    engine = create_engine(url)
    with supervision_app(engine, issuer) as client:
        for source, first, last in TEMPLATE_BATCHES:
            events = [
                make_event(source, seq, platform=TEMPLATE_PLATFORMS[seq % 3], change={"n": seq, "src": source})
                for seq in range(first, last + 1)
            ]
            response = client.post("/ingest/events", json={"events": events}, headers=relay_headers(issuer, source))
            assert response.status_code == 200, response.text
            head = client.post("/ledger/tree-heads", headers=city_supervisor(issuer))
            assert head.status_code == 201, head.text
            saved[head.json()["tree_size"]] = head.json()
    engine.dispose()  # a template must have no open connections
    yield Template(name=name, saved=saved, size=max(saved))
    database_server.drop(name)


@pytest.fixture
def ledger_db(database_server, ledger_template: Template) -> Iterator[Engine]:
    """A committed copy of the template ledger, ours to tamper with as superuser."""
    name = f"jincheng_ledger_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}" template "{ledger_template.name}"'))
    admin.dispose()
    engine = create_engine(make_url(database_server.admin_url).set(database=name))
    yield engine
    engine.dispose()
    database_server.drop(name)


@pytest.fixture
def as_superuser(ledger_db: Engine) -> Callable[..., None]:
    """``as_superuser(sql, tables=[...])``: run SQL (one statement or a list) in one transaction, with
    every trigger of ``tables`` (append-only guards and foreign keys alike) disabled meanwhile."""

    def run(statements: str | list[str], params: dict[str, Any] | None = None, tables: tuple[str, ...] = ()) -> None:
        with ledger_db.begin() as conn:
            for table in tables:
                conn.execute(text(f"alter table supervision.{table} disable trigger all"))
            for statement in [statements] if isinstance(statements, str) else statements:
                conn.execute(text(statement), params or {})
            for table in tables:
                conn.execute(text(f"alter table supervision.{table} enable trigger all"))

    return run


def saved_head(template: Template, size: int | None = None) -> SignedTreeHead:
    return SignedTreeHead.from_json(template.saved[size or template.size])
