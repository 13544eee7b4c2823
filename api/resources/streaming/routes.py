"""Projects, environments and streaming pipelines (seed 004).

A project is a namespace (id or name); an environment's agent is a Celery queue whose workers
run streaming steps. The API holds a Celery client only: environments are read with
inspect (active_queues, stats), steps are enqueued by task name."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from api.auth import principal
from api.context import settings, stores, tasks
from api.jsonio import load, raw_json
from api.openapi import documented
from api.resources.streaming.schemas import (CommandResultSchema, CommandSchema, EnvironmentsSchema,
                                             PageQuerySchema, StatusSchema, StreamingPipelineCreateSchema,
                                             StreamingPipelineSchema)
from shared.engine.streaming import control
from shared.engine.streaming.config import AGENTS, DEFAULT_AGENT
from shared.engine.streaming.decisions import parse_resume_from
from shared.engine.streaming.definition import (build_definition, new_document, render, source_changed,
                                                status_view, target_changed)
from shared.errors import Conflict, ValidationFailed
from shared.ids import new_uuid
from shared.tasknames import QUEUE_STREAMING, STREAM_STEP

bp = Blueprint("streaming", __name__, url_prefix="/v1/projects")
NOT_FOUND = {404: "workspace does not exist / streaming pipeline does not exist"}
BASE = "/<project_id>/streaming-pipelines"


def project(project_id: str) -> dict:
    """The namespace named by the path (id or name); 404 `workspace does not exist` when it
    does not exist or the key is not scoped to it (alike, so keys cannot probe names)."""
    return stores().namespaces.get(project_id, principal().may_use)


def _page_args() -> dict:
    return load(PageQuerySchema(), {k: v for k, v in request.args.items() if k in ("page", "size")}
                or {}, allow_empty=True)


@bp.get("")
@documented("Projects (namespaces this key may use), paged", namespaced=False,
            query={"page": "0-based page (default 0)", "size": "page size (default 20, max 1000)"})
def list_projects():
    args = _page_args()
    scope = principal().namespaces
    ids = None if scope is None else sorted(scope)
    rows, cursor = [], None
    while True:  # namespaces are few: read them all, then slice the page
        page = stores().namespaces.list(ids=ids, limit=1000, cursor=cursor)
        rows += page.items
        cursor = page.next_cursor
        if not cursor:
            break
    rows.sort(key=lambda r: (r.get("created_at"), r["namespace_id"]))
    start = args["page"] * args["size"]
    return {"page": args["page"], "size": args["size"], "total": len(rows),
            "results": [{"id": r["namespace_id"], "name": r["namespace_name"]}
                        for r in rows[start:start + args["size"]]]}


def _workers_by_queue() -> dict[str, list[dict]]:
    inspect = tasks().app.control.inspect(timeout=1.0)
    queues = inspect.active_queues() or {}
    stats = inspect.stats() or {}
    out: dict[str, list[dict]] = {}
    for worker, declared in sorted(queues.items()):
        pool = (stats.get(worker) or {}).get("pool") or {}
        concurrency = pool.get("max-concurrency") or 0
        for q in declared or []:
            out.setdefault(q.get("name"), []).append({"name": worker, "concurrency": concurrency})
    return out


@bp.get("/<project_id>/environments")
@documented("Worker pools (agents) that run streaming pipelines", response=EnvironmentsSchema,
            namespaced=False, errors={404: "workspace does not exist"})
def environments(project_id: str):
    project(project_id)
    by_queue = _workers_by_queue()
    results = []
    for agent in AGENTS:
        workers = by_queue.get(agent, [])
        results.append({"agentId": agent, "queue": agent, "workers": workers, "workersOnline": len(workers),
                        "concurrency": sum(w["concurrency"] for w in workers)})
    return {"results": results, "defaultAgentId": DEFAULT_AGENT}


def _definition(ns_id: str) -> dict:
    raw = raw_json()
    try:
        body, problems = load(StreamingPipelineCreateSchema(), raw), []
    except ValidationFailed as exc:
        body, problems = None, list(exc.details)
    return build_definition(stores(), settings(), ns_id, raw, body, problems)


@bp.post(BASE)
@documented("Create a streaming pipeline; 400 lists every problem with its path",
            body=StreamingPipelineCreateSchema, response=StreamingPipelineSchema, status=201,
            namespaced=False, errors=NOT_FOUND)
def create(project_id: str):
    ns = project(project_id)
    definition = _definition(ns["_id"])
    doc = stores().streaming.create(new_document(new_uuid(), ns["_id"], definition))
    return render(doc), 201


@bp.get(BASE)
@documented("Streaming pipelines of a project, paged", namespaced=False, errors=NOT_FOUND,
            query={"page": "0-based page (default 0)", "size": "page size (default 20, max 1000)"})
def list_(project_id: str):
    ns = project(project_id)
    args = _page_args()
    rows, total = stores().streaming.page(ns["_id"], args["page"], args["size"])
    return {"page": args["page"], "size": args["size"], "total": total, "results": [render(r) for r in rows]}


@bp.get(BASE + "/<pipeline_id>")
@documented("A streaming pipeline's definition", response=StreamingPipelineSchema, namespaced=False,
            errors=NOT_FOUND)
def get(project_id: str, pipeline_id: str):
    return render(stores().streaming.get(project(project_id)["_id"], pipeline_id))


@bp.put(BASE + "/<pipeline_id>")
@documented("Replace a streaming pipeline's definition (only while NOT_RUNNING or FAILED)",
            body=StreamingPipelineCreateSchema, response=StreamingPipelineSchema, namespaced=False,
            errors={**NOT_FOUND, 409: "the pipeline is running"})
def put(project_id: str, pipeline_id: str):
    ns = project(project_id)
    current = stores().streaming.get(ns["_id"], pipeline_id)
    definition = _definition(ns["_id"])
    updated = stores().streaming.replace_definition(ns["_id"], current["_id"], {"definition": definition},
                                                    source_changed(current["definition"], definition))
    if updated is None:
        raise Conflict("streaming pipeline is running; STOP it before changing it",
                       code="streaming_pipeline_running")
    if target_changed(current["definition"], definition):
        stores().streaming.ledger_clear(current["_id"])
    return render(updated)


@bp.delete(BASE + "/<pipeline_id>")
@documented("Delete a streaming pipeline (only while NOT_RUNNING or FAILED)", status=204, namespaced=False,
            errors={**NOT_FOUND, 409: "the pipeline is running"})
def delete(project_id: str, pipeline_id: str):
    ns = project(project_id)
    current = stores().streaming.get(ns["_id"], pipeline_id)
    if not stores().streaming.delete_stopped(ns["_id"], current["_id"]):
        raise Conflict("streaming pipeline is running; STOP it before deleting it",
                       code="streaming_pipeline_running")
    return Response(status=204)


def _send(pipeline_id: str, epoch: int, chain: str, queue: str | None) -> Any:
    return tasks().app.send_task(STREAM_STEP, args=(pipeline_id, epoch, chain), queue=queue or QUEUE_STREAMING)


@bp.post(BASE + "/<pipeline_id>/commands")
@documented("START or STOP a streaming pipeline; answers once the command is accepted",
            body=CommandSchema, response=CommandResultSchema, namespaced=False,
            errors={**NOT_FOUND, 409: "START while running"})
def commands(project_id: str, pipeline_id: str):
    ns = project(project_id)
    stores().streaming.get(ns["_id"], pipeline_id)  # 404 before 400
    body = load(CommandSchema())
    if body["command"] != "START" and body.get("snapshot") is not None:
        raise ValidationFailed.at("snapshot", "only START takes snapshot")
    if body.get("resumeFrom") is not None:
        if body["command"] != "START":
            raise ValidationFailed.at("resumeFrom", "only START takes resumeFrom")
        if body.get("snapshot") is not None:
            raise ValidationFailed.at("resumeFrom", "send either snapshot or resumeFrom")
        try:
            parse_resume_from(body["resumeFrom"])
        except ValueError as exc:
            raise ValidationFailed.at("resumeFrom", str(exc)) from None
    doc = control.command(stores(), ns["_id"], pipeline_id, body["command"], body.get("snapshot"), _send,
                          body.get("resumeFrom"))
    return {"streamingPipelineId": doc["_id"], "command": body["command"], "status": doc["status"]}


@bp.get(BASE + "/<pipeline_id>/status")
@documented("Status, counters, last event time and lag of a streaming pipeline", response=StatusSchema,
            namespaced=False, errors=NOT_FOUND)
def status(project_id: str, pipeline_id: str):
    return status_view(stores().streaming.get(project(project_id)["_id"], pipeline_id))
