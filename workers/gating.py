"""The fair-scheduling gate around chunk tasks (see shared.engine.admission): a chunk put
back or released from parking is sent again as a new message of the same task."""
from __future__ import annotations

import secrets
from typing import Any, Callable

from shared.engine.admission import Resend, gated
from shared.tasknames import PROCESS_CHUNK, RUN_CHUNK

TASK_FOR = {"batch": PROCESS_CHUNK, "run": RUN_CHUNK}
SENT_HEADER = "sluice_sent"


def resender(task: Any) -> Resend:
    """Send a chunk again. It keeps the time its first message was sent, so the age of the
    oldest waiting work is not reset by a requeue."""
    first = getattr(task.request, SENT_HEADER, None) or (task.request.headers or {}).get(SENT_HEADER)

    def resend(kind: str, chunk_id: str, requeues: int) -> None:
        headers = {SENT_HEADER: first} if first and requeues else {}
        task.send(TASK_FOR[kind], chunk_id, requeues, task_id=f"{chunk_id}:{secrets.token_hex(4)}",
                  headers=headers)
    return resend


def run_gated(task: Any, kind: str, chunk_id: str, requeues: int, work: Callable[[], dict]) -> dict:
    return gated(task.stores, task.settings, kind, chunk_id, requeues, work, resender(task))
