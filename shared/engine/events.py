"""Events for completion webhooks: recorded as delivery rows (an outbox) in the same place
the state change happens; workers send them."""
from __future__ import annotations

import logging
from typing import Callable

from shared.ids import new_id, new_uuid
from shared.status import DeliveryStatus
from shared.stores import Stores
from shared.timeutil import utcnow

EVENT_TYPES = ("batch.completed", "batch.failed", "run.completed", "run.failed", "streaming.failed",
               "pipeline.failing", "pipeline.disabled", "streaming.lagging")
log = logging.getLogger("sluice.events")

# Processes that can send work (the worker app) register a listener that gets deliveries
# moving at once; without one, the periodic sweep picks them up.
_listeners: list[Callable[[list[str]], None]] = []


def add_listener(fn: Callable[[list[str]], None]) -> None:
    if fn not in _listeners:
        _listeners.append(fn)


def emit(stores: Stores, namespace_id: str, event_type: str, data: dict) -> list[str]:
    """Queue `event_type` for every enabled webhook of the namespace subscribed to it."""
    hooks = stores.webhooks.subscribed(namespace_id, event_type)
    if not hooks:
        return []
    now = utcnow()
    event = {"event_id": "evt_" + new_uuid().replace("-", ""), "type": event_type, "created_at": now,
             "namespace_id": namespace_id, "data": data}
    rows = [{"_id": new_id("delivery"), "webhook_id": h["_id"], "namespace_id": namespace_id,
             "event_id": event["event_id"], "event_type": event_type, "event": event, "status": DeliveryStatus.PENDING.value,
             "attempts": 0, "last_error": None, "dispatched_at": None, "created_at": now, "delivered_at": None}

            for h in hooks]
    stores.webhooks.add_deliveries(rows)
    ids = [r["_id"] for r in rows]
    for listener in _listeners:
        try:
            listener(ids)
        except Exception:  # noqa: BLE001 - the outbox row exists; the sweep will send it
            log.warning("could not nudge webhook delivery", exc_info=True)
    return ids
