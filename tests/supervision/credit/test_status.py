"""GET /credit/status and POST /credit/status:batch: what trading and the expert pool are told."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from shared.contracts.credit import CreditStatus, CreditStatusBatch
from tests.supervision.credit.samples import EXPERT, ORG, OTHER_ORG, org_code


def _status(supervision, headers, subject_id: str = ORG, kind: str = "organisation", **params: Any) -> CreditStatus:
    response = supervision.get(
        "/credit/status", params={"subject_kind": kind, "subject_id": subject_id, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return CreditStatus.model_validate(response.json())  # the answer honours the shared contract


def test_a_ban_is_in_force_from_its_first_to_its_last_day_inclusive(supervision, credit_reader, create_record):
    record = create_record("gaoping")  # 2026-03-01 .. 2027-02-28

    before = _status(supervision, credit_reader, on="2026-02-28")
    assert (before.status, before.active_records, before.has_records) == ("clean", [], True)
    for day in ("2026-03-01", "2026-09-30", "2027-02-28"):
        status = _status(supervision, credit_reader, on=day)
        assert status.status == "banned" and status.banned, day
        [active] = status.active_records
        assert active.model_dump(mode="json") == {
            "id": record["id"],
            "platform": "gaoping",
            "law": "government_procurement",
            "department": "晋城市财政局",
            "decision_number": "晋市财购处〔2026〕12号",
            "decided_on": "2026-02-20",
            "ban_start": "2026-03-01",
            "ban_end": "2027-02-28",
        }
    after = _status(supervision, credit_reader, on="2027-03-01")  # the anniversary: free again
    assert (after.status, after.active_records, after.has_records) == ("clean", [], True)


def test_the_answer_names_the_subject_and_date(supervision, credit_reader):
    status = _status(supervision, credit_reader, subject_id=ORG.lower(), on="2026-05-01")
    assert status.model_dump(mode="json") == {
        "subject_kind": "organisation",
        "subject_id": ORG,
        "on": "2026-05-01",
        "status": "clean",
        "has_records": False,
        "active_records": [],
    }


def test_on_defaults_to_today_in_shanghai(supervision, credit_reader, create_record, shanghai_today):
    create_record(ban_start=(shanghai_today - timedelta(days=10)).isoformat(), ban_end=None, law="bidding")
    status = _status(supervision, credit_reader)
    assert status.on == shanghai_today
    assert status.banned


def test_a_ban_recorded_by_any_county_applies_everywhere_and_unpublished_counts(
    supervision, user, credit_reader, create_record
):
    record = create_record("qinshui")
    assert record["published"] is False
    status = _status(supervision, credit_reader, on="2026-06-01")
    assert status.banned and [r.platform for r in status.active_records] == ["qinshui"]


def test_revoked_records_no_longer_ban_on_any_date(supervision, user, credit_reader, create_record):
    record = create_record("gaoping")
    assert _status(supervision, credit_reader, on="2026-06-01").banned
    revoked = supervision.post(
        f"/credit/records/{record['id']}/revoke", json={"reason": "经行政复议撤销"}, headers=user("supervisor")
    )
    assert revoked.status_code == 200, revoked.text
    for day in ("2026-06-01", "2026-03-01"):  # not even for the time before the revocation
        status = _status(supervision, credit_reader, on=day)
        assert (status.status, status.active_records, status.has_records) == ("clean", [], False)


def test_records_without_ban_or_decided_later_show_only_in_has_records(supervision, credit_reader, create_record):
    create_record(subject_id=OTHER_ORG, ban_start=None, ban_end=None, decided_on="2026-04-10")
    on_decision_day = _status(supervision, credit_reader, subject_id=OTHER_ORG, on="2026-04-10")
    assert (on_decision_day.status, on_decision_day.has_records) == ("clean", True)
    day_before = _status(supervision, credit_reader, subject_id=OTHER_ORG, on="2026-04-09")
    assert (day_before.status, day_before.has_records) == ("clean", False)


def test_overlapping_bans_are_all_listed_earliest_first(supervision, credit_reader, create_record):
    later = create_record(law="bidding", ban_start="2026-05-01", ban_end=None)
    earlier = create_record()
    status = _status(supervision, credit_reader, on="2026-06-01")
    assert [r.id for r in status.active_records] == [earlier["id"], later["id"]]
    assert status.active_records[1].ban_end is None


def test_experts_are_asked_about_by_their_expert_id(supervision, credit_reader, create_record):
    create_record(subject_kind="expert", subject_id=EXPERT, law="bidding", ban_start="2026-01-01", ban_end=None)
    status = _status(supervision, credit_reader, subject_id=EXPERT.upper(), kind="expert", on="2026-02-01")
    assert (status.subject_id, status.banned) == (EXPERT, True)


def test_status_reads_write_no_audit_event(supervision, credit_reader, create_record, outbox):
    create_record()
    _status(supervision, credit_reader)
    supervision.post(
        "/credit/status:batch",
        json={"subjects": [{"subject_kind": "organisation", "subject_id": ORG}]},
        headers=credit_reader,
    )
    assert [e["action"] for e in outbox()] == ["credit_record.created"]


# -- batch ----------------------------------------------------------------------------------------


def test_batch_answers_each_subject_in_the_order_asked(supervision, credit_reader, create_record):
    create_record()  # ORG banned
    create_record(subject_kind="expert", subject_id=EXPERT, law="bidding", ban_start="2026-01-01", ban_end="2026-01-31")
    subjects = [
        {"subject_kind": "expert", "subject_id": EXPERT},
        {"subject_kind": "organisation", "subject_id": OTHER_ORG},
        {"subject_kind": "organisation", "subject_id": ORG.lower()},
        {"subject_kind": "organisation", "subject_id": ORG},  # repeats are answered again
    ]
    response = supervision.post(
        "/credit/status:batch", json={"on": "2026-06-01", "subjects": subjects}, headers=credit_reader
    )
    assert response.status_code == 200, response.text
    batch = CreditStatusBatch.model_validate(response.json())
    assert batch.on.isoformat() == "2026-06-01"
    assert [(r.subject_id, r.status, r.has_records) for r in batch.results] == [
        (EXPERT, "clean", True),
        (OTHER_ORG, "clean", False),
        (ORG, "banned", True),
        (ORG, "banned", True),
    ]
    assert {r.on for r in batch.results} == {batch.on}


def test_batch_defaults_to_today_and_takes_500_subjects(supervision, credit_reader, shanghai_today):
    subjects = [{"subject_kind": "organisation", "subject_id": org_code(1000 + i)} for i in range(500)]
    response = supervision.post("/credit/status:batch", json={"subjects": subjects}, headers=credit_reader)
    assert response.status_code == 200, response.text
    batch = CreditStatusBatch.model_validate(response.json())
    assert batch.on == shanghai_today and len(batch.results) == 500
    assert [r.subject_id for r in batch.results] == [s["subject_id"] for s in subjects]


def test_a_batch_question_is_one_statement_with_its_date(supervision, credit_reader, create_record, connection):
    """Trading asks for every bid of a surge: the date and the records are read together."""
    create_record(subject_id=ORG)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(connection, "before_cursor_execute", seen)
    try:
        subjects = [{"subject_kind": "organisation", "subject_id": code} for code in (ORG, OTHER_ORG)]
        response = supervision.post("/credit/status:batch", json={"subjects": subjects}, headers=credit_reader)
    finally:
        event.remove(connection, "before_cursor_execute", seen)
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == ["banned", "clean"]
    reads = [s for s in statements if s.lstrip().lower().startswith("select")]
    assert len(reads) == 1, reads


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subjects": []}, "subjects"),
        ({"subjects": [{"subject_kind": "organisation", "subject_id": org_code(7)}] * 501}, "subjects"),
        ({"subjects": [{"subject_kind": "organisation", "subject_id": "91140581MA0K000000"}]}, "subject_id"),
        ({"subjects": [{"subject_kind": "bidder", "subject_id": ORG}]}, "subject_kind"),
        ({"subjects": [{"subject_kind": "expert", "subject_id": "expert-1"}]}, "subject_id"),
        ({"subjects": [{"subject_kind": "organisation", "subject_id": ORG, "name": "x"}]}, "name"),
        ({"subjects": [{"subject_kind": "organisation", "subject_id": ORG}], "platform": "gaoping"}, "platform"),
        ({"subjects": [{"subject_kind": "organisation", "subject_id": ORG}], "on": "yesterday"}, "on"),
        ({}, "subjects"),
    ],
)
def test_bad_batch_is_422(supervision, credit_reader, expect_error, body, field):
    details = expect_error(
        supervision.post("/credit/status:batch", json=body, headers=credit_reader), 422, "validation_error"
    )
    assert any(d["loc"][-1] == field for d in details), details


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"subject_kind": "organisation", "subject_id": "91140581MA0K000000"}, "subject_id"),
        ({"subject_kind": "organisation", "subject_id": "x" * 65}, "subject_id"),
        ({"subject_kind": "agency", "subject_id": ORG}, "subject_kind"),
        ({"subject_kind": "expert", "subject_id": ORG}, "subject_id"),
        ({"subject_id": ORG}, "subject_kind"),
        ({"subject_kind": "organisation", "subject_id": ORG, "on": "2026-02-30"}, "on"),
        ({"subject_kind": "organisation", "subject_id": ORG, "platform": "gaoping"}, "platform"),
        ({"subject_kind": "organisation", "subject_id": "9114\x0058100000001"}, None),
    ],
)
def test_bad_status_query_is_422(supervision, credit_reader, expect_error, params, field):
    details = expect_error(
        supervision.get("/credit/status", params=params, headers=credit_reader), 422, "validation_error"
    )
    assert field is None or any(d["loc"][-1] == field for d in details), details


# -- who may ask ----------------------------------------------------------------------------------

BATCH = {"subjects": [{"subject_kind": "organisation", "subject_id": ORG}]}


def _ask(supervision, headers):
    single = supervision.get(
        "/credit/status", params={"subject_kind": "organisation", "subject_id": ORG}, headers=headers
    )
    return single, supervision.post("/credit/status:batch", json=BATCH, headers=headers)


@pytest.mark.parametrize("role", ["supervisor", "bidder", "operator", "admin"])
def test_user_tokens_are_refused_even_for_supervisors(supervision, user, expect_error, role):
    for response in _ask(supervision, user(role, platform="gaoping")):
        assert expect_error(response, 403, "wrong_token_type") == {"required": "service", "got": "user"}


@pytest.mark.parametrize("scope", ["", "trading:read", "audit:ingest:trading experts:draw"])
def test_service_tokens_without_credit_read_are_refused(supervision, service, expect_error, scope):
    for response in _ask(supervision, service(scope)):
        assert expect_error(response, 403, "insufficient_scope") == {"missing": ["credit:read"]}


def test_anonymous_callers_are_refused(supervision, expect_error):
    for response in _ask(supervision, {}):
        expect_error(response, 401, "unauthenticated")


def test_a_token_with_credit_read_among_others_is_admitted(supervision, service):
    for response in _ask(supervision, service("trading:read credit:read")):
        assert response.status_code == 200, response.text
