from functools import partial

from services.trading.db import OutboxEvent
from shared.audit.outbox import record_event

emit = partial(record_event, model=OutboxEvent)
