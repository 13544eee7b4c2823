"""START/STOP commands, infrastructure-error bookkeeping and the watchdog, as plain functions.
`send(pipeline_id, epoch, chain, queue)` enqueues a step (the API and the worker each pass
their own)."""
from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any, Callable

from shared.engine.streaming.decisions import (START, command_outcome, parse_resume_from, start_mode,
                                               watchdog_action)
from shared.engine.streaming.step import fail
from shared.errors import Conflict
from shared.settings import StreamingSettings
from shared.status import StreamingStatus as S
from shared.stores import Stores
from shared.stores.changefeed import HISTORY_LOST_MESSAGE
from shared.stores.streaming import zero_counters
from shared.timeutil import utcnow

Send = Callable[[str, int, str, str], Any]


def new_chain() -> str:
    return secrets.token_hex(8)


def _no_live_lease(now: Any) -> dict:
    return {"$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}]}


def command(stores: Stores, namespace_id: str, pipeline_id: str, name: str, snapshot: bool | None,
            send: Send, resume_from: str | None = None) -> dict:
    """Apply START or STOP; returns the pipeline document after it. START while running is a
    Conflict; STOP of a stopped pipeline changes nothing. `resume_from` ("snapshot", "now" or an
    ISO timestamp) is the explicit choice a START needs once the saved token is gone."""
    doc = stores.streaming.get(namespace_id, pipeline_id)
    outcome, new = command_outcome(doc["status"], name)
    if outcome == "conflict":
        raise Conflict(new or "", code="streaming_pipeline_running")
    if outcome == "noop":
        return doc
    if name == START:
        return _start(stores, doc, snapshot, send, resume_from)
    return _stop(stores, doc)


def _start(stores: Stores, doc: dict, snapshot: bool | None, send: Send, resume_from: str | None) -> dict:
    definition = doc["definition"]
    choice, start_at = parse_resume_from(resume_from)
    if doc.get("token_lost") and choice is None and snapshot is None:
        raise Conflict(HISTORY_LOST_MESSAGE, code="resume_token_lost")
    reset: dict = {}
    if choice == "snapshot":
        snapshot = True
    elif choice is not None:
        # "now" loses what changed since the token; a time repeats what changed since it.
        snapshot, reset = False, {"resume_token": None, "snapshot": None}
    mode = start_mode(bool(definition["streamingSource"].get("snapshot", True)),
                      doc.get("resume_token") is not None and not reset, doc.get("snapshot") is not None, snapshot)
    chain = new_chain()
    now = utcnow()
    run = {"mode": mode, "started_at": now, "resume_from": resume_from, "start_at": start_at}
    started = stores.streaming.transition(doc["_id"], S.STARTING.value, inc={"epoch": 1}, set_={
        **reset, "token_lost": False, "lag_streak": 0,
        "error": None, "run": run, "lease_owner": chain, "lease_until": None,
        "heartbeat_at": now, "counters": zero_counters(), "errors_in_row": 0, "lag_seconds": None,
        "recent_failures": []})
    if started is None:
        raise Conflict("streaming pipeline changed state meanwhile; read its status and retry",
                       code="streaming_pipeline_running")
    try:
        send(doc["_id"], started["epoch"], chain, definition.get("agentId"))
    except Exception as exc:
        fail(stores, doc["_id"], f"could not enqueue the first step: {exc}", {"epoch": started["epoch"]})
        raise
    return started


def _stop(stores: Stores, doc: dict) -> dict:
    """STOPPING is durable: the chain's next step honours it. With no live lease (no step
    running or about to run) nobody would, so it finishes at once."""
    stopping = stores.streaming.transition(doc["_id"], S.STOPPING.value)
    if stopping is None:
        return stores.streaming.get(doc["namespace_id"], doc["_id"])
    now = utcnow()
    done = stores.streaming.transition(doc["_id"], S.NOT_RUNNING.value, where=_no_live_lease(now),
                                       set_={"lease_owner": None, "lease_until": None})
    return done or stopping


def note_error(stores: Stores, ss: StreamingSettings, pipeline_id: str, epoch: int, chain: str,
               message: str) -> tuple[int, str | None] | None:
    """Count an infrastructure error of this chain: (errors in a row, the pipeline's queue) when
    the step should be retried, None when the chain lost its lease or the pipeline is now FAILED
    (after `max_errors_in_row` in a row; a successful step resets the count)."""
    doc = stores.streaming.note_error(pipeline_id, epoch, chain, message[:500],
                                      utcnow() + timedelta(seconds=ss.lease_s))
    if doc is None:
        return None
    n = doc.get("errors_in_row", 0)
    if n >= ss.max_errors_in_row:
        fail(stores, pipeline_id, f"{n} infrastructure errors in a row; the last: {message}",
             {"epoch": epoch, "lease_owner": chain})
        return None
    return n, doc["definition"].get("agentId")


def watchdog(stores: Stores, ss: StreamingSettings, send: Send) -> dict:
    """Relaunch active pipelines whose worker died (no heartbeat for stall_s, lease expired),
    from their saved resume token / snapshot position; finish STOPPING ones nobody runs."""
    now = utcnow()
    acted = {"relaunched": 0, "stopped": 0}
    for doc in stores.streaming.stalled(now, now - timedelta(seconds=ss.stall_s)):
        action = watchdog_action(doc, now, ss.stall_s)
        if action == "stop":
            if stores.streaming.transition(doc["_id"], S.NOT_RUNNING.value, where=_no_live_lease(now),
                                           set_={"lease_owner": None, "lease_until": None}):

                acted["stopped"] += 1
        elif action == "relaunch":
            chain = new_chain()
            if stores.streaming.relaunch(doc, chain, now, now + timedelta(seconds=ss.lease_s)):
                send(doc["_id"], doc["epoch"], chain, doc["definition"].get("agentId"))
                acted["relaunched"] += 1
    return acted
