"""Dead letters of pipeline runs: the row kept for a failed record, and the replay use-case (a
new run, linked to the original, that reads only those records)."""
from __future__ import annotations

from typing import Any

from shared.causes import cause_of
from shared.engine.runs.runs import start_run
from shared.errors import Conflict
from shared.stores import Stores
from shared.timeutil import utcnow


def dead_letter(run: dict, pipeline: dict, step: str, key: str, record: Any, code: str, message: str) -> dict:
    """One record per run and source key (a redelivered chunk rewrites it): the record as read,
    ready to run again."""
    return {"_id": f"{run['_id']}:{key}", "run_id": run["_id"], "pipeline_id": pipeline["_id"],
            "namespace_id": pipeline["namespace_id"], "step": step, "code": code, "cause": cause_of(code),
            "message": message, "source_key": key, "record": record, "at": utcnow()}


def start_replay(stores: Stores, namespace_id: str, run_id: str) -> dict:
    """Create the replay run of `run_id` (not yet enqueued); 409 when there is nothing to replay."""
    original = stores.runs.get(run_id, namespace_id)
    if not stores.dead_letters.count(original["_id"]):
        raise Conflict("the run has no dead letters to replay", code="nothing_to_replay")
    pipeline = stores.pipelines.get(namespace_id, original["pipeline"])
    run = start_run(stores, pipeline, False, trigger="replay")
    stores.runs.set_fields(run["_id"], {"replay_of": original["_id"]})
    return {**run, "replay_of": original["_id"]}
