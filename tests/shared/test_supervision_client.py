"""SupervisionClient's credit calls: typed answers, and refusal (never "clean") when supervision
cannot answer. The transport is faked with httpx.MockTransport; the router tests check the other
side of the same contract against the real app."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from shared.clients.base import ServiceCallError
from shared.clients.supervision import SupervisionClient
from shared.contracts.credit import CreditSubject
from shared.credit_code import make_credit_code
from shared.errors import DependencyUnavailable

ORG = make_credit_code("91140581000000001")
OTHER = make_credit_code("91140581000000002")
EXPERT = "6f1c2d3e-4b5a-4c6d-8e7f-901234567890"
ON = date(2026, 6, 1)

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    # the base client's back-off between retries; the retries themselves still happen
    monkeypatch.setattr("shared.clients.base.time.sleep", lambda _seconds: None)


def _client(handler: Handler, calls: list[httpx.Request]) -> SupervisionClient:
    def recording(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return handler(request)

    return SupervisionClient(
        "http://supervision", transport=httpx.MockTransport(recording), retries=2, token_provider=lambda: "svc-token"
    )


def _status(
    subject_id: str = ORG, kind: str = "organisation", *, banned: bool = False, on: date = ON
) -> dict[str, Any]:
    active = [
        {
            "id": 7,
            "platform": "gaoping",
            "law": "government_procurement",
            "department": "高平市财政局",
            "decision_number": "高财购处〔2026〕3号",
            "decided_on": "2026-02-20",
            "ban_start": "2026-03-01",
            "ban_end": "2027-02-28",
        }
    ]
    return {
        "subject_kind": kind,
        "subject_id": subject_id,
        "on": on.isoformat(),
        "status": "banned" if banned else "clean",
        "has_records": banned,
        "active_records": active if banned else [],
    }


def _error(status: int, code: str = "boom") -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": "m", "details": None}})


# -- answers --------------------------------------------------------------------------------------


def test_credit_status_asks_with_the_service_token_and_decodes_the_contract():
    calls: list[httpx.Request] = []
    client = _client(lambda _r: httpx.Response(200, json=_status(banned=True)), calls)

    status = client.credit_status("organisation", ORG.lower(), on=ON)

    assert status.banned and status.status == "banned"
    assert [(r.id, r.platform, r.ban_end) for r in status.active_records] == [(7, "gaoping", date(2027, 2, 28))]
    [request] = calls
    assert (request.method, request.url.path) == ("GET", "/credit/status")
    assert dict(request.url.params) == {"subject_kind": "organisation", "subject_id": ORG, "on": "2026-06-01"}
    assert request.headers["authorization"] == "Bearer svc-token"
    assert request.headers["x-request-id"]


def test_credit_status_without_a_date_lets_supervision_pick_today():
    calls: list[httpx.Request] = []
    client = _client(lambda _r: httpx.Response(200, json=_status(EXPERT, "expert", on=date(2026, 11, 29))), calls)
    status = client.credit_status("expert", EXPERT.upper())
    assert (status.subject_id, status.on, status.banned) == (EXPERT, date(2026, 11, 29), False)
    assert "on" not in calls[0].url.params


def test_batch_posts_the_subjects_and_returns_results_in_order():
    calls: list[httpx.Request] = []
    client = _client(
        lambda _r: httpx.Response(200, json={"on": "2026-06-01", "results": [_status(OTHER), _status(banned=True)]}),
        calls,
    )
    subjects = [
        CreditSubject(subject_kind="organisation", subject_id=OTHER),
        CreditSubject(subject_kind="organisation", subject_id=ORG),
    ]
    batch = client.credit_status_batch(subjects, on=ON)
    assert [r.banned for r in batch.results] == [False, True]
    [request] = calls
    assert (request.method, request.url.path) == ("POST", "/credit/status:batch")
    assert json.loads(request.content) == {
        "on": "2026-06-01",
        "subjects": [
            {"subject_kind": "organisation", "subject_id": OTHER},
            {"subject_kind": "organisation", "subject_id": ORG},
        ],
    }


def test_an_invalid_subject_is_refused_before_any_call():
    calls: list[httpx.Request] = []
    client = _client(lambda _r: httpx.Response(200, json=_status()), calls)
    with pytest.raises(ValidationError):
        client.credit_status("organisation", "91140581000000000X")
    with pytest.raises(ValidationError):
        client.credit_status_batch([], on=ON)
    assert calls == []


# -- supervision cannot answer: refuse, never "clean" ----------------------------------------------


def test_supervision_down_raises_dependency_unavailable_after_retrying():
    calls: list[httpx.Request] = []

    def down(_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    client = _client(down, calls)
    with pytest.raises(DependencyUnavailable) as single:
        client.credit_status("organisation", ORG, on=ON)
    assert single.value.status_code == 503 and single.value.code == "dependency_unavailable"
    assert len(calls) == 3  # a GET is retried
    calls.clear()
    with pytest.raises(DependencyUnavailable):
        client.credit_status_batch([CreditSubject(subject_kind="organisation", subject_id=ORG)], on=ON)
    assert len(calls) == 3  # the batch is a read, marked idempotent, so it is retried too


def test_timeouts_raise_dependency_unavailable():
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(DependencyUnavailable):
        _client(slow, []).credit_status("organisation", ORG)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_raise_dependency_unavailable(status):
    calls: list[httpx.Request] = []
    client = _client(lambda _r: _error(status), calls)
    with pytest.raises(DependencyUnavailable) as refused:
        client.credit_status("organisation", ORG, on=ON)
    assert refused.value.details["status"] == status
    with pytest.raises(DependencyUnavailable):
        client.credit_status_batch([CreditSubject(subject_kind="organisation", subject_id=ORG)], on=ON)


def test_a_server_error_without_our_body_raises_dependency_unavailable():
    client = _client(lambda _r: httpx.Response(500, text="<html>gateway</html>"), [])
    with pytest.raises(DependencyUnavailable):
        client.credit_status("organisation", ORG)


def test_a_transient_503_is_retried_and_the_answer_used():
    answers = iter([_error(503, "not_ready"), httpx.Response(200, json={"on": "2026-06-01", "results": [_status()]})])
    calls: list[httpx.Request] = []
    client = _client(lambda _r: next(answers), calls)
    batch = client.credit_status_batch([CreditSubject(subject_kind="organisation", subject_id=ORG)], on=ON)
    assert batch.results[0].status == "clean" and len(calls) == 2


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"status": "clean"},
        {**_status(), "status": "unknown"},
        {**_status(), "active_records": _status(banned=True)["active_records"]},  # "clean" yet listing a ban
        {**_status(banned=True), "active_records": []},  # "banned" with nothing in force
        _status(OTHER),  # about someone else
        _status(on=date(2026, 6, 2)),  # about another day
    ],
)
def test_an_unusable_answer_is_never_read_as_clean(body):
    client = _client(lambda _r: httpx.Response(200, json=body), [])
    with pytest.raises(DependencyUnavailable):
        client.credit_status("organisation", ORG, on=ON)


@pytest.mark.parametrize(
    "results",
    [
        [],  # nothing answered
        [_status(ORG)],  # one of two
        [_status(ORG), _status(OTHER)],  # swapped
        [_status(OTHER), _status(ORG, on=date(2026, 6, 2))],  # one about another day
    ],
)
def test_a_batch_answer_that_does_not_match_the_question_is_refused(results):
    client = _client(lambda _r: httpx.Response(200, json={"on": "2026-06-01", "results": results}), [])
    subjects = [
        CreditSubject(subject_kind="organisation", subject_id=OTHER),
        CreditSubject(subject_kind="organisation", subject_id=ORG),
    ]
    with pytest.raises(DependencyUnavailable):
        client.credit_status_batch(subjects, on=ON)


def test_client_errors_keep_supervisions_code():
    calls: list[httpx.Request] = []
    client = _client(lambda _r: _error(403, "insufficient_scope"), calls)
    with pytest.raises(ServiceCallError) as refused:
        client.credit_status("organisation", ORG)
    assert (refused.value.status_code, refused.value.code) == (403, "insufficient_scope")
    assert len(calls) == 1  # a 4xx is an answer, not an outage: no retry
