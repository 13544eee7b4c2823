"""When things go wrong: a batch's diagnosis and resubmission (pipeline dead letters and
backfills live beside them)."""
from __future__ import annotations

from flask import Blueprint

from api.auth import namespace_id
from api.context import settings, stores, tasks
from api.jsonio import load
from api.openapi import documented
from api.resources.recovery.schemas import ResubmitSchema
from shared.engine import batches as engine
from shared.engine.diagnose import diagnose, stall_after_s
from shared.engine.progress import render_batch
from shared.errors import ValidationFailed
from shared.tasknames import PROCESS_CHUNK, START_BATCH, queue_for
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
