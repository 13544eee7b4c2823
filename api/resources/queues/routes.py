"""`GET /v1/queues` (admin key): the backlog an autoscaler acts on, as JSON — the same
figures /metrics exports."""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from api.auth import require_admin
from api.context import settings, stores, tasks
from api.openapi import documented
from shared.engine.admission import backlog
from shared.tasknames import QUEUES, lanes

bp = Blueprint("queues", __name__, url_prefix="/v1/queues")


def queue_names(lane_count: int) -> list[str]:
    return list(dict.fromkeys([*QUEUES, *lanes(lane_count)]))


def report(stores_: Any, sender: Any, lane_count: int) -> dict:
    """Per queue: messages waiting and the age of the oldest; per namespace and priority:
    chunks waiting and running. A broker that cannot be peeked leaves depth/age null."""
    names = queue_names(lane_count)
    try:
        depths, ages = sender.queue_depths(tuple(names)), sender.oldest_ages(names)
    except Exception:  # noqa: BLE001 - the broker blinked, or is not Redis: report what we know
        depths, ages = {}, {}
    return {"queues": [{"queue": q, "depth": depths.get(q), "oldest_age_seconds": ages.get(q)} for q in names],
            "namespaces": backlog(stores_)}


@bp.get("")
@documented("Backlog for autoscaling (admin key): per queue depth and oldest-message age; per namespace "
            "and priority chunks waiting and running", namespaced=False, errors={403: "not the admin key"})
def get():
    require_admin()
    return report(stores(), tasks(), settings().chunk_lanes)
