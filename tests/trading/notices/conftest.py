"""A tender on offer: a project, its lots with documents on offer now, and the helpers to move time.

Time is the database's: tests move a lot's dates relative to ``clock_timestamp()`` with SQL rather
than waiting, since the API rightly refuses deadlines in the past.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from tests.trading.lots.test_router import lot_body
from tests.trading.projects.test_router import AGENCY, TENDEREE, project_body

MAX_DOCUMENT_BYTES = 256 * 1024
PDF = b"%PDF-1.7 tender documents " + "招标文件正文".encode() * 100


@pytest.fixture
def storage_dir(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def trading(make_client, storage_dir: Path) -> TestClient:
    """Trading with its blob store in this test's temporary directory and a small document cap."""
    return make_client("trading", storage_dir=storage_dir, max_document_bytes=MAX_DOCUMENT_BYTES)


def on_offer_lot(**overrides: Any) -> dict[str, Any]:
    """A lot whose tender documents are on offer now and whose deadline is 21 days away."""
    now = datetime.now(UTC)
    return lot_body(
        documents_from=(now - timedelta(days=1)).isoformat(),
        documents_until=(now + timedelta(days=6)).isoformat(),
        bid_deadline=(now + timedelta(days=21)).isoformat(),
        **overrides,
    )


@pytest.fixture
def set_times(connection: Connection) -> Callable[..., None]:
    """``set_times(lot_id, bid_deadline=timedelta(days=-1))``: move a lot's dates relative to the
    database's now (documents_from/until follow so the table's time-order check holds)."""

    def move(
        lot_id: str,
        *,
        bid_deadline: timedelta,
        documents_from: timedelta | None = None,
        documents_until: timedelta | None = None,
    ) -> None:
        until = documents_until if documents_until is not None else min(bid_deadline, timedelta(days=6))
        start = documents_from if documents_from is not None else until - timedelta(days=7)
        connection.execute(
            text(
                "update trading.lots set documents_from = t.now + :f, documents_until = t.now + :u, "
                "bid_deadline = t.now + :d from (select clock_timestamp() as now) t where id = :id"
            ),
            {"f": start, "u": until, "d": bid_deadline, "id": lot_id},
        )

    return move


@dataclass
class Tender:
    """A published notice of a Jincheng project with two lots and one document."""

    client: TestClient
    headers: Callable[..., dict[str, str]]
    project: dict[str, Any]
    lots: list[dict[str, Any]]
    notice: dict[str, Any]
    document: dict[str, Any]
    bidders: dict[str, str] = field(default_factory=dict)

    @property
    def organiser(self) -> dict[str, str]:
        return self.headers("agency", org=AGENCY)

    def bidder(self, name: str = "a", platform: str = "jincheng") -> dict[str, str]:
        org = self.bidders.setdefault(name, str(uuid.uuid4()))
        return self.headers("bidder", org=org, platform=platform, sub=f"bidder-{name}")

    def download(self, name: str = "a", document_id: str | None = None) -> Any:
        response = self.client.get(
            f"/documents/{document_id or self.document['id']}/content", headers=self.bidder(name)
        )
        assert response.status_code == 200, response.text
        return response

    def clarify(self, lot: int = 0, body: str = "第三章技术要求更正", **publish: Any) -> Any:
        draft = self.client.post(
            f"/lots/{self.lots[lot]['id']}/clarifications", json={"body": body}, headers=self.organiser
        )
        assert draft.status_code == 201, draft.text
        return self.client.post(f"/clarifications/{draft.json()['id']}/publish", json=publish, headers=self.organiser)


@pytest.fixture
def draft_notice(trading, user):
    """``draft_notice(lot_count, lot=lot_overrides, **project_overrides)``: a project with lots on
    offer (two by default) and a draft notice of all of them."""

    def make(
        lot_count: int = 2, lot: dict[str, Any] | None = None, **project_overrides: Any
    ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
        organiser = user("agency", org=AGENCY)
        project = trading.post("/projects", json=project_body(**project_overrides), headers=organiser).json()
        lots = []
        for n in range(lot_count):
            response = trading.post(
                f"/projects/{project['id']}/lots",
                json=on_offer_lot(**{"name": f"{n + 1}标段", **(lot or {})}),
                headers=organiser,
            )
            assert response.status_code == 201, response.text
            lots.append(response.json())
        notice = trading.post(
            f"/projects/{project['id']}/notices",
            json={"title": "招标公告", "body": "现对该项目进行公开招标。", "lot_ids": [lot["id"] for lot in lots]},
            headers=organiser,
        )
        assert notice.status_code == 201, notice.text
        return project, lots, notice.json()

    return make


def upload(client: TestClient, path: str, headers: dict[str, str], content: Any = PDF, **params: Any) -> Any:
    params.setdefault("filename", "招标文件.pdf")
    return client.post(path, params=params, content=content, headers={**headers, "Content-Type": "application/pdf"})


@pytest.fixture
def tender(trading, user, draft_notice) -> Tender:
    project, lots, notice = draft_notice()
    organiser = user("agency", org=AGENCY)
    document = upload(trading, f"/notices/{notice['id']}/documents", organiser)
    assert document.status_code == 201, document.text
    published = trading.post(f"/notices/{notice['id']}/publish", headers=organiser)
    assert published.status_code == 200, published.text
    return Tender(trading, user, project, lots, published.json(), document.json())


__all__ = ["AGENCY", "MAX_DOCUMENT_BYTES", "PDF", "TENDEREE", "Tender", "on_offer_lot", "upload"]
