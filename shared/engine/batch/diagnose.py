"""What is wrong with a batch, in one answer: a category, the evidence and what to do next.
Pure: the route gathers the batch, its tier stats, a sample failure per top code and whether
workers consume its queue, and passes `now`."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.causes import DATA, INFRASTRUCTURE, USER_CODE, cause_of
from shared.status import is_terminal

STALLED, HEALTHY = "stalled", "healthy"
TOP_CODES = 3


def stall_after_s(settings: Any) -> float:
    """No progress for this long makes an active batch `stalled` in a diagnosis: several missed
    heartbeats, well before the watchdog's stall timeout acts."""
    return max(30.0, settings.stall_timeout_s / 4)


def top_codes(error_summary: dict[str, int], n: int = TOP_CODES) -> list[tuple[str, int]]:
    return sorted(error_summary.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def category(batch: dict, failed_by_cause: dict[str, int], idle_s: float | None, stall_after_s: float,
             consumers: int | None) -> str:
    """`stalled` (active, and no progress for `stall_after_s` or nobody consuming its queue), the
    dominant cause of its failures, `infrastructure` for a batch that failed without record
    failures, else `healthy`."""
    active = not is_terminal("batch", batch["status"])
    if active and (consumers == 0 or (idle_s is not None and idle_s > stall_after_s)):
        return STALLED
    if failed_by_cause:
        return max(sorted(failed_by_cause), key=lambda c: failed_by_cause[c])
    if batch["status"] == "FAILED":
        return INFRASTRUCTURE
    return HEALTHY


def _where(sample: dict | None, names: dict[str, str]) -> str:
    if not sample:
        return ""
    line = f" at line {sample['line']}" if sample.get("line") else ""
    name = names.get(sample.get("collection_id") or "", sample.get("collection_id") or "")
    return f"{line} of collection '{name}'" if name else line


def recommendation(cat: str, batch: dict, codes: list[dict], names: dict[str, str],
                   consumers: int | None, idle_s: float | None) -> str:
    """One plain sentence (or two) a user can act on."""
    if cat == HEALTHY:
        return ("Nothing to do: the batch completed." if batch["status"] == "COMPLETED"
                else "Nothing to do: the batch is making progress.")
    if cat == STALLED:
        if consumers == 0:
            return ("No worker consumes the batch's queue: start a worker (sluice up, or "
                    "celery -A workers.app worker); the batch carries on from where it stopped.")
        return (f"No progress for {int(idle_s or 0)} s: check the workers' logs; the watchdog re-sends "
                "unfinished chunks, or cancel the batch and retry it.")
    top = next((c for c in codes if cause_of(c["code"]) == cat or c.get("cause") == cat), codes[0] if codes else None)
    if cat == INFRASTRUCTURE:
        if top is None:
            return f"The batch failed: {batch.get('error') or 'see its error'}. Retry it with retry_mode all."
        return (f"{top['count']} records failed with {top['code']} (an infrastructure problem, not your "
                "code or data); once the stores and workers are healthy, retry transient_only.")
    where = _where(top.get("sample") if top else None, names)
    what = f"{top['count']} records failed with {top['code']}{where}" if top else "Records failed"
    if cat == USER_CODE:
        return f"{what}; fix the code and retry failed_only."
    if cat == DATA:
        return f"{what}; fix those records (or the input mapping) and retry failed_only."
    return what


def diagnose(batch: dict, view: dict, samples: dict[str, dict | None], names: dict[str, str],
             consumers: int | None, now: datetime, stall_after_s: float) -> dict[str, Any]:
    """`view` is the rendered batch (render_batch); `samples` one failure row per code."""
    last = batch.get("heartbeat_at") or batch.get("updated_at")
    idle_s = None if last is None or is_terminal("batch", batch["status"]) else \
        round(max(0.0, (now - last).total_seconds()), 1)
    causes = view.get("failed_by_cause") or {}
    codes = []
    for code, n in top_codes(view.get("error_summary") or {}):
        s = samples.get(code)
        codes.append({"code": code, "count": n, "cause": (s or {}).get("cause") or cause_of(code),
                      "sample": None if s is None else {"source_id": s.get("source_id"), "message": s.get("message"),
                                                        "line": s.get("line"), "collection_id": s.get("collection_id"),
                                                        "tier_num": s.get("tier_num")}})
    cat = category(batch, causes, idle_s, stall_after_s, consumers)
    return {"batch_id": batch["_id"], "status": batch["status"], "category": cat,
            "seconds_since_progress": idle_s, "failed": view["counters"]["failed"], "failed_by_cause": causes,
            "top_errors": codes, "workers_consuming": consumers, "error": batch.get("error"),
            "recommendation": recommendation(cat, batch, codes, names, consumers, idle_s)}
