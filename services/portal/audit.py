"""The portal's audit events go to its own outbox (``portal.audit_outbox``)."""

from __future__ import annotations

from functools import partial

from services.portal.db import OutboxEvent
from shared.audit.outbox import record_event

emit = partial(record_event, model=OutboxEvent)
