"""A tier's launch records its source query for its chunks; a batch the previous version
launched (tier entries without that record, in flight during an upgrade) runs to the same
result, its chunks computing the query themselves. Driven through the plain engine functions
against real MongoDB (no worker needed)."""
from __future__ import annotations

import pytest

from tests.support.batches import load_objects

FAIL_SOME = "function transform(d) { if (d.i % 5 === 0) throw new Error('five'); return {i: d.i}; }"
SCHEMA = {"properties": {"i": {"type": "integer"}, "seen": {"type": "datetime"}}}
# A datetime (read from the bucket's schema) and `$` operators: both survive the record.
FILTERS = {"AND": [{"field": "seen", "operator": "gte", "value": "2026-01-01T00:00:10Z"},
                   {"field": "i", "operator": "lt", "value": 90}]}


def run_tiers(stores, settings, batch_id: str, only_ids=None, old_shape: bool = False) -> None:
    from shared.engine.batch import batches as engine
    from shared.engine.batch.chunk import process_chunk

    tier, outcome = stores.batches.get(batch_id).get("current_tier", 0), "next"
    while outcome == "next":
        chunk_ids = engine.launch_tier(stores, settings, batch_id, tier, only_ids)
        only_ids = None   # names records of the first tier only
        launched = stores.batches.get(batch_id)["tiers"][tier]
        assert isinstance(launched["launch"], bytes)
        if old_shape:   # what the previous version's launch left: no recorded query
            stores.batches.coll.update_one({"_id": batch_id}, {"$unset": {f"tiers.{tier}.launch": ""}})
        for chunk_id in chunk_ids:
            process_chunk(stores, settings, chunk_id)
        outcome = engine.finish_tier(stores, batch_id, tier)
        tier += 1
    assert outcome == "done"


def _figures(stores, batch_id: str, attempt: int) -> dict:
    """(fetched, processed, failed) per tier, of one attempt's chunk rows."""
    figures: dict[int, tuple[int, int, int]] = {}
    for row in stores.batches.chunks.find({"batch_id": batch_id, "attempt": attempt}):
        c, (f, p, x) = row["counts"], figures.get(row["tier_num"], (0, 0, 0))
        figures[row["tier_num"]] = (f + c["fetched"], p + c["processed"], x + c["failed"])
    return figures


@pytest.mark.parametrize("old_shape", [False, True], ids=["recorded", "previous-version"])
def test_a_batch_runs_the_same_with_or_without_a_recorded_query(app, api, settings, old_shape):
    from shared.engine.batch import batches as engine

    stores = app.extensions["sluice.stores"]
    assert api.post("/v1/buckets", json={"bucket_name": "up", "schema": SCHEMA})[0] == 201
    load_objects(api, "up", 120, lambda i: {"data": {"i": i, "seen": f"2026-01-01T00:00:{i % 60:02d}Z"}})
    api.post("/v1/collections", json={
        "collection_name": "u0", "source": {"type": "bucket", "bucket_id": "up"},
        "feature_extractors": [{"feature_extractor_name": "js_transform", "parameters": {"code": FAIL_SOME}}]})
    api.post("/v1/collections", json={"collection_name": "u1", "source": {"type": "collection", "collection_id": "u0"}})
    _, trig, _ = api.post("/v1/collections/u0/trigger", json={"source_filters": FILTERS})
    # i < 90 with i % 60 >= 10: 10..59 and 70..89
    assert trig["object_count"] == 70
    batch_id = trig["batch_id"]
    engine.start(stores, batch_id)
    run_tiers(stores, settings, batch_id, old_shape=old_shape)
    assert _figures(stores, batch_id, 1) == {0: (70, 56, 14), 1: (56, 56, 0)}

    # A failed-only retry names its records (tier 0 narrowed by only_ids, tier 1 reads this
    # attempt's documents of any attempt above): the same figures either way.
    start, only = engine.prepare_retry(stores, batch_id, stores.batches.get(batch_id)["namespace_id"],
                                       "failed_only", None)
    assert start == 0 and sum(len(ids) for ids in only.values()) == 14
    engine.start(stores, batch_id)
    run_tiers(stores, settings, batch_id, only_ids=only, old_shape=old_shape)
    assert _figures(stores, batch_id, 2) == {0: (14, 0, 14)}   # nothing reached tier 1

    # A resubmission from tier 1 reads what tier 0 stored in any attempt.
    ns_id = stores.batches.get(batch_id)["namespace_id"]
    assert engine.prepare_retry(stores, batch_id, ns_id, "all", [1]) == (1, None)
    stores.batches.set_fields(batch_id, {"retry_mode": "resubmit", "start_plan.any_attempt": True})
    engine.start(stores, batch_id)
    run_tiers(stores, settings, batch_id, old_shape=old_shape)
    assert _figures(stores, batch_id, 3) == {1: (56, 56, 0)}
