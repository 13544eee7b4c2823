"""Console pages for work in motion: batches, pipelines and their runs, streaming pipelines.

Each live page renders its first state on the server, from the same render functions the
JSON API answers with, and embeds it as JSON; console.js then polls the JSON API and
re-draws, so a page never needs reloading and there is one drawing code path."""
from __future__ import annotations

from datetime import timedelta

from flask import Response, render_template, request

from api.console import helpers
from api.console.blueprint import bp
from api.console.charts import lag_svg
from api.context import stores
from api.resources.batches.routes import view as batch_view
from shared.engine.runs.pipelines import render_pipeline
from shared.engine.runs.runs import run_view
from shared.engine.streaming.definition import render as render_streaming
from shared.engine.streaming.definition import status_view
from shared.engine.batch.planning import upstream_of
from shared.status import TERMINAL
from shared.timeutil import utcnow


def _collections_map(ns_id: str) -> dict[str, dict]:
    """id -> name and upstream collection, so the page can label tiers and link sources."""
    return {c["_id"]: {"name": c["collection_name"], "upstream": (upstream_of(c) or [None])[0]}
            for c in stores().collections.all_in_namespace(ns_id)}


@bp.get("/n/<ns_ref>/batches")
def batches(ns_ref: str):
    ns = helpers.namespace(ns_ref)
    page = stores().batches.list(ns["_id"], limit=50, cursor=request.args.get("cursor"))
    names = {k: v["name"] for k, v in _collections_map(ns["_id"]).items()}
    return render_template("batches.html", recent=page.items, page=page, names=names)


@bp.get("/n/<ns_ref>/batches/<batch_id>")
def batch(ns_ref: str, batch_id: str):
    ns = helpers.namespace(ns_ref)
    view = batch_view(stores().batches.get(batch_id, ns["_id"]))
    return render_template("batch.html", batch=view, collections=_collections_map(ns["_id"]),
                           terminal=sorted(s.value for s in TERMINAL["batch"]))


@bp.get("/n/<ns_ref>/pipelines")
def pipelines(ns_ref: str):
    ns = helpers.namespace(ns_ref)
    page = stores().pipelines.list(ns["_id"], limit=100, cursor=request.args.get("cursor"))
    recent = stores().runs.list(ns["_id"], {}, limit=10, cursor=None).items
    return render_template("pipelines.html", pipelines=[render_pipeline(p) for p in page.items],
                           page=page, recent=recent)


@bp.get("/n/<ns_ref>/runs/<run_id>")
def run(ns_ref: str, run_id: str):
    ns = helpers.namespace(ns_ref)
    doc = stores().runs.get(run_id, ns["_id"])
    pipeline = stores().pipelines.by_id(doc["pipeline"]) or {"_id": doc["pipeline"]}
    return render_template("run.html", run=run_view(doc, stores().runs.totals(doc["_id"])),
                           pipeline=pipeline, terminal=sorted(s.value for s in TERMINAL["run"]))


@bp.get("/n/<ns_ref>/streaming")
def streaming(ns_ref: str):
    ns = helpers.namespace(ns_ref)
    rows, total = stores().streaming.page(ns["_id"], 0, 200)
    return render_template("streaming.html", rows=[(render_streaming(r), status_view(r)) for r in rows],
                           total=total)


@bp.get("/n/<ns_ref>/streaming/<pipeline_id>")
def streaming_pipeline(ns_ref: str, pipeline_id: str):
    ns = helpers.namespace(ns_ref)
    doc = stores().streaming.get(ns["_id"], pipeline_id)
    return render_template("streaming_pipeline.html", pipeline=render_streaming(doc), status=status_view(doc))


@bp.get("/n/<ns_ref>/streaming/<pipeline_id>/lag.svg")
def streaming_lag(ns_ref: str, pipeline_id: str):
    ns = helpers.namespace(ns_ref)
    doc = stores().streaming.get(ns["_id"], pipeline_id)
    now = utcnow()
    samples = stores().streaming.lag_samples.series(doc["_id"], now - timedelta(hours=1))
    return Response(lag_svg(samples, now), mimetype="image/svg+xml")
