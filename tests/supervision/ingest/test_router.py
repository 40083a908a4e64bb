"""POST /ingest/events: service tokens scoped per source, exactly-once storage, gap and digest checks."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime

import pytest

from shared.audit.outbox import change_digest
from tests.supervision.events import make_event

WIRE_FIELDS = (
    "source", "delivery_seq", "actor", "actor_role", "organisation", "platform", "action", "object_type",
    "object_id", "project_id", "lot_id", "change", "digest", "client_ip", "user_agent", "device_fingerprint",
    "request_id",
)  # fmt: skip


def test_relay_batch_is_stored_in_delivery_order(ingest, stored, outbox):
    batch = [
        make_event(seq=2, platform="gaoping", project_id="P-1", lot_id="L-1"),
        make_event(seq=1, organisation="org-1", device_fingerprint="fp-1"),
        make_event(seq=3, actor=None, actor_role="anonymous", change={}),
    ]
    response = ingest(batch)

    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 3, "duplicates": 0, "last_delivery_seq": 3}
    rows = stored()
    assert [r["delivery_seq"] for r in rows] == [1, 2, 3]  # arrival order follows delivery_seq
    by_id = {str(r["event_id"]): r for r in rows}
    for sent in batch:
        row = by_id[sent["event_id"]]
        assert {f: row[f] for f in WIRE_FIELDS} == {f: sent[f] for f in WIRE_FIELDS}
        assert row["occurred_at"] == datetime.fromisoformat(sent["occurred_at"])
        assert row["received_at"] is not None
    # ingestion is not itself audited into supervision's outbox: its relay would feed it back forever
    assert outbox() == []


def test_next_batch_continues_the_sequence(ingest, stored):
    assert ingest([make_event(seq=1), make_event(seq=2)]).json()["last_delivery_seq"] == 2
    response = ingest([make_event(seq=3), make_event(seq=4)])
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2, "duplicates": 0, "last_delivery_seq": 4}
    assert [r["delivery_seq"] for r in stored("trading")] == [1, 2, 3, 4]


def test_each_source_has_its_own_sequence(ingest, stored):
    for source in ("trading", "portal", "expert_pool", "supervision"):
        response = ingest([make_event(source, 1), make_event(source, 2)])
        assert response.status_code == 200, response.text
        assert response.json() == {"accepted": 2, "duplicates": 0, "last_delivery_seq": 2}
    assert len(stored()) == 8
    assert [r["delivery_seq"] for r in stored("portal")] == [1, 2]


# -- de-duplication -------------------------------------------------------------------------------


def test_same_batch_twice_is_stored_once(ingest, stored):
    batch = [make_event(seq=n) for n in (1, 2, 3)]
    assert ingest(batch).json() == {"accepted": 3, "duplicates": 0, "last_delivery_seq": 3}
    again = ingest(batch)
    assert again.status_code == 200, again.text
    assert again.json() == {"accepted": 0, "duplicates": 3, "last_delivery_seq": 3}
    assert sorted(str(r["event_id"]) for r in stored()) == sorted(e["event_id"] for e in batch)


def test_retried_batch_with_new_tail_stores_only_the_tail(ingest, stored):
    first = [make_event(seq=1), make_event(seq=2)]
    assert ingest(first).status_code == 200
    response = ingest([*first, make_event(seq=3)])
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "duplicates": 2, "last_delivery_seq": 3}
    assert [r["delivery_seq"] for r in stored()] == [1, 2, 3]


@pytest.mark.parametrize(
    "tamper",
    [
        {"change": {"name": "篡改后的名称", "capacity": 80}},
        {"delivery_seq": 2},
    ],
    ids=["different-change-and-digest", "different-delivery-seq"],
)
def test_same_event_id_with_different_content_is_409(ingest, stored, expect_error, tamper):
    original = make_event(seq=1)
    assert ingest([original]).status_code == 200
    changed = make_event(seq=1, event_id=original["event_id"], **tamper)
    details = expect_error(ingest([changed]), 409, "event_conflict")
    assert details == {"event_id": original["event_id"]}
    [row] = stored()
    assert row["digest"] == original["digest"] and row["delivery_seq"] == 1


@pytest.mark.parametrize(
    "tamper",
    [{"action": "venue.deleted"}, {"platform": "gaoping"}, {"object_id": "another-object"}, {"actor": "someone-else"}],
    ids=["action", "platform", "object_id", "actor"],
)
def test_same_event_id_with_different_envelope_is_409(ingest, stored, expect_error, tamper):
    # The digest covers ``change`` only; a replay that keeps change, digest and seq but rewrites who
    # did what, where, must not be waved through as a harmless duplicate.
    original = make_event(seq=1)
    assert ingest([original]).status_code == 200
    replay = {**original, **tamper}
    expect_error(ingest([replay]), 409, "event_conflict")
    [row] = stored()
    assert {k: row[k] for k in tamper} == {k: original[k] for k in tamper}


# -- sequence gaps --------------------------------------------------------------------------------


def test_first_batch_must_start_at_one(ingest, stored, expect_error):
    details = expect_error(ingest([make_event(seq=2), make_event(seq=3)]), 409, "sequence_gap")
    assert details == {"source": "trading", "expected": 1, "got": 2}
    assert stored() == []


def test_gap_inside_a_batch_stores_nothing_from_it(ingest, stored, expect_error):
    assert ingest([make_event(seq=1)]).status_code == 200
    batch = [make_event(seq=2), make_event(seq=3), make_event(seq=5)]
    details = expect_error(ingest(batch), 409, "sequence_gap")
    assert details == {"source": "trading", "expected": 4, "got": 5}
    assert [r["delivery_seq"] for r in stored()] == [1]
    # the relay re-sends once the missing event is found, and then everything lands
    fixed = ingest([*batch[:2], make_event(seq=4), batch[2]])
    assert fixed.json() == {"accepted": 4, "duplicates": 0, "last_delivery_seq": 5}


def test_new_event_reusing_a_stored_sequence_number_is_refused(ingest, stored, expect_error):
    assert ingest([make_event(seq=1), make_event(seq=2)]).status_code == 200
    details = expect_error(ingest([make_event(seq=2)]), 409, "sequence_gap")
    assert details == {"source": "trading", "expected": 3, "got": 2}
    assert len(stored()) == 2


# -- digest ---------------------------------------------------------------------------------------


def test_digest_not_matching_change_is_422_and_nothing_is_stored(ingest, stored, expect_error):
    bad = make_event(seq=2, digest=change_digest({"name": "别的内容"}))
    details = expect_error(ingest([make_event(seq=1), bad]), 422, "digest_mismatch")
    assert details == {"event_id": bad["event_id"]}
    assert stored() == []


def test_digest_must_be_over_canonical_json(ingest, stored, expect_error):
    change = {"b": 1, "a": "晋城"}
    loose = hashlib.sha256(json.dumps(change).encode()).hexdigest()  # unsorted keys, spaces, ASCII escapes
    assert loose != change_digest(change)
    expect_error(ingest([make_event(seq=1, change=change, digest=loose)]), 422, "digest_mismatch")
    assert ingest([make_event(seq=1, change=change)]).status_code == 200
    assert stored()[0]["change"] == change


# -- who may ingest -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["supervisor", "admin", "operator"])
def test_user_tokens_cannot_ingest(supervision, user, stored, expect_error, role):
    response = supervision.post("/ingest/events", json={"events": [make_event(seq=1)]}, headers=user(role))
    assert expect_error(response, 403, "wrong_token_type") == {"required": "service", "got": "user"}
    assert stored() == []


@pytest.mark.parametrize("scope", ["", "trading:read", "audit:ingest:portal", "audit:ingest:expert_pool audit:read"])
def test_service_without_the_sources_scope_cannot_ingest(ingest, stored, expect_error, scope):
    expect_error(ingest([make_event("trading", 1)], scope=scope), 403, "insufficient_scope")
    assert stored() == []


def test_service_with_several_scopes_ingests_each_permitted_source(ingest, stored):
    scope = "audit:ingest:trading audit:ingest:portal"
    assert ingest([make_event("trading", 1)], scope=scope).status_code == 200
    assert ingest([make_event("portal", 1)], scope=scope).status_code == 200
    assert {r["source"] for r in stored()} == {"trading", "portal"}


def test_ingesting_without_token_is_401(supervision, expect_error):
    expect_error(supervision.post("/ingest/events", json={"events": [make_event()]}), 401, "unauthenticated")


def test_mixed_sources_in_one_batch_are_refused(ingest, stored, expect_error):
    batch = [make_event("trading", 1), make_event("portal", 1)]
    expect_error(ingest(batch, scope="audit:ingest:trading audit:ingest:portal"), 422, "mixed_sources")
    assert stored() == []


# -- malformed batches ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        ({"events": []}, "too_short"),
        ({}, "missing"),
        ({"events": [make_event()], "extra": True}, "extra_forbidden"),
        ({"events": [{**make_event(), "colour": "red"}]}, "extra_forbidden"),
        ({"events": [make_event(source="billing")]}, "string_pattern_mismatch"),
        ({"events": [make_event(seq=0)]}, "greater_than_equal"),
        ({"events": [make_event(digest="A" * 64)]}, "string_pattern_mismatch"),
        ({"events": [make_event(digest="abc")]}, "string_pattern_mismatch"),
        ({"events": [make_event(event_id="not-a-uuid")]}, "uuid_parsing"),
        ({"events": [make_event(occurred_at="yesterday")]}, "datetime_from_date_parsing"),
        ({"events": [{k: v for k, v in make_event().items() if k != "action"}]}, "missing"),
        ({"events": [make_event(change=["not", "a", "dict"])]}, "dict_type"),
        ({"events": [make_event(actor_role="r" * 33)]}, "string_too_long"),
    ],
)
def test_malformed_batch_is_422(ingest, supervision, service, stored, expect_error, body, error_type):
    response = supervision.post("/ingest/events", json=body, headers=service("audit:ingest:trading"))
    details = expect_error(response, 422, "validation_error")
    assert any(d["type"] == error_type for d in details), details
    assert stored() == []


def test_batch_of_more_than_1000_events_is_422(supervision, service, stored, expect_error):
    batch = [make_event(seq=n) for n in range(1, 1002)]
    response = supervision.post("/ingest/events", json={"events": batch}, headers=service("audit:ingest:trading"))
    details = expect_error(response, 422, "validation_error")
    assert any(d["type"] == "too_long" for d in details), details
    assert stored() == []


def test_nul_character_in_change_is_refused_not_a_500(ingest, stored, expect_error):
    event = make_event(seq=1, change={"note": "a\u0000b"})
    expect_error(ingest([event]), 422, "validation_error")
    assert stored() == []


def test_event_ids_are_unique_across_sources(ingest, stored, expect_error):
    shared_id = str(uuid.uuid4())
    assert ingest([make_event("trading", 1, event_id=shared_id)]).status_code == 200
    # the same id (and identical change) delivered by another source is not a duplicate of the first
    response = ingest([make_event("portal", 1, event_id=shared_id)])
    expect_error(response, 409, "event_conflict")
    assert stored("portal") == []
