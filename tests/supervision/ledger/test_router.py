"""The ledger API: who may read and sign, county boundaries, and proofs a client can check itself."""

from __future__ import annotations

import base64
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.supervision.ledger import merkle
from services.supervision.ledger.tree_heads import SignedTreeHead
from tests.supervision.events import make_event


@pytest.fixture
def events(ingest) -> list[dict]:
    """Nine events: leaves 0..8, platforms jincheng, gaoping, yangcheng in turn."""
    batch = [make_event(seq=n + 1, platform=("jincheng", "gaoping", "yangcheng")[n % 3]) for n in range(9)]
    assert ingest(batch).status_code == 200
    return batch


@pytest.fixture
def signed(supervision, user, events) -> dict:
    response = supervision.post("/ledger/tree-heads", headers=user("supervisor"))
    assert response.status_code == 201, response.text
    return response.json()


def public_key(supervision, headers) -> Ed25519PublicKey:
    body = supervision.get("/ledger/public-key", headers=headers).json()
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(body["public_key"]))


# -- tree heads ----------------------------------------------------------------------------------


def test_city_supervisor_signs_a_tree_head_anyone_can_check(supervision, user, signed, outbox):
    assert signed["tree_size"] == 9
    head = SignedTreeHead.from_json(signed)
    assert head.signature_valid(public_key(supervision, user("bidder")))
    latest = supervision.get("/ledger/tree-heads/latest", headers=user("supervisor", platform="gaoping"))
    assert latest.status_code == 200
    assert latest.json() == signed
    # signing on demand is a state change, audited like any other
    [event] = [e for e in outbox() if e["action"] == "ledger.tree_head_signed"]
    assert event["actor"] == "supervisor-jincheng"
    assert event["change"] == {"tree_size": 9, "root_hash": signed["root_hash"]}


def test_a_city_admin_may_sign_too(supervision, user, events):
    response = supervision.post("/ledger/tree-heads", headers=user("admin"))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("roles", "platform", "code"),
    [
        (("supervisor",), "gaoping", "city_only"),
        (("admin",), "yangcheng", "city_only"),
        (("operator",), "jincheng", "forbidden_role"),
        (("bidder",), "jincheng", "forbidden_role"),
    ],
)
def test_others_may_not_sign(supervision, user, expect_error, roles, platform, code):
    expect_error(supervision.post("/ledger/tree-heads", headers=user(*roles, platform=platform)), 403, code)


def test_service_tokens_and_strangers_are_refused(supervision, service, expect_error):
    headers = service("audit:ingest:trading")
    expect_error(supervision.post("/ledger/tree-heads", headers=headers), 403, "wrong_token_type")
    expect_error(supervision.get("/ledger/tree-heads/latest", headers=headers), 403, "wrong_token_type")
    for path in ("/ledger/tree-heads/latest", "/ledger/public-key", "/ledger/consistency-proof?first=1"):
        expect_error(supervision.get(path), 401, "unauthenticated")
    expect_error(supervision.post("/ledger/tree-heads"), 401, "unauthenticated")


def test_no_tree_head_yet(supervision, user, expect_error):
    expect_error(supervision.get("/ledger/tree-heads/latest", headers=user("supervisor")), 404, "no_tree_head")


@pytest.mark.parametrize("roles", [("bidder",), ("operator",), ("admin",)])
def test_only_supervisors_read_tree_heads(supervision, user, signed, expect_error, roles):
    expect_error(supervision.get("/ledger/tree-heads/latest", headers=user(*roles)), 403, "forbidden_role")


def test_public_key_for_every_authenticated_caller(supervision, user, service):
    bodies = [
        supervision.get("/ledger/public-key", headers=headers).json()
        for headers in (user("bidder", platform="qinshui"), service("audit:ingest:trading"), user("supervisor"))
    ]
    assert bodies[0] == bodies[1] == bodies[2]
    body = bodies[0]
    assert body["algorithm"] == "Ed25519" and len(base64.b64decode(body["public_key"])) == 32
    assert body["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "JINCHENG-AUDIT-STH-V1" in body["tree_head_format"]


# -- inclusion proofs ----------------------------------------------------------------------------


def inclusion(supervision, headers, event_id: str, **params):
    return supervision.get(f"/ledger/events/{event_id}/inclusion-proof", headers=headers, params=params)


@pytest.mark.parametrize("index", range(9))
def test_city_supervisor_proves_any_event_against_the_signed_root(supervision, user, events, signed, index):
    response = inclusion(supervision, user("supervisor"), events[index]["event_id"])
    assert response.status_code == 200, response.text
    proof = response.json()
    assert (proof["leaf_index"], proof["tree_size"], proof["root_hash"]) == (index, 9, signed["root_hash"])
    assert proof["tree_head"] == signed
    assert merkle.verify_inclusion(
        index,
        9,
        bytes.fromhex(proof["leaf_hash"]),
        [bytes.fromhex(h) for h in proof["audit_path"]],
        bytes.fromhex(signed["root_hash"]),
    )


def test_a_proof_for_an_older_unsigned_size(supervision, user, events, signed):
    proof = inclusion(supervision, user("supervisor"), events[2]["event_id"], tree_size=5).json()
    assert (proof["tree_size"], proof["tree_head"]) == (5, None)
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    assert merkle.verify_inclusion(2, 5, bytes.fromhex(proof["leaf_hash"]), path, bytes.fromhex(proof["root_hash"]))


def test_county_supervisor_proves_only_its_own_events(supervision, user, events, signed, expect_error):
    gaoping = user("supervisor", platform="gaoping")
    own = inclusion(supervision, gaoping, events[1]["event_id"])  # events[1] is gaoping's
    assert own.status_code == 200, own.text
    others = inclusion(supervision, gaoping, events[0]["event_id"])  # the city's
    unknown = inclusion(supervision, gaoping, str(uuid.uuid4()))
    expect_error(others, 404, "not_found")
    expect_error(unknown, 404, "not_found")
    assert others.json() == unknown.json()  # "not yours" looks exactly like "absent"


@pytest.mark.parametrize("roles", [("bidder",), ("operator",), ("admin",)])
def test_only_supervisors_get_inclusion_proofs(supervision, user, events, signed, expect_error, roles):
    expect_error(inclusion(supervision, user(*roles), events[0]["event_id"]), 403, "forbidden_role")


def test_inclusion_proof_parameter_errors(supervision, user, events, expect_error):
    headers = user("supervisor")
    event_id = events[6]["event_id"]
    expect_error(inclusion(supervision, headers, event_id), 404, "no_tree_head")  # nothing signed yet
    details = expect_error(inclusion(supervision, headers, event_id, tree_size=5), 422, "event_not_in_tree")
    assert details == {"leaf_index": 6, "tree_size": 5}
    details = expect_error(inclusion(supervision, headers, event_id, tree_size=10), 422, "tree_size_out_of_range")
    assert details == {"tree_size": 10, "ledger_size": 9}
    for bad in ("0", "-1", "x", str(2**63)):
        expect_error(inclusion(supervision, headers, event_id, tree_size=bad), 422, "validation_error")
    expect_error(inclusion(supervision, headers, "not-a-uuid"), 422, "validation_error")


# -- consistency proofs --------------------------------------------------------------------------


def consistency(supervision, headers, **params):
    return supervision.get("/ledger/consistency-proof", headers=headers, params=params)


def test_consistency_proofs_verify_between_any_two_sizes(supervision, user, events, signed):
    headers = user("supervisor", platform="yangcheng")  # county supervisors may read proofs too
    for first in range(1, 10):
        for second in range(first, 10):
            response = consistency(supervision, headers, first=first, second=second)
            assert response.status_code == 200, response.text
            body = response.json()
            assert (body["first"], body["second"]) == (first, second)
            assert merkle.verify_consistency(
                first,
                second,
                [bytes.fromhex(h) for h in body["proof"]],
                bytes.fromhex(body["first_root"]),
                bytes.fromhex(body["second_root"]),
            )
    default = consistency(supervision, headers, first=3).json()
    assert (default["second"], default["second_root"]) == (9, signed["root_hash"])


def test_consistency_proof_parameter_errors(supervision, user, events, signed, expect_error):
    headers = user("supervisor")
    details = expect_error(consistency(supervision, headers, first=5, second=4), 422, "invalid_consistency_range")
    assert details == {"first": 5, "second": 4}
    expect_error(consistency(supervision, headers, first=10), 422, "invalid_consistency_range")
    details = expect_error(consistency(supervision, headers, first=1, second=12), 422, "tree_size_out_of_range")
    assert details == {"tree_size": 12, "ledger_size": 9}
    for params in ({}, {"first": 0}, {"first": "x"}, {"first": 1, "second": 0}, {"first": 2**63}):
        expect_error(consistency(supervision, headers, **params), 422, "validation_error")
    expect_error(consistency(supervision, user("bidder"), first=1), 403, "forbidden_role")


def test_consistency_proof_without_a_tree_head(supervision, user, events, expect_error):
    expect_error(consistency(supervision, user("supervisor"), first=1), 404, "no_tree_head")
    assert consistency(supervision, user("supervisor"), first=1, second=9).status_code == 200
