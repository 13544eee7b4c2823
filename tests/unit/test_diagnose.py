"""The diagnosis of a batch is a pure function of its state."""
from __future__ import annotations

from datetime import datetime, timedelta

from shared.engine.batch.diagnose import category, diagnose

NOW = datetime(2026, 1, 1, 12, 0, 0)


def batch(status: str, **kw) -> dict:
    return {"_id": "bat_1", "status": status, "heartbeat_at": NOW - timedelta(seconds=5), **kw}


def view(failed: int = 0, causes: dict | None = None, summary: dict | None = None) -> dict:
    return {"counters": {"failed": failed}, "failed_by_cause": causes or {}, "error_summary": summary or {}}


def test_a_completed_batch_is_healthy():
    d = diagnose(batch("COMPLETED"), view(), {}, {}, None, NOW, 60)
    assert d["category"] == "healthy" and d["seconds_since_progress"] is None
    assert "Nothing to do" in d["recommendation"]


def test_user_code_failures_name_the_code_line_and_collection():
    sample = {"source_id": "obj_1", "message": "TypeError: x is undefined", "line": 3, "collection_id": "col_a",
              "tier_num": 1, "cause": "user_code"}
    d = diagnose(batch("COMPLETED_WITH_ERRORS"), view(42, {"user_code": 42}, {"JS_ERROR": 42}),
                 {"JS_ERROR": sample}, {"col_a": "shout"}, None, NOW, 60)
    assert d["category"] == "user_code"
    assert d["top_errors"][0]["sample"]["line"] == 3
    assert d["recommendation"] == ("42 records failed with JS_ERROR at line 3 of collection 'shout'; "
                                   "fix the code and retry failed_only.")


def test_the_dominant_cause_wins_and_infrastructure_recommends_transient_only():
    assert category(batch("COMPLETED_WITH_ERRORS"), {"user_code": 3, "infrastructure": 200}, None, 60, None) \
        == "infrastructure"
    d = diagnose(batch("COMPLETED_WITH_ERRORS"), view(200, {"infrastructure": 200}, {"STORE_UNAVAILABLE": 200}),
                 {}, {}, None, NOW, 60)
    assert "transient_only" in d["recommendation"]
    assert category(batch("FAILED", error="could not start"), {}, None, 60, None) == "infrastructure"


def test_an_active_batch_without_progress_or_consumers_is_stalled():
    old = batch("PROCESSING", heartbeat_at=NOW - timedelta(seconds=300))
    d = diagnose(old, view(), {}, {}, 2, NOW, 60)
    assert d["category"] == "stalled" and d["seconds_since_progress"] == 300
    d = diagnose(batch("PROCESSING"), view(), {}, {}, 0, NOW, 60)
    assert d["category"] == "stalled" and "start a worker" in d["recommendation"]
    assert diagnose(batch("PROCESSING"), view(), {}, {}, 1, NOW, 60)["category"] == "healthy"
