"""The fair-scheduling gate around chunk tasks (see shared.engine.admission): a chunk put
back or released from parking is sent again as a new message of the same task."""
from __future__ import annotations

import secrets
from typing import Any, Callable

from shared.backlog import SENT_HEADER
from shared.engine.admission import Resend, gated, lane_for
from shared.tasknames import PROCESS_CHUNK, RUN_CHUNK

TASK_FOR = {"batch": PROCESS_CHUNK, "run": RUN_CHUNK}


def resender(task: Any) -> Resend:
    """Send a chunk again. It keeps the time its first message was sent, so the age of the
    oldest waiting work is not reset by a requeue."""
    first = getattr(task.request, SENT_HEADER, None) or (task.request.headers or {}).get(SENT_HEADER)
    # Back to the lane it came from (the namespace's lane).
    lane = (task.request.delivery_info or {}).get("routing_key") or None

    def resend(kind: str, chunk_id: str, requeues: int) -> None:
        headers = {SENT_HEADER: first} if first and requeues else {}
        task.send(TASK_FOR[kind], chunk_id, requeues, task_id=f"{chunk_id}:{secrets.token_hex(4)}",
                  headers=headers, **({"queue": lane} if lane else {}))
    return resend


def lane(task: Any, namespace_id: str) -> str:
    """The queue for this namespace's chunks now."""
    return lane_for(task.stores, task.settings, namespace_id)


def run_gated(task: Any, kind: str, chunk_id: str, requeues: int, work: Callable[[], dict]) -> dict:
    return gated(task.stores, task.settings, kind, chunk_id, requeues, work, resender(task))
