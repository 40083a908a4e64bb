"""Querying the audit trail: search, cursor pages, CSV export, per-project timelines."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from services.supervision.trail import service
from services.supervision.trail.export import csv_chunks
from services.supervision.trail.schemas import EventOut, EventPage, EventQuery, ExportQuery, Timeline, TimelineQuery
from shared.auth import Principal, require
from shared.db import DbSession

router = APIRouter(tags=["audit trail"])
# People only: a machine token, whatever its scopes, is refused (wrong_token_type).
supervisor = require("supervisor", typ="user")


@router.get("/audit/events", response_model=EventPage)
def list_events(
    session: DbSession, query: Annotated[EventQuery, Query()], principal: Principal = Depends(supervisor)
) -> EventPage:
    """Stored audit events matching the filters, oldest first (by `id`), a page at a time.

    To page, pass the answer's `next_after` as `after`; `next_after` is null when nothing more
    matched. Pages never overlap or skip, also while new events arrive: new events only ever
    come after the last page.

    Filters combine with AND; `object_type` and `object_id` go together; `since` (inclusive) and
    `until` (exclusive) bound `occurred_at` and must carry a time zone (`Z` or `+08:00`; encode `+`
    as `%2B` in a URL). A county supervisor always sees its own platform's events only, whatever
    `platform` says; a city supervisor sees every platform, or the one named in `platform`. Every
    event carries `links.inclusion_proof`, the path (relative to this service) of its ledger
    inclusion proof. Bad input answers 422 `validation_error`.
    """
    found = service.search(session, principal, query)
    rows, next_after = service.page(session, found, after=query.after, limit=query.limit)
    return EventPage(events=[service.event_out(e) for e in rows], next_after=next_after)


@router.get(
    "/audit/events.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with a byte order mark."}},
)
def export_events(
    request: Request,
    session: DbSession,
    query: Annotated[ExportQuery, Query()],
    principal: Principal = Depends(supervisor),
) -> StreamingResponse:
    """Every event matching the filters as CSV (UTF-8 with BOM, so Excel shows Chinese), oldest first.

    Same filters and rules as `GET /audit/events`, no paging: the file holds every match stored when the
    export started, streamed as it is read. `after` skips events up to that id (resume an export).
    Columns, in this order (new columns are only ever appended):
    `id, event_id, occurred_at` (UTC), `occurred_at_local` (Asia/Shanghai), `received_at` (UTC),
    `source, delivery_seq, platform, project_id, lot_id, organisation, actor, actor_role, action,
    object_type, object_id, client_ip, device_fingerprint, user_agent, request_id, digest, change`
    (JSON), `inclusion_proof` (path). A cell that would start with `=`, `+`, `-`, `@`, tab or
    carriage return is prefixed with `'` so that no spreadsheet runs it as a formula.
    """
    found = service.up_to_now(session, service.search(session, principal, query))
    return StreamingResponse(
        csv_chunks(request.app.state.session_factory, found, after=query.after),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-events.csv"'},
    )


@router.get("/audit/events/{event_id}", response_model=EventOut)
def get_event(session: DbSession, event_id: uuid.UUID, principal: Principal = Depends(supervisor)) -> EventOut:
    """One stored event by its event id. Another county's event answers 404, as an unknown one does."""
    return service.event_out(service.get_event(session, principal, event_id))


@router.get("/audit/projects/{project_id}/timeline", response_model=Timeline)
def project_timeline(
    session: DbSession,
    project_id: Annotated[str, Path(min_length=1, max_length=64)],
    query: Annotated[TimelineQuery, Query()],
    principal: Principal = Depends(supervisor),
) -> Timeline:
    """The whole history of a project, in the order things happened (ties by `id`), a page at a time.

    Each entry says who (actor, role, organisation) did what (action, object, lot), when
    (`occurred_at` in UTC and `occurred_at_local` in Asia/Shanghai time), from where (client IP,
    device fingerprint, user agent) and in which request, with links to the full event and its
    inclusion proof. Page with `after` = the previous answer's `next_after`.

    A county supervisor sees the project's events on its own platform; a project with none there
    answers 404, as an unknown project does. Events delivered late (a relay outage) take their place
    by occurrence, so one may land before a page already read: re-read from the start to be sure to
    see them, or follow `GET /audit/events`, whose id order only ever grows at the end.
    """
    rows, next_after = service.timeline(session, principal, project_id, after=query.after, limit=query.limit)
    return Timeline(project_id=project_id, entries=[service.timeline_entry(e) for e in rows], next_after=next_after)
