"""Experts' notifications: the outbox is delivered at least once through a pluggable channel, marked
sent and audited; a failed send is retried; the loop starts and stops with the app."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.expert_pool.draws import notifications as outbox_module
from services.expert_pool.draws.notifications import (
    LogChannel,
    NotificationLoop,
    OutgoingMessage,
    channel_for,
    deliver_pending,
)
from services.expert_pool.settings import ExpertPoolSettings
from tests.expert_pool.draws.conftest import draw_body, notifications


class Recording:
    """A channel that keeps what it was asked to send (the plug-in point, not a stand-in for our code)."""

    name = "recording"

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[OutgoingMessage] = []
        self.fail = fail

    def send(self, message: OutgoingMessage) -> None:
        if self.fail:
            raise RuntimeError("SMS gateway timed out")
        self.sent.append(message)


@pytest.fixture
def queued(pool, drawn, connection):
    code = pool.specialty()
    pool.experts(7, [code])
    drawn(draw_body([(code, 5, 2)]))
    return notifications(connection)


def test_delivery_marks_sent_and_audits(queued, session, connection, outbox):
    channel = Recording()
    assert deliver_pending(session, channel) == 5
    assert sorted(m.notification_id for m in channel.sent) == sorted(n["id"] for n in queued)
    phones = dict(connection.execute(text("select id, phone from expert_pool.experts")).all())
    assert all(m.phone == phones[m.expert_id] and "JC2026-0001" in m.text for m in channel.sent)
    after = notifications(connection)
    assert all(n["sent_at"] is not None for n in after)
    channels = connection.execute(text("select distinct channel from expert_pool.expert_notifications")).scalars().all()
    assert channels == ["recording"]
    sent_events = [e for e in outbox() if e["action"] == "notification.sent"]
    assert len(sent_events) == 5
    assert all(
        e["actor_role"] == "system" and set(e["change"]) == {"assignment_id", "kind", "channel"} for e in sent_events
    )
    # Nothing is sent twice once marked.
    assert deliver_pending(session, Recording()) == 0


def test_a_failed_send_is_retried_later_and_then_delivered(queued, session, connection):
    assert deliver_pending(session, Recording(fail=True)) == 0
    rows = connection.execute(
        text(
            "select sent_at, attempts, last_error, claimed_until > clock_timestamp() as held "
            "from expert_pool.expert_notifications"
        )
    ).all()
    assert all(r.sent_at is None and r.attempts == 1 and "timed out" in r.last_error and r.held for r in rows)
    # Until the retry time nobody takes them again...
    assert deliver_pending(session, Recording()) == 0
    # ...after it, they go out (at least once: an expert may get a message twice, never zero times).
    connection.execute(
        text("update expert_pool.expert_notifications set claimed_until = clock_timestamp() - interval '1 second'")
    )
    channel = Recording()
    assert deliver_pending(session, channel) == 5
    assert connection.execute(text("select max(attempts) from expert_pool.expert_notifications")).scalar_one() == 2


def test_a_sender_that_died_mid_delivery_is_taken_over(queued, session, connection):
    """A claim that lapsed (its sender crashed after claiming) is delivered by the next round."""
    connection.execute(
        text("update expert_pool.expert_notifications set claimed_until = clock_timestamp() + interval '1 hour'")
    )
    assert deliver_pending(session, Recording()) == 0
    connection.execute(
        text("update expert_pool.expert_notifications set claimed_until = clock_timestamp() - interval '1 minute'")
    )
    assert deliver_pending(session, Recording()) == 5


def test_the_log_channel_writes_the_message_with_a_masked_phone(caplog):
    message = OutgoingMessage(7, uuid.uuid4(), "13912345678", "selected", "您已被随机抽取为项目 X 的评标专家")
    with caplog.at_level(logging.INFO, logger="services.expert_pool.notifications"):
        LogChannel().send(message)
    [record] = caplog.records
    assert "您已被随机抽取" in record.getMessage() and "***5678" in record.getMessage()
    assert "13912345678" not in record.getMessage()


def test_channels_are_chosen_by_name():
    assert isinstance(channel_for("log"), LogChannel)
    with pytest.raises(ValueError, match="unknown notification channel 'pigeon'"):
        channel_for("pigeon")


def test_the_loop_runs_with_the_app_delivers_and_stops(queued, session_factory, engine, connection):
    app = FastAPI()
    app.state.settings = ExpertPoolSettings(environment="test", relay_enabled=True, database_url=str(engine.url))
    app.state.session_factory = session_factory
    all_sent = threading.Event()

    class Signalling(Recording):
        def send(self, message: OutgoingMessage) -> None:
            super().send(message)
            if len(self.sent) == len(queued):
                all_sent.set()

    channel = Signalling()
    app.state.notification_channel = channel
    outbox_module.install(app)
    loop = app.state.notifications
    try:
        assert isinstance(loop, NotificationLoop) and loop.running
        # This thread leaves the test's connection alone while the loop's thread uses it.
        assert all_sent.wait(10), "the loop did not deliver the queued notifications"
    finally:
        outbox_module.uninstall(app)
    assert not loop.running
    assert all(n["sent_at"] is not None for n in notifications(connection))


def test_no_loop_when_background_work_is_off(engine, session_factory):
    app = FastAPI()
    app.state.settings = ExpertPoolSettings(environment="test", relay_enabled=False, database_url=str(engine.url))
    app.state.session_factory = session_factory
    outbox_module.install(app)
    assert app.state.notifications is None and isinstance(app.state.notification_channel, LogChannel)
    outbox_module.uninstall(app)


def test_an_unknown_channel_stops_the_service_at_start(make_client):
    with pytest.raises(ValueError, match="unknown notification channel"):
        make_client("expert_pool", notification_channel="carrier-pigeon")
