"""One chunk of a pipeline run, through the fixed steps read → filter → transform →
validate → write. Per-record failures are counted at their step, never raised."""
from __future__ import annotations

import time
from typing import Any, Callable

from shared.causes import cause_of
from shared.connectors import destination_for
from shared.engine.chunking import hand_on, heartbeat_interval_s, record_metrics, resume_split, time_budget_s
from shared.engine.failfast import FailureStreak
from shared.engine.lookahead import Lookahead
from shared.engine.runs.budget import run_budget_problem
from shared.engine.runs.deadletters import dead_letter
from shared.engine.runs.runs import JS_ENTRY_POINTS, fail_run
from shared.engine.runs.runsource import run_source
from shared.errors import UserError
from shared.filters import matches, parse_filter
from shared.jsbox import JsError, JsLimits, Sandbox
from shared.settings import Settings
from shared.status import RunStatus
from shared.storable import storable
from shared.stores import Stores
from shared.stores.runs import STEPS
from shared.timeutil import utcnow

READ, FILTER, TRANSFORM, VALIDATE, WRITE = range(len(STEPS))
MAX_RECORD_BYTES = 1024 * 1024
MAX_MESSAGE = 2000


class StepFailure(UserError):
    """A record failed a pipeline step (transform, validate, write); counted, never retried."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def interpret(result: Any, record: dict) -> list[dict]:
    """The JS contract: an object is the new record, an array gives several records,
    null/false drops the record, true keeps it unchanged (the seed's `execute()`)."""
    if result is True:
        return [record]
    if result is None or result is False:
        return []
    if isinstance(result, dict):
        return [result]
    if isinstance(result, list) and all(isinstance(r, dict) for r in result):
        return result
    raise StepFailure("JS_OUTPUT", "transform must return an object, an array of objects, "
                                   f"true, false or null; got {type(result).__name__}")


def validate_output(record: dict) -> None:
    """The field-name rule at every depth, and a value MongoDB can store (shared/storable.py)."""
    problem = storable(record, max_bytes=MAX_RECORD_BYTES)
    if problem is not None:
        raise StepFailure(problem.code, str(problem))


def process_run_chunk(stores: Stores, settings: Settings, chunk_id: str, budget_s: float | None = None,
                      dispatch: Callable[[list[str]], None] | None = None) -> dict:
    """One chunk of a run; idempotent. Like a batch chunk, one still working after `budget_s`
    (half the soft task limit) hands its remaining records to continuations, given to
    `dispatch` at once and listed in the result."""
    started = time.monotonic()
    budget = time_budget_s(settings) if budget_s is None else budget_s
    chunk = stores.runs.ledger.get(chunk_id)
    if chunk is None or chunk.get("done"):
        return {"skipped": True}
    run = stores.runs.get(chunk["run_id"])
    passed, failed = [0] * len(STEPS), [0] * len(STEPS)
    if run["status"] == RunStatus.PAUSED.value:
        return {"paused": True}   # left pending: the scheduler parks it until resume
    if run["status"] != RunStatus.RUNNING.value:
        stores.runs.ledger.complete(chunk_id, {"passed": passed, "failed": failed, "duration_ms": 0},
                                    when=stores.runs.ledger.same_split(chunk))
        return {"skipped": True}
    continuations = resume_split(stores.runs, chunk, dispatch)
    pipeline = stores.pipelines.by_id(run["pipeline"])
    connections = stores.connections
    source = run_source(stores, run, pipeline)
    destination = destination_for(stores, connections.by_id(pipeline["destination"]["connection_id"]),
                                  pipeline["destination"], settings)
    failures: list[dict] = []
    letters: list[dict] = []
    max_update = None
    streak = FailureStreak(settings.fail_fast_after)

    inputs: dict[str, tuple[str, dict]] = {}   # output key -> (source key, input record)

    def fail(step: int, key: str, code: str, message: str, record: dict | None = None) -> None:
        failed[step] += 1
        if step >= TRANSFORM:
            src_key, rec = (key, record) if record is not None else inputs.get(key, (key, None))
            letters.append(dead_letter(run, pipeline, STEPS[step], src_key, rec, code, message[:MAX_MESSAGE]))
        failures.append({"_id": f"{chunk_id}:{key}:{step}", "run_id": run["_id"], "step": STEPS[step],
                         "code": code, "cause": cause_of(code), "message": message[:MAX_MESSAGE],
                         "source_key": key, "at": utcnow()})

    try:
        query = source.query(None, run.get("cursor_from"), pipeline.get("update_time_field"))
        rows = source.fetch_range(query, chunk["lo"], stores.runs.ledger.current_hi(chunk))
        node = parse_filter(pipeline["source"].get("filters"), "source.filters")
        items: list[tuple[str, dict]] = []
        limits = JsLimits.capped(pipeline.get("js_limits"), settings)
        with Sandbox(pipeline["code"], JS_ENTRY_POINTS, limits) as sandbox:
            records = [source.record(row) for row in rows]
            kept = [k for k, record in enumerate(records) if node is None or matches(node, record)]
            # The transform runs a window of records ahead, one sandbox call for many records.
            ahead = Lookahead(kept, lambda ks: sandbox.call_many([records[k] for k in ks]))
            kept_set = set(kept)
            for k, row in enumerate(rows):
                if k and time.monotonic() - started > budget:
                    split = hand_on(stores.runs, chunk, source.bound(row), k, dispatch)
                    if split is not None:
                        chunk, continuations = split, [c["_id"] for c in split["continuations"]]
                        break
                key = source.key(row)
                record = records[k]
                passed[READ] += 1
                ut = source.update_time(row, pipeline.get("update_time_field"))
                if ut is not None and (max_update is None or ut > max_update):
                    max_update = ut
                if k not in kept_set:
                    continue
                passed[FILTER] += 1
                if streak.tripped:
                    fail(TRANSFORM, key, streak.code or "", streak.skip_message(), record)
                    continue
                try:
                    result = ahead.result(k)
                    if isinstance(result, JsError):
                        raise result
                    outputs = interpret(result, record)
                except (JsError, StepFailure) as exc:
                    streak.record_failure(exc.code, exc.message)
                    fail(TRANSFORM, key, exc.code, exc.message, record)
                    continue
                streak.record_ok()
                passed[TRANSFORM] += 1
                try:
                    for out in outputs:
                        validate_output(out)
                except StepFailure as exc:
                    fail(VALIDATE, key, exc.code, exc.message, record)
                    continue
                passed[VALIDATE] += 1
                if len(outputs) == 1:
                    items.append((key, outputs[0]))
                    inputs[key] = (key, record)
                else:
                    items.extend((f"{key}:{i}", out) for i, out in enumerate(outputs))
                    inputs.update({f"{key}:{i}": (key, record) for i in range(len(outputs))})
        context = {"pipeline_id": pipeline["_id"], "run_id": run["_id"], "chunk_id": chunk_id,
                   "namespace_id": pipeline["namespace_id"]}
        errors = destination.write(items, context) if items else {}
    finally:
        source.close()
        destination.close()
    for key, message in errors.items():
        fail(WRITE, key, "WRITE_FAILED", message)
    passed[WRITE] += len(items) - len(errors)
    stores.runs.record_failures(failures)
    stores.dead_letters.add(run["_id"], letters)
    seconds = time.monotonic() - started
    if stores.runs.ledger.complete(chunk_id, {"passed": passed, "failed": failed, "max_update_time": max_update,
                                              "duration_ms": int(seconds * 1000)},
                                   when=stores.runs.ledger.same_split(chunk)):

        by_code: dict[str, int] = {}
        for f in failures:
            by_code[f["code"]] = by_code.get(f["code"], 0) + 1
        record_metrics(stores.metrics, "pipeline", pipeline["_id"], passed[WRITE], by_code, seconds)
        problem = run_budget_problem(stores, run["_id"], pipeline)
        if problem is not None:
            fail_run(stores, run["_id"], problem)   # the run's other chunks then skip
    stores.runs.heartbeat(run["_id"], heartbeat_interval_s(settings))
    out: dict[str, Any] = {"passed": passed, "failed": failed}
    if continuations:
        out["continuations"] = continuations
    return out
