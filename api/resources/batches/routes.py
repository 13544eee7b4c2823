from __future__ import annotations

import secrets

from flask import Blueprint, request

from api.auth import namespace_id
from api.context import stores, tasks
from api.jsonio import load, page_response, query_int
from api.openapi import documented
from api.validate import load_all
from api.resources.batches.schemas import BatchListSchema, RetrySchema
from shared.engine.batch import batches as engine
from shared.engine import pausing
from shared.engine.batch.progress import render_batch
from shared.errors import ValidationFailed
from shared.tasknames import START_BATCH

bp = Blueprint("batches", __name__, url_prefix="/v1/batches")


def view(batch: dict) -> dict:
    return render_batch(batch, stores().batches.stats_of(batch))


@bp.get("/<batch_id>")
@documented("Live progress of a batch: status, tiers, counters, errors", errors={404: "no such batch"})
def get(batch_id: str):
    return view(stores().batches.get(batch_id, namespace_id(), for_view=True))


@bp.post("/list")
@documented("List batches by status and collection", body=BatchListSchema)
def list_():
    body, _ = load_all(BatchListSchema(), allow_empty=True, paging=True)
    collection_id = None
    if body["collection_id"]:
        collection_id = stores().collections.get(namespace_id(), body["collection_id"])["_id"]
    page = stores().batches.list(namespace_id(), statuses=body["status"], collection_id=collection_id,
                                 limit=body["limit"], cursor=body["cursor"])
    page.items[:] = [view(b) for b in page.items]
    return page_response(page)


@bp.get("/<batch_id>/failed-documents")
@documented("Per-record failures of a batch (paged)", query={"limit": "page size", "cursor": "next page"})
def failed(batch_id: str):
    batch = stores().batches.get(batch_id, namespace_id())
    page = stores().batches.failures_page(batch["_id"], limit=query_int("limit"),
                                          cursor=request.args.get("cursor"))
    return page_response(page)


@bp.post("/<batch_id>/cancel")
@documented("Cancel a batch: a durable flag checked between chunks, plus revoke",
            errors={409: "already finished"})
def cancel(batch_id: str):
    return view(cancel_and_revoke(batch_id))


def cancel_and_revoke(batch_id: str) -> dict:
    """Set the durable cancel flag (chunks check it) and revoke the chunks still queued."""
    batch = engine.cancel(stores(), batch_id, namespace_id())
    pending = stores().batches.pending_chunks(batch["_id"], batch["attempt"], batch.get("current_tier", 0))
    tasks().revoke([c["_id"] for c in pending])
    # Its place under the namespace's max_active_batches is free: the oldest queued batch starts.
    queued = stores().scheduler.oldest_pending(batch["namespace_id"], "PENDING")
    if queued is not None:
        tasks().send(START_BATCH, (queued["_id"],), task_id=f"{queued['_id']}:start:{secrets.token_hex(3)}")
    return stores().batches.get(batch["_id"])


@bp.post("/<batch_id>/pause")
@documented("Pause a batch: no new chunk starts, chunks in progress finish; status PAUSED",
            errors={409: "already finished, or not started yet"})
def pause(batch_id: str):
    return view(pausing.pause(stores(), "batch", batch_id, namespace_id()))


@bp.post("/<batch_id>/resume")
@documented("Resume a paused batch where it stopped", errors={409: "not paused"})
def resume(batch_id: str):
    return view(pausing.resume(stores(), "batch", batch_id, namespace_id(), tasks().send))


@bp.post("/<batch_id>/retry")
@documented("Re-run what failed (failed_only) or everything (all) from the given tiers",
            body=RetrySchema, errors={409: "batch still running or nothing to retry"})
def retry(batch_id: str):
    body = load(RetrySchema(), allow_empty=True)
    batch = stores().batches.get(batch_id, namespace_id())
    for i, n in enumerate(body["tier_nums"] or []):
        if n >= batch["total_tiers"]:
            raise ValidationFailed.at(f"tier_nums.{i}", f"batch has tiers 0..{batch['total_tiers'] - 1}")
    engine.prepare_retry(stores(), batch["_id"], namespace_id(), body["retry_mode"], body["tier_nums"])
    attempt = stores().batches.get(batch["_id"])["attempt"]
    tasks().send(START_BATCH, (batch["_id"],), task_id=f"{batch['_id']}:start:{attempt}")
    return view(stores().batches.get(batch["_id"]))
