"""The bulk core other code uses (draw benchmark, tests): rows stored as the API stores them."""

from __future__ import annotations

import base64
import uuid

import pytest
from sqlalchemy import select, text

from services.expert_pool.registry.bulk import insert_experts
from services.expert_pool.registry.identity_numbers import IdNumberCipher, IdNumberDecryptionError, cipher_for
from services.expert_pool.registry.models import Expert, ExpertEmployment
from services.expert_pool.settings import DEV_ID_NUMBER_KEY
from shared.errors import ApiError
from tests.expert_pool.factories import add_specialty, create_experts, expert_body, expert_row, make_id_number

DEV = cipher_for(DEV_ID_NUMBER_KEY)


def test_insert_experts_stores_what_registration_stores(session):
    code = add_specialty(session)
    rows = [expert_row([code], 1), expert_row([code], 2, region="140522", account_subject="acc-2")]
    ids = insert_experts(session, rows, DEV)
    assert ids == [r.id for r in rows]
    stored = {e.id: e for e in session.scalars(select(Expert).where(Expert.id.in_(ids)))}
    first, second = stored[ids[0]], stored[ids[1]]
    assert (first.platform, second.platform) == ("jincheng", "yangcheng")
    assert (first.status, first.status_reason, second.account_subject) == ("active", None, "acc-2")
    assert DEV.open(first.id_number_ciphertext, first.id) == make_id_number(1)
    assert first.id_number_hmac == DEV.lookup_hash(make_id_number(1))
    assert first.id_number_masked == make_id_number(1)[:4] + "*" * 10 + make_id_number(1)[-4:]
    history = session.scalars(select(ExpertEmployment).where(ExpertEmployment.expert_id.in_(ids))).all()
    assert sorted((h.expert_id, h.ended_on) for h in history) == sorted((i, None) for i in ids)


def test_a_duplicate_the_checks_could_not_see_is_still_409(session):
    # Two registrations of one person racing: the second's checks ran before the first committed.
    # The unique index decides, and the caller gets the same 409 as a checked duplicate.
    code = add_specialty(session)
    insert_experts(session, [expert_row([code], 7)], DEV)
    with pytest.raises(ApiError) as caught:
        insert_experts(session, [expert_row([code], 7)], DEV)
    assert (caught.value.status_code, caught.value.code) == (409, "expert_exists")


def test_a_racing_portal_account_is_409(session):
    code = add_specialty(session)
    insert_experts(session, [expert_row([code], 1, account_subject="racer")], DEV)
    with pytest.raises(ApiError) as caught:
        insert_experts(session, [expert_row([code], 2, account_subject="racer")], DEV)
    assert caught.value.code == "account_subject_taken"


def test_swapped_ciphertexts_no_longer_decrypt(session, connection):
    code = add_specialty(session)
    first, second = create_experts(session, 2, specialties=[code])
    connection.execute(
        text(
            "update expert_pool.experts e set id_number_ciphertext = o.id_number_ciphertext "
            "from expert_pool.experts o where (e.id, o.id) in ((:a, :b), (:b, :a))"
        ),
        {"a": first, "b": second},
    )
    session.expire_all()
    for expert_id in (first, second):
        expert = session.get(Expert, expert_id)
        assert expert is not None
        with pytest.raises(IdNumberDecryptionError):
            DEV.open(expert.id_number_ciphertext, expert.id)


def test_factory_statuses(session):
    code = add_specialty(session)
    ids = create_experts(session, 3, specialties=[code], status="suspended", region="140581")
    rows = session.scalars(select(Expert).where(Expert.id.in_(ids))).all()
    assert {(e.status, e.platform) for e in rows} == {("suspended", "gaoping")}
    assert all(e.status_reason and e.status_changed_at for e in rows)


def test_the_app_encrypts_under_its_configured_key(make_client, user, session, connection):
    key = base64.b64encode(bytes(range(32))).decode()
    client = make_client("expert_pool", id_number_key=key)
    code = add_specialty(session)
    response = client.post("/experts", json=expert_body([code], 3), headers=user("operator"))
    assert response.status_code == 201, response.text
    expert_id = uuid.UUID(response.json()["id"])
    sealed = connection.execute(
        text("select id_number_ciphertext, id_number_hmac from expert_pool.experts where id = :id"), {"id": expert_id}
    ).one()
    configured = IdNumberCipher(key)
    assert configured.open(bytes(sealed[0]), expert_id) == make_id_number(3)
    assert sealed[1] == configured.lookup_hash(make_id_number(3))
    with pytest.raises(IdNumberDecryptionError):
        DEV.open(bytes(sealed[0]), expert_id)
