"""Completion-webhook delivery: a sweep claims pending outbox rows and enqueues one
delivery task each; the delivery retries with backoff and records the outcome."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

from shared.connectors.webhook import WebhookDestination
from shared.secrets.box import UndecryptableSecret
from shared.status import DeliveryStatus
from shared.tasknames import DELIVER_WEBHOOK, WEBHOOK_SWEEP
from shared.timeutil import iso, utcnow
from workers.base import SluiceTask, fn

log = logging.getLogger("sluice.webhooks")
REDISPATCH_AFTER = timedelta(minutes=10)


def event_body(event: dict) -> bytes:
    return json.dumps({**event, "created_at": iso(event["created_at"])}, default=str,
                      separators=(",", ":")).encode()


def sweep(task: SluiceTask) -> int:
    ids = task.stores.webhooks.claim_undispatched(utcnow() - REDISPATCH_AFTER)
    for delivery_id in ids:
        task.send(DELIVER_WEBHOOK, delivery_id)
    return len(ids)


def deliver(task: SluiceTask, delivery_id: str) -> str:
    stores = task.stores
    row = stores.webhooks.delivery(delivery_id)
    if row is None or row["status"] != DeliveryStatus.PENDING.value:
        return "skipped"
    try:
        hook = stores.webhooks.by_id(row["webhook_id"])
    except UndecryptableSecret as exc:  # a lost key fails the delivery, visibly, not the task
        stores.webhooks.finish_delivery(delivery_id, str(exc), 0)
        return "failed"
    if hook is None:
        stores.webhooks.finish_delivery(delivery_id, "webhook was deleted", 0)
        return "failed"
    # The settings say where webhooks may connect (SLUICE_WEBHOOK_ALLOW_PRIVATE).
    dest = WebhookDestination({"config": {"url": hook["url"], "secret": hook.get("secret"),
                                          "max_attempts": hook.get("max_attempts", 5),
                                          "timeout_s": hook.get("timeout_s", 10)}},
                              None, task.settings)
    try:
        # The event id is the Idempotency-Key: a redelivered event is recognisable.
        error = dest.deliver(event_body(row["event"]), row["event_id"])
    finally:
        dest.close()
    stores.webhooks.finish_delivery(delivery_id, error, 1)
    return "failed" if error else "delivered"


# The destination retries a delivery itself; a row left undelivered is swept again later.
FUNCTIONS = (
    fn(WEBHOOK_SWEEP, sweep, ignore_result=True, autoretry_for=()),
    fn(DELIVER_WEBHOOK, deliver, ignore_result=True, autoretry_for=()),
)
