"""When things go wrong: a batch's diagnosis and resubmission, a run's dead letters and their
replay, a pipeline's backfill."""
from __future__ import annotations

from flask import Blueprint, request

from api.auth import namespace_id
from api.context import settings, stores, tasks
from api.jsonio import load, page_response, query_int
from api.openapi import documented
from api.resources.recovery.schemas import BackfillSchema, ResubmitSchema
from shared.engine.batch import batches as engine
from shared.engine.runs.backfill import start_backfill
from shared.engine.runs.deadletters import start_replay
from shared.engine.runs.runs import fail_run
from shared.engine.batch.diagnose import diagnose, stall_after_s
from shared.engine.batch.progress import render_batch
from shared.errors import ValidationFailed
from shared.tasknames import PROCESS_CHUNK, START_BATCH, START_RUN, queue_for
from shared.timeutil import utcnow

bp = Blueprint("recovery", __name__)


def _view(batch: dict) -> dict:
    return render_batch(batch, stores().batches.tier_stats(batch["_id"]))


@bp.get("/v1/batches/<batch_id>/diagnose")
@documented("What is wrong with a batch: category, evidence, and what to do next", errors={404: "no such batch"})
def diagnose_batch(batch_id: str):
    batch = stores().batches.get(batch_id, namespace_id())
    view = _view(batch)
    samples = {code: stores().batches.sample_failure(batch["_id"], code) for code in view["error_summary"]}
    names = {c["_id"]: c["collection_name"] for c in stores().collections.all_in_namespace(namespace_id())}
    consumers = None
    if batch["status"] in ("PENDING", "PROCESSING"):
        try:
            consumers = tasks().consumers(queue_for(PROCESS_CHUNK))
        except Exception:  # noqa: BLE001 - the broker is unreachable: say we could not tell
            consumers = None
    return diagnose(batch, view, samples, names, consumers, utcnow(), stall_after_s(settings()))


@bp.post("/v1/batches/<batch_id>/resubmit")
@documented("Re-run tiers from_tier.. from what the tiers above stored (same document ids)",
            body=ResubmitSchema, errors={409: "batch still running"})
def resubmit(batch_id: str):
    body = load(ResubmitSchema())
    batch = stores().batches.get(batch_id, namespace_id())
    if body["from_tier"] >= batch["total_tiers"]:
        raise ValidationFailed.at("from_tier", f"batch has tiers 0..{batch['total_tiers'] - 1}")
    engine.prepare_retry(stores(), batch["_id"], namespace_id(), "all", [body["from_tier"]])
    stores().batches.set_fields(batch["_id"], {"retry_mode": "resubmit", "start_plan.any_attempt": True})
    attempt = stores().batches.get(batch["_id"])["attempt"]
    tasks().send(START_BATCH, (batch["_id"],), task_id=f"{batch['_id']}:start:{attempt}")
    return _view(stores().batches.get(batch["_id"]))


@bp.get("/v1/pipelines/runs/<run_id>/dead-letters")
@documented("Records of a run that failed at transform, validate or write, with their input record (paged)",
            query={"limit": "page size", "cursor": "next page"}, errors={404: "run does not exist"})
def dead_letters(run_id: str):
    run = stores().runs.get(run_id, namespace_id())
    return page_response(stores().dead_letters.page(run["_id"], limit=query_int("limit"),
                                                    cursor=request.args.get("cursor")))


def _send_run(run: dict) -> None:
    try:
        tasks().send(START_RUN, (run["_id"],), task_id=f"{run['_id']}:start")
    except Exception as exc:
        fail_run(stores(), run["_id"], f"could not enqueue the run: {exc}")
        raise


@bp.post("/v1/pipelines/runs/<run_id>/dead-letters/replay")
@documented("Run a run's dead letters again (after the code was fixed): a new run, linked to it",
            errors={404: "run does not exist", 409: "no dead letters",
                    422: "pipeline is disabled / pipeline is already in progress"})
def replay(run_id: str):
    run = start_replay(stores(), namespace_id(), run_id)
    _send_run(run)
    return {"id": run["_id"], "replay_of": run["replay_of"]}


@bp.post("/v1/pipelines/<pipeline_id>/backfill")
@documented("Run the skipped occurrences, or a time range, as incremental windows: one run per window, in order",
            body=BackfillSchema, errors={404: "pipeline does not exist",
                                         422: "no update time column / nothing to backfill / in progress"})
def backfill(pipeline_id: str):
    pipeline = stores().pipelines.get(namespace_id(), pipeline_id)
    body = load(BackfillSchema())
    run, windows = start_backfill(stores(), pipeline, body)
    _send_run(run)
    return {"pipeline_id": pipeline["_id"], "first_run_id": run["_id"], "windows": windows}, 202
