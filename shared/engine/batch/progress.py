"""Rendering a batch's live progress from its row and its chunk rows (pure)."""
from __future__ import annotations

from datetime import datetime

from shared.stores.batches import COUNTERS
from shared.timeutil import utcnow


def _duration_ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None:
        return None
    end = end or utcnow()
    return max(0, int((end - start.replace(tzinfo=None)).total_seconds() * 1000))


def render_batch(batch: dict, stats: dict[int, dict]) -> dict:
    tiers, totals, errors, causes = [], dict.fromkeys(COUNTERS, 0), {}, {}
    for t in batch["tiers"]:
        s = stats.get(t["tier_num"], {"counts": dict.fromkeys(COUNTERS, 0), "errors_by_code": {},
                                      "total": 0, "chunks_total": 0, "chunks_done": 0})
        c = s["counts"]
        handled = c["fetched"]  # every fetched record was filtered out, processed or failed
        total = s["total"]
        pct = round(100.0 * handled / total, 1) if total else (100.0 if t["status"] == "COMPLETED" else 0.0)
        tiers.append({"tier_num": t["tier_num"], "status": t["status"], "collection_ids": t["collection_ids"],
                      "counters": c, "progress": {"processed": handled, "total": total, "percent": pct},
                      "chunks": {"total": s["chunks_total"], "done": s["chunks_done"]},
                      "started_at": t.get("started_at"), "completed_at": t.get("completed_at"),
                      "duration_ms": _duration_ms(t.get("started_at"), t.get("completed_at")),
                      "errors_by_code": s["errors_by_code"], "failed_by_cause": s.get("failed_by_cause", {})})
        for k in COUNTERS:
            totals[k] += c[k]
        for code, n in s["errors_by_code"].items():
            errors[code] = errors.get(code, 0) + n
        for cause, n in s.get("failed_by_cause", {}).items():
            causes[cause] = causes.get(cause, 0) + n
    return {"batch_id": batch["_id"], "task_id": batch["task_id"], "collection_id": batch["collection_id"],
            "status": batch["status"], "priority": batch.get("priority", "normal"),
            "queued": bool(batch.get("queued")) and batch["status"] == "PENDING",
            "total_tiers": batch["total_tiers"],
            "current_tier": batch.get("current_tier", 0), "attempt": batch.get("attempt", 1),
            "created_at": batch["created_at"], "started_at": batch.get("started_at"),
            "completed_at": batch.get("completed_at"),
            "duration_ms": _duration_ms(batch.get("started_at"), batch.get("completed_at")),
            "source_bucket_ids": batch.get("source_bucket_ids"),
            "source_collection_ids": batch.get("source_collection_ids"),
            "object_count": batch.get("object_count"), "document_count": batch.get("document_count"),
            "counters": totals, "error_summary": errors, "failed_by_cause": causes, "error": batch.get("error"), "tiers": tiers}


def render_task(batch: dict, stats: dict[int, dict]) -> dict:
    view = render_batch(batch, stats)
    total = sum(t["progress"]["total"] for t in view["tiers"])
    done = sum(t["progress"]["processed"] for t in view["tiers"])
    return {"task_id": batch["task_id"], "task_type": "batch", "status": batch["status"],
            "batch_id": batch["_id"],
            "progress": {"processed": done, "total": total,
                         "percent": round(100.0 * done / total, 1) if total else
                         (100.0 if view["status"].startswith("COMPLETED") else 0.0),
                         "current_tier": view["current_tier"], "total_tiers": view["total_tiers"]},
            "error_message": batch.get("error"), "created_at": batch["created_at"],
            "started_at": batch.get("started_at"), "completed_at": batch.get("completed_at"),
            "updated_at": batch.get("updated_at")}
