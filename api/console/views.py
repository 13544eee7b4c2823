"""Console pages for sign-in, the overview, the collections graph and what it links to."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from flask import g, make_response, redirect, render_template, request, url_for

from api.console import graph, helpers, lineage
from api.console.blueprint import bp
from api.console import session as console_session
from api.context import settings, stores, tasks
from shared.engine.batch.collections import source_lineage
from shared.errors import NotFound
from shared.tasknames import QUEUES
from shared.timeutil import utcnow


@bp.context_processor
def _page_context() -> dict[str, Any]:
    row = g.get("console_row")
    return {**helpers.filters(), "csrf_token": row["csrf_token"] if row else "",
            "principal": g.get("principal"), "ns": g.get("namespace"),
            "namespaces": helpers.visible_namespaces() if row else [],
            "flower_url": settings().flower_url, "status_classes": helpers.STATUS_CLASS, "to_json": lambda v: json.dumps(v, indent=2, default=str)}


def _safe_next(target: str | None) -> str:
    """Only a path of this console: never an open redirect to another site."""
    parsed = urlparse(target or "")
    if parsed.scheme or parsed.netloc or not (target or "").startswith("/ui/"):
        return url_for("console.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    if request.method == "POST":
        console_session.check_login_token()
        token = console_session.sign_in(request.form.get("api_key", ""))
        if token is not None:
            resp = redirect(_safe_next(request.form.get("next")), code=303)
            console_session.set_session_cookie(resp, token)
            return resp
        error, status = "That key is unknown or has been revoked.", 401
    resp = make_response()
    form_token = console_session.login_token(resp)
    resp.set_data(render_template("login.html", error=error, form_token=form_token,
                                  next=_safe_next(request.values.get("next"))))
    resp.status_code = status
    return resp


@bp.post("/logout")
def logout():
    console_session.check_csrf(g.console_row, form=True)
    console_session.sign_out()
    resp = redirect(url_for("console.login"), code=303)
    console_session.clear_session_cookie(resp)
    return resp


@bp.get("/")
def index():
    if request.args.get("ns"):   # the namespace switcher
        return redirect(url_for("console.overview", ns_ref=helpers.namespace(request.args["ns"])["namespace_name"]))
    visible = helpers.visible_namespaces()
    if not visible:
        return render_template("error.html", status=200, code="no_namespace",
                               message="This key is not scoped to any namespace yet.")
    preferred = next((n for n in visible if n["namespace_name"] == "default"), visible[0])
    return redirect(url_for("console.overview", ns_ref=preferred["namespace_name"]))


@bp.get("/n/<ns_ref>/")
def overview(ns_ref: str):
    ns = helpers.namespace(ns_ref)
    counts = [{"namespace": n, "buckets": stores().buckets.total_in_namespace(n["namespace_id"]),
               "collections": stores().collections.total_in_namespace(n["namespace_id"]),
               "pipelines": stores().pipelines.total_in_namespace(n["namespace_id"]),
               "streaming": stores().streaming.total_in_namespace(n["namespace_id"])}
              for n in helpers.visible_namespaces(limit=50)]
    since = utcnow() - timedelta(hours=24)
    try:  # the same source as /metrics' sluice_queue_depth
        depths = tasks().queue_depths(QUEUES)
    except Exception:  # noqa: BLE001 - the page still shows everything MongoDB knows
        depths = None
    recent = stores().batches.list(ns["_id"], limit=8, cursor=None).items
    names = {c["_id"]: c["collection_name"] for c in stores().collections.all_in_namespace(ns["_id"])}
    return render_template("overview.html", counts=counts, depths=depths, recent=recent, names=names,
                           batches=stores().batches.count_by_status(ns["_id"], since),
                           runs=stores().runs.count_by_status(ns["_id"], since))


@bp.get("/n/<ns_ref>/graph")
def collections_graph(ns_ref: str):
    ns = helpers.namespace(ns_ref)
    buckets = stores().buckets.list(ns["_id"], limit=500, cursor=None).items
    buckets = [{"_id": b["bucket_id"], **b} for b in buckets]
    collections = stores().collections.all_in_namespace(ns["_id"])
    nodes, edges, width, height = graph.layout(buckets, collections)
    by_id = {c["_id"]: c for c in collections}
    for n in nodes:
        if n.kind == "bucket":
            n.lines = [f"{stores().objects.count([n.id]):,} objects"]
            n.href = url_for("console.bucket", ns_ref=ns_ref, bucket_ref=n.id)
        else:
            extractors = [fe["feature_extractor_name"] for fe in by_id[n.id].get("feature_extractors") or []]
            n.lines = [", ".join(extractors) or "no extractors", f"{stores().documents.count([n.id]):,} documents"]
            n.href = url_for("console.collection", ns_ref=ns_ref, col_ref=n.id)
    return render_template("graph.html", nodes=nodes, edges=edges, width=width, height=height,
                           node_w=graph.NODE_W, node_h=graph.NODE_H,
                           tiers=max((n.column for n in nodes), default=-1) + 1)


@bp.get("/n/<ns_ref>/buckets/<bucket_ref>")
def bucket(ns_ref: str, bucket_ref: str):
    ns = helpers.namespace(ns_ref)
    doc = stores().buckets.get(ns["_id"], bucket_ref)
    objects = stores().objects.list(doc["_id"], {}, sort_field="created_at", descending=True,
                                    limit=25, cursor=request.args.get("cursor"))
    return render_template("bucket.html", bucket=doc, objects=objects,
                           total=stores().objects.count([doc["_id"]]),
                           readers=stores().collections.names_using_bucket(ns["_id"], doc["_id"]))


@bp.get("/n/<ns_ref>/objects/<object_id>")
def object_page(ns_ref: str, object_id: str):
    ns = helpers.namespace(ns_ref)
    for b in stores().buckets.list(ns["_id"], limit=500, cursor=None).items:
        try:
            obj = stores().objects.get(b["bucket_id"], object_id)
        except NotFound:
            continue
        return render_template("object.html", obj=stores().objects.render(obj), bucket=b)
    raise NotFound(f"object '{object_id}' does not exist", code="object_not_found")


@bp.get("/n/<ns_ref>/collections/<col_ref>")
def collection(ns_ref: str, col_ref: str):
    ns = helpers.namespace(ns_ref)
    col = stores().collections.get(ns["_id"], col_ref)
    docs = stores().documents.list(col["_id"], {}, limit=25, cursor=request.args.get("cursor"))
    batches = stores().batches.list(ns["_id"], collection_id=col["_id"], limit=10, cursor=None).items
    return render_template("collection.html", col=stores().collections.render(col), docs=docs,
                           batches=batches, lineage=source_lineage(stores(), col),
                           downstream=stores().collections.names_downstream_of(ns["_id"], col["_id"]))


@bp.get("/n/<ns_ref>/collections/<col_ref>/documents/<document_id>")
def document(ns_ref: str, col_ref: str, document_id: str):
    ns = helpers.namespace(ns_ref)
    col = stores().collections.get(ns["_id"], col_ref)
    doc = stores().documents.get(col["_id"], document_id)
    names = {c["_id"]: c["collection_name"] for c in stores().collections.all_in_namespace(ns["_id"])}
    names.update({b["bucket_id"]: b["bucket_name"]
                  for b in stores().buckets.list(ns["_id"], limit=500, cursor=None).items})
    return render_template("document.html", col=col, doc=stores().documents.render(doc), data=doc.get("data") or {},
                           steps=lineage.steps(doc.get("lineage_path") or []), names=names)


@bp.get("/<path:rest>")
def not_found(rest: str):
    raise NotFound("there is no such page in the console", code="page_not_found")
