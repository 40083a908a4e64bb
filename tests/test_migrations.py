"""Models and migrations agree (``alembic check``) for every service, and downgrades undo upgrades."""

from __future__ import annotations

import uuid

import pytest
from alembic import command

from shared.settings import SERVICE_NAMES
from tools import migrate


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_no_drift(database_url, service):
    command.check(migrate.alembic_config(service, database_url))


def test_downgrade_to_base_and_back(database_server):
    name = f"jincheng_updown_{uuid.uuid4().hex[:8]}"
    url = database_server.create(name)
    try:
        migrate.upgrade_all(url)
        for service in reversed(SERVICE_NAMES):
            command.downgrade(migrate.alembic_config(service, url), "base")
        migrate.upgrade_all(url)
        for service in SERVICE_NAMES:
            command.check(migrate.alembic_config(service, url))
    finally:
        database_server.drop(name)
