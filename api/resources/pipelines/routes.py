from __future__ import annotations

from flask import Blueprint, Response, request

from api.auth import namespace_id
from api.context import settings, stores, tasks
from api.jsonio import load, query_int, raw_json
from api.openapi import documented
from api.validate import load_all
from api.resources.pipelines.schemas import (PipelineCreateSchema, PipelinePatchSchema, PipelineSchema,
                                             RunIdSchema, RunListSchema, RunRequestSchema, ScheduleSchema,
                                             StatusSchema)
from shared.engine import pausing
from shared.engine.runs import runs as run_engine
from shared.engine.runs.pipelines import build_pipeline, ensure_sink, recovery_fields, render_pipeline, schedule_fields
from shared.errors import Conflict, ValidationFailed
from shared.tasknames import START_RUN
from shared.timeutil import utcnow

bp = Blueprint("pipelines", __name__, url_prefix="/v1/pipelines")
SEED_ERRORS = {404: "workspace does not exist / pipeline does not exist"}


def no_content() -> Response:
    return Response(status=204)


def created_sink(ns: str, sink: str | None, pipeline_id: str) -> dict:
    """Create the destination collection the pipeline names, and say so in the response."""
    col = ensure_sink(stores(), ns, sink, pipeline_id) if sink else None
    if col is None:
        return {}
    return {"created": {"destination_collection": {"collection_id": col["_id"],
                                                   "collection_name": col["collection_name"]}}}


@bp.post("")
@documented("Create a pipeline (seed 000)", body=PipelineCreateSchema, response=PipelineSchema, status=201,
            errors=SEED_ERRORS)
def create():
    body, _ = load_all(PipelineCreateSchema(), filters_at=("source.filters",))
    doc, sink = build_pipeline(stores(), settings(), namespace_id(), body)
    created = created_sink(namespace_id(), sink, doc["_id"])
    return render_pipeline(stores().pipelines.create(doc)) | created, 201


@bp.get("")
@documented("List pipelines", query={"limit": "page size", "cursor": "next page"})
def list_():
    page = stores().pipelines.list(namespace_id(), limit=query_int("limit"), cursor=request.args.get("cursor"))
    return {"results": [render_pipeline(p) for p in page.items],
            "pagination": {"limit": page.limit, "next_cursor": page.next_cursor, "total": page.total}}


@bp.get("/<pipeline_id>")
@documented("Get a pipeline", response=PipelineSchema, errors=SEED_ERRORS)
def get(pipeline_id: str):
    return render_pipeline(stores().pipelines.get(namespace_id(), pipeline_id))


def _update(pipeline_id: str, partial: bool):
    ns = namespace_id()
    current = stores().pipelines.get(ns, pipeline_id)
    if partial:
        sent = raw_json()
        body = load(PipelinePatchSchema(), sent, partial=True)
        body = {k: v for k, v in body.items() if k in sent}
        merged = {**{k: current.get(k) for k in ("alias", "metadata", "enabled", "update_time_field",
                                                   "js_limits")},
                  **recovery_fields(current),
                  "incremental": current.get("incremental_default", False), "code": current["code"],
                  "source": current["source"], "destination": current["destination"], **body}
        if "transformation_code" in body:
            merged["code"] = body["transformation_code"]
    else:
        merged = load(PipelineCreateSchema())
    doc, sink = build_pipeline(stores(), settings(), ns, merged, pipeline_id=current["_id"])
    changes = {k: v for k, v in doc.items() if k not in ("_id", "namespace_id", "created_at", "schedule",
                                                         "cursor", "skipped", "last_run", "active_run_id")}
    updated = stores().pipelines.update(ns, current["_id"], changes, idle_only=True)
    if updated is None:
        raise Conflict("pipeline is already in progress; update it when the run has finished",
                       code="pipeline_in_progress")
    return render_pipeline(updated) | created_sink(ns, sink, current["_id"])


@bp.put("/<pipeline_id>")
@documented("Replace a pipeline (not while a run is in progress)", body=PipelineCreateSchema,
            response=PipelineSchema, errors={**SEED_ERRORS, 409: "a run is in progress"})
def put(pipeline_id: str):
    return _update(pipeline_id, partial=False)


@bp.patch("/<pipeline_id>")
@documented("Change some fields of a pipeline (not while a run is in progress)", body=PipelinePatchSchema,
            response=PipelineSchema, errors={**SEED_ERRORS, 409: "a run is in progress"})
def patch(pipeline_id: str):
    return _update(pipeline_id, partial=True)


@bp.delete("/<pipeline_id>")
@documented("Delete a pipeline (seed 001)", status=204, errors={**SEED_ERRORS, 409: "a run is in progress"})
def delete(pipeline_id: str):
    ns = namespace_id()
    p = stores().pipelines.get(ns, pipeline_id)
    if p.get("active_run_id"):
        raise Conflict("pipeline is already in progress; delete it when the run has finished",
                       code="pipeline_in_progress")
    stores().pipelines.delete(ns, p["_id"])
    return no_content()


@bp.put("/<pipeline_id>/status")
@documented("Enable or disable a pipeline (seed 001)", body=StatusSchema, status=204, errors=SEED_ERRORS)
def set_status(pipeline_id: str):
    ns = namespace_id()
    p = stores().pipelines.get(ns, pipeline_id)
    body = load(StatusSchema())
    # Enabling again starts a new streak and forgets why it was disabled.
    fresh = {"disabled_reason": None, "disabled_at": None, "failure_streak": 0} if body["enabled"] else {}
    stores().pipelines.update(ns, p["_id"], {"enabled": body["enabled"], **fresh})
    return no_content()


@bp.put("/<pipeline_id>/schedule")
@documented("Set the schedule period, or null to disable the scheduler (seed 001)", body=ScheduleSchema,
            status=204, errors=SEED_ERRORS)
def set_schedule(pipeline_id: str):
    ns = namespace_id()
    p = stores().pipelines.get(ns, pipeline_id)
    body = load(ScheduleSchema())
    stores().pipelines.update(ns, p["_id"], {"schedule": schedule_fields(p["_id"], body["period"], utcnow())})
    return no_content()


@bp.post("/<pipeline_id>/runs")
@documented("Start a run; returns at once with its id (seed 001)", body=RunRequestSchema,
            response=RunIdSchema, errors={**SEED_ERRORS, 422: "pipeline is disabled / incremental requires an "
                                                               "update time column / pipeline is already in progress"})
def start_run(pipeline_id: str):
    p = stores().pipelines.get(namespace_id(), pipeline_id)
    body = load(RunRequestSchema(), allow_empty=True)
    run = run_engine.start_run(stores(), p, body["incremental"], trigger="manual", priority=body["priority"])
    try:
        tasks().enqueue_start(START_RUN, run["_id"])
    except Exception as exc:
        run_engine.fail_run(stores(), run["_id"], f"could not enqueue the run: {exc}")
        raise
    return {"id": run["_id"]}


@bp.get("/runs")
@documented("All runs of the namespace (seed 001), filtered by pipeline and status",
            query={"pipeline": "pipeline id", "status": "run status", "limit": "page size", "cursor": "next page"})
def list_runs():
    args = load(RunListSchema(), dict(request.args))
    query: dict = {}
    if args["pipeline"]:
        query["pipeline"] = stores().pipelines.get(namespace_id(), args["pipeline"])["_id"]
    if args["status"]:
        query["status"] = args["status"]
    page = stores().runs.list(namespace_id(), query, limit=args["limit"], cursor=args["cursor"])
    return {"runs": [run_engine.run_view(r, stores().runs.totals(r["_id"])) for r in page.items],
            "pagination": {"limit": page.limit, "next_cursor": page.next_cursor, "total": page.total}}


@bp.get("/runs/<run_id>")
@documented("One run with live per-step counts (seed 001)", errors={404: "run does not exist"})
def get_run(run_id: str):
    run = stores().runs.get(run_id, namespace_id())
    return run_engine.run_view(run, stores().runs.totals(run["_id"]))


@bp.post("/runs/<run_id>/pause")
@documented("Pause a run: no new chunk starts, chunks in progress finish; status PAUSED",
            errors={404: "run does not exist", 409: "already finished, or not started yet"})
def pause_run(run_id: str):
    run = pausing.pause(stores(), "run", run_id, namespace_id())
    return run_engine.run_view(run, stores().runs.totals(run["_id"]))


@bp.post("/runs/<run_id>/resume")
@documented("Resume a paused run where it stopped", errors={404: "run does not exist", 409: "not paused"})
def resume_run(run_id: str):
    run = pausing.resume(stores(), "run", run_id, namespace_id(), tasks().send)
    return run_engine.run_view(run, stores().runs.totals(run["_id"]))


@bp.post("/runs/<run_id>/cancel")
@documented("Cancel a run (PENDING, RUNNING or PAUSED): no new chunk starts, chunks in progress finish; "
            "status CANCELED and the pipeline can run again",
            errors={404: "run does not exist", 409: "already finished"})
def cancel_run(run_id: str):
    run = run_engine.cancel_run(stores(), run_id, namespace_id())
    return run_engine.run_view(run, stores().runs.totals(run["_id"]))


@bp.get("/runs/<run_id>/errors")
@documented("A run's per-record failures grouped by step and message, with counts and last occurrence",
            query={"limit": "groups per page", "cursor": "next page"})
def run_errors(run_id: str):
    run = stores().runs.get(run_id, namespace_id())
    offset = 0
    if request.args.get("cursor"):
        try:
            offset = int(request.args["cursor"])
        except ValueError as exc:
            raise ValidationFailed.at("cursor", "is not a cursor returned by this API", code="invalid_cursor") from exc
    groups, total = stores().runs.error_groups(run["_id"], limit=query_int("limit"), offset=offset)
    nxt = offset + len(groups)
    return {"results": groups, "pagination": {"limit": query_int("limit", 50), "total": total,
                                              "next_cursor": str(nxt) if nxt < total else None}}
