"""End-to-end harness: the four real service processes on a fresh, seeded database, driven over HTTP.

One platform per test session: a new database on the suite's PostgreSQL, every migration, the seed
(demo users, service clients, the county client), two recognised CAs in the portal's trust list, and
``uvicorn`` processes on free localhost ports with fast relay and revocation settings. Tests may stop
and restart one service (:meth:`Platform.kill`, :meth:`Platform.start`). When a test fails, the tail
of every service log is attached to its report.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

import httpx
import pytest
from sqlalchemy import Engine

from services.portal.settings import PortalSettings
from shared.db import PROJECT_ROOT, make_engine, make_session_factory
from shared.settings import SERVICE_NAMES, normalise_database_url
from tests.support import pki
from tools import migrate, seed
from tools.run_platform import Procs, service_env, start_services, stop_services, wait_ready

if TYPE_CHECKING:
    from tests.conftest import DatabaseServer

LOG_TAIL_LINES = 40
READY_TIMEOUT = 60.0
# Fast enough that delivery, backoff after an outage and revocation all happen within a test's polls.
FAST_SETTINGS = {
    "ENVIRONMENT": "test",
    "RELAY_INTERVAL_SECONDS": "0.2",
    "RELAY_MAX_BACKOFF_SECONDS": "1",
    "REVOCATION_CACHE_SECONDS": "0.5",
}


def _command(name: str, port: int) -> list[str]:
    # The same command line tools.run_platform.start_services uses, for restarting one service.
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        f"services.{name}.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]


@dataclass
class Platform:
    env: dict[str, str]
    ports: dict[str, int]
    procs: Procs
    log_dir: Path
    engine: Engine  # direct reads of outboxes and the supervision ledger
    trusted_cas: tuple[pki.IssuedCert, pki.IssuedCert]
    http: httpx.Client

    def url(self, service: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def login(self, username: str, *, audience: list[str] | None = None) -> dict[str, str]:
        """Authorization headers of a seeded user, from a real password login."""
        body: dict[str, object] = {"username": username, "password": seed.DEMO_PASSWORD}
        if audience is not None:
            body["audience"] = audience
        response = self.http.post(self.url("portal", "/auth/login"), json=body)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    # -- process control ---------------------------------------------------------------------------
    def kill(self, name: str) -> None:
        """SIGKILL one service: no graceful shutdown, in-flight requests are cut off."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def start(self, name: str) -> None:
        """Start a stopped service again on the same port with the same environment; wait until ready."""
        if self.procs[name].poll() is None:
            raise RuntimeError(f"{name} is still running")
        with (self.log_dir / f"{name}.log").open("ab") as out:
            self.procs[name] = subprocess.Popen(
                _command(name, self.ports[name]), env=self.env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT
            )
        self.wait_ready([name])

    def restart(self, name: str) -> None:
        self.kill(name)
        self.start(name)

    def wait_ready(self, names: Iterable[str]) -> None:
        names = list(names)
        try:
            wait_ready({n: self.ports[n] for n in names}, {n: self.procs[n] for n in names}, timeout=READY_TIMEOUT)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{self._ready_answers(names)}\n{self.log_tail()}") from None

    def _ready_answers(self, names: list[str]) -> str:
        # /ready says why it is not ready (database down, or migrations behind the code on disk).
        answers = []
        for name in names:
            try:
                response = httpx.get(self.url(name, "/ready"), timeout=2.0)
                answers.append(f"{name} /ready: {response.status_code} {response.text}")
            except httpx.HTTPError as error:
                answers.append(f"{name} /ready: {error!r}")
        return "\n".join(answers)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        parts = []
        for name in SERVICE_NAMES:
            path = self.log_dir / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            tail = "\n".join(text.splitlines()[-lines:])
            parts.append(f"----- {name} ({path}) -----\n{tail}")
        return "\n".join(parts)


PLATFORM_KEY = pytest.StashKey[Platform]()


def _free_ports(count: int) -> list[int]:
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _seed(database_url: str, env: dict[str, str]) -> None:
    # Seed under exactly the environment the processes get, so the service client secrets and the
    # key-encryption secret the seed stores are the ones the processes will present and use.
    with mock.patch.dict(os.environ, env):
        portal = PortalSettings()
        engine = make_engine(normalise_database_url(database_url), pool_size=1)
        try:
            with make_session_factory(engine).begin() as session:
                seed.seed(session, portal)
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def platform(
    database_server: DatabaseServer, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Platform]:
    name = f"jincheng_e2e_{uuid.uuid4().hex[:8]}"
    database_url = database_server.create(name)
    workdir = tmp_path_factory.mktemp("e2e")
    procs: Procs = {}
    engine: Engine | None = None
    http: httpx.Client | None = None
    try:
        migrate.upgrade_all(database_url)
        cas = (pki.make_ca("E2E 甲 CA"), pki.make_ca("E2E 乙 CA"))
        ca_files = []
        for index, ca in enumerate(cas, start=1):
            path = workdir / f"ca{index}.pem"
            path.write_bytes(ca.pem)
            ca_files.append(str(path))

        ports = dict(zip(SERVICE_NAMES, _free_ports(len(SERVICE_NAMES)), strict=True))
        env = service_env(database_url, ports)
        for service in SERVICE_NAMES:
            for field_name, value in FAST_SETTINGS.items():
                env[f"{service.upper()}_{field_name}"] = value
        env["PORTAL_TRUSTED_CA_FILES"] = ",".join(ca_files)
        # Bids are signed with certificates of the same recognised CAs (数字证书互认), and the
        # trading store lives with this session's files, not under the project's var/.
        env["TRADING_TRUSTED_CA_FILES"] = ",".join(ca_files)
        env["TRADING_STORAGE_DIR"] = str(workdir / "blobs")
        _seed(database_url, env)

        procs.update(start_services(env, ports, log_dir=workdir))
        engine = make_engine(normalise_database_url(database_url), pool_size=2)
        http = httpx.Client(timeout=10.0)
        platform = Platform(
            env=env, ports=ports, procs=procs, log_dir=workdir, engine=engine, trusted_cas=cas, http=http
        )
        platform.wait_ready(SERVICE_NAMES)
        request.config.stash[PLATFORM_KEY] = platform
        yield platform
    finally:
        if PLATFORM_KEY in request.config.stash:
            del request.config.stash[PLATFORM_KEY]
        stop_services(procs)
        if http is not None:
            http.close()
        if engine is not None:
            engine.dispose()
        database_server.drop(name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, object]:
    report = yield
    platform = item.config.stash.get(PLATFORM_KEY, None)
    if isinstance(report, pytest.TestReport) and report.failed and platform is not None:
        report.sections.append(("service logs (tail)", platform.log_tail()))
    return report
