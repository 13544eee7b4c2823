"""`GET /v1/queues` (admin key): the backlog an autoscaler acts on, as JSON — the same
figures /metrics exports."""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from api.auth import require_admin
from api.context import settings, stores, tasks
from api.openapi import documented
from shared.engine.admission import backlog
from shared.engine.waiting import chunk_queue_ages
from shared.settings import Settings
from shared.tasknames import QUEUES, lanes

bp = Blueprint("queues", __name__, url_prefix="/v1/queues")


def queue_names(lane_count: int) -> list[str]:
    return list(dict.fromkeys([*QUEUES, *lanes(lane_count)]))


def report(stores_: Any, sender: Any, settings_: Settings) -> dict:
    """Per queue: messages waiting and the age of the oldest, and where that age was read
    (`broker`: Redis's own queue; `engine`: the chunk rows in MongoDB, for the chunk queues
    of a broker that cannot be peeked, i.e. RabbitMQ; null: not known). Per namespace and
    priority: chunks waiting and running."""
    names = queue_names(settings_.chunk_lanes)
    try:
        depths = sender.queue_depths(tuple(names))
    except Exception:  # noqa: BLE001 - the broker blinked: report what we know
        depths = {}
    try:
        ages = sender.oldest_ages(names)
    except Exception:  # noqa: BLE001 - as above
        ages = {}
    sources = {q: "broker" for q in ages}
    if not sender.peeks_queues:
        engine_ages = chunk_queue_ages(stores_, settings_)
        ages |= engine_ages
        sources |= {q: "engine" for q in engine_ages}
    return {"queues": [{"queue": q, "depth": depths.get(q), "oldest_age_seconds": ages.get(q),
                        "oldest_age_source": sources.get(q)} for q in names],
            "namespaces": backlog(stores_)}


@bp.get("")
@documented("Backlog for autoscaling (admin key): per queue depth and oldest-message age; per namespace "
            "and priority chunks waiting and running", namespaced=False, errors={403: "not the admin key"})
def get():
    require_admin()
    return report(stores(), tasks(), settings())
