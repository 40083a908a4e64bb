"""Telling experts they were drawn: an outbox (``expert_notifications``) written in the transaction
that draws or promotes them, and a background loop that delivers it, at least once.

Delivery claims a batch (a lease, committed), sends each message through the channel with no
transaction open (an SMS gateway may be slow), then marks it sent. A sender that dies between
sending and marking leaves the lease to lapse, and the message is sent again: experts may get a
message twice, never zero times. Channels plug in by name (``EXPERT_POOL_NOTIFICATION_CHANNEL``);
``log`` writes the message to the service log and is the default.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from services.expert_pool.audit import emit
from services.expert_pool.draws.models import Draw, DrawAssignment, ExpertNotification
from services.expert_pool.settings import ExpertPoolSettings
from shared.background import BackgroundLoop
from shared.platforms import PLATFORMS

log = logging.getLogger("services.expert_pool.notifications")

BATCH = 100
LEASE_SECONDS = 120
# A failed send is retried after this long (the lease is simply renewed for it).
RETRY_SECONDS = 30
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: int
    expert_id: uuid.UUID
    phone: str
    kind: str
    text: str


class NotificationChannel(Protocol):
    """How messages reach experts. ``send`` raises on failure; the message is then retried."""

    name: str

    def send(self, message: OutgoingMessage) -> None: ...


class LogChannel:
    """Writes the message to the service log (development, and deployments without SMS yet)."""

    name = "log"

    def send(self, message: OutgoingMessage) -> None:
        # The phone is masked: logs travel further than the expert database.
        log.info(
            "notify expert %s (phone ***%s) [%s]: %s",
            message.expert_id,
            message.phone[-4:],
            message.kind,
            message.text,
        )


CHANNELS: dict[str, Callable[[], NotificationChannel]] = {"log": LogChannel}


def channel_for(name: str) -> NotificationChannel:
    try:
        return CHANNELS[name]()
    except KeyError:
        raise ValueError(f"unknown notification channel {name!r}; known: {', '.join(sorted(CHANNELS))}") from None


# -- writing the outbox ----------------------------------------------------------------------------


def _shanghai(draw: Draw) -> str:
    # Experts read local time.
    start = draw.evaluation_starts_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    end = draw.evaluation_ends_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return f"{start} 至 {end}（北京时间）"


def message_for(kind: str, draw: Draw, assignment: DrawAssignment) -> str:
    platform = PLATFORMS.get(draw.platform)
    where = platform.name if platform else draw.platform
    if kind == "cancelled":
        return f"【{where}】项目 {draw.project_code} 的评标专家抽取已作废，您在该项目的评标任务取消。"
    prefix = "您已递补为" if kind == "promoted" else "您已被随机抽取为"
    return (
        f"【{where}】{prefix}项目 {draw.project_code} 的评标专家（专业 {assignment.specialty}），"
        f"评标时间 {_shanghai(draw)}。请登录专家系统确认参加或申请回避。名单保密，请勿泄露。"
    )


def queue(session: Session, kind: str, draw: Draw, assignment: DrawAssignment) -> None:
    """Owe the expert a message, in the caller's transaction."""
    session.add(
        ExpertNotification(
            expert_id=assignment.expert_id,
            assignment_id=assignment.id,
            kind=kind,
            message=message_for(kind, draw, assignment),
        )
    )


# -- delivering it ---------------------------------------------------------------------------------

_CLAIM = text(
    """
update expert_pool.expert_notifications n
set claimed_until = clock_timestamp() + make_interval(secs => :lease), attempts = n.attempts + 1
from expert_pool.experts e
where e.id = n.expert_id and n.id in (
    select id from expert_pool.expert_notifications
    where sent_at is null and (claimed_until is null or claimed_until < clock_timestamp())
    order by id limit :batch for update skip locked
)
returning n.id, n.expert_id, e.phone, n.kind, n.message, n.assignment_id
"""
)


def deliver_pending(session: Session, channel: NotificationChannel, *, batch: int = BATCH) -> int:
    """Claim up to ``batch`` unsent messages, send them, mark the ones sent. Returns how many were
    sent. Each step commits: the claim before sending, each mark after its send."""
    claimed = session.execute(_CLAIM, {"lease": LEASE_SECONDS, "batch": batch}).all()
    session.commit()
    sent = 0
    for notification_id, expert_id, phone, kind, message, assignment_id in sorted(claimed):
        try:
            channel.send(OutgoingMessage(notification_id, expert_id, phone, kind, message))
        except Exception as exc:  # noqa: BLE001 - any channel failure means "try again later"
            log.warning("notification %s not delivered through %s: %s", notification_id, channel.name, exc)
            session.execute(
                text(
                    "update expert_pool.expert_notifications set last_error = :e, "
                    "claimed_until = clock_timestamp() + make_interval(secs => :retry) where id = :id"
                ),
                {"e": str(exc)[:500], "retry": RETRY_SECONDS, "id": notification_id},
            )
            session.commit()
            continue
        session.execute(
            text(
                "update expert_pool.expert_notifications set sent_at = clock_timestamp(), channel = :c, "
                "last_error = null where id = :id"
            ),
            {"c": channel.name, "id": notification_id},
        )
        emit(
            session,
            principal=None,
            actor="expert_pool",
            actor_role="system",
            action="notification.sent",
            object_type="expert_notification",
            object_id=str(notification_id),
            platform=None,
            # Which expert got it stays in the expert pool: the list is confidential.
            change={"assignment_id": str(assignment_id), "kind": kind, "channel": channel.name},
        )
        session.commit()
        sent += 1
    return sent


class NotificationLoop(BackgroundLoop):
    """The background delivery loop, one thread per process (replicas share the work through
    ``for update skip locked``)."""

    def __init__(
        self, session_factory: sessionmaker[Session], channel: NotificationChannel, *, interval: float = 1.0
    ) -> None:
        self.session_factory = session_factory
        self.channel = channel
        self.interval = interval
        super().__init__("expert-notifications")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self.session_factory() as session:
                    sent = deliver_pending(session, self.channel)
            except Exception:  # the loop must outlive any one failure (database restart included)
                log.exception("notification delivery round failed")
                sent = 0
            if sent < BATCH:
                self._sleep(self.interval)


def install(app: FastAPI) -> None:
    """Startup hook: the channel named in the settings (refused at start if unknown) and, when
    background loops run (``relay_enabled``, off in tests), the delivery loop."""
    settings: ExpertPoolSettings = app.state.settings
    if getattr(app.state, "notification_channel", None) is None:
        app.state.notification_channel = channel_for(settings.notification_channel)
    app.state.notifications = None
    if settings.relay_enabled:
        loop = NotificationLoop(app.state.session_factory, app.state.notification_channel)
        app.state.notifications = loop
        loop.start()


def uninstall(app: FastAPI) -> None:
    loop: NotificationLoop | None = getattr(app.state, "notifications", None)
    if loop is not None:
        loop.stop()
