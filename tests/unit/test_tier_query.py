"""A tier's source query is computed once, at launch, and recorded in the batch; its chunks
reuse it (adding only their own only_ids and id range). Batches launched before queries were
recorded are read too: their chunks compute the query as before. In-memory fakes count what
the query costs (filter compilations, reads of bucket schemas)."""
from __future__ import annotations

from typing import Any

import bson
import pytest

from shared.engine.batch import batches as engine
from shared.engine.batch import sources
from shared.engine.batch.chunk import process_chunk
from shared.settings import Settings
from shared.stores.batches import BatchStore
from shared.stores.ledger import ChunkLedger
from shared.stores.objects import ObjectStore

SETTINGS = Settings(chunk_size=2)
FILTERS = {"AND": [{"field": "seen", "operator": "gte", "value": "2026-01-01T00:00:00Z"},
                   {"field": "name", "operator": "in", "value": ["A", "b"]}]}
ROWS = [{"_id": "obj_1", "bucket_id": "bkt_1", "data": {"name": "a"}},
        {"_id": "obj_2", "bucket_id": "bkt_1", "data": {"name": "b"}}]


class FakeBatches:
    chunk_id = staticmethod(BatchStore.chunk_id)
    launch_fields = staticmethod(BatchStore.launch_fields)
    launched_queries = staticmethod(BatchStore.launched_queries)

    def __init__(self, batch: dict):
        self.batch, self.chunks, self.failures = batch, {}, []
        self.ledger = ChunkLedger.__new__(ChunkLedger)   # only its pure current_hi is used

    def get(self, batch_id: str) -> dict:
        return self.batch

    def set_fields(self, batch_id: str, fields: dict, **_: Any) -> dict:
        for path, value in fields.items():   # dotted paths, as MongoDB's $set applies them
            *parents, last = path.split(".")
            node: Any = self.batch
            for p in parents:
                node = node[int(p)] if isinstance(node, list) else node[p]
            node[last] = value
        return self.batch

    def add_chunks(self, rows: list[dict]) -> None:
        self.chunks.update({r["_id"]: r for r in rows})

    def chunk(self, chunk_id: str) -> dict | None:
        return self.chunks.get(chunk_id)

    def complete_chunk(self, chunk_id: str, counts: dict, *_: Any, **__: Any) -> bool:
        self.chunks[chunk_id].update(done=True, counts=counts)
        return True

    def record_failures(self, rows: list[dict]) -> None:
        self.failures.extend(rows)

    def heartbeat(self, *_: Any) -> None:
        pass


class FakeObjects:
    scope_query = staticmethod(ObjectStore.scope_query)
    ENGINE_FIELDS = ObjectStore.ENGINE_FIELDS

    def __init__(self):
        self.queries: list[dict] = []

    def boundaries(self, query: dict, size: int) -> tuple[list[tuple[str, str | None]], int]:
        self.queries.append(query)
        return [("obj_1", "obj_3"), ("obj_3", None)], 3

    def fetch_range(self, query: dict, lo: str, hi: str | None, fields: Any) -> list[dict]:
        self.queries.append(query)
        return [dict(r) for r in ROWS]

    def set_statuses(self, ids_by_status: dict) -> None:
        pass


class FakeBuckets:
    def __init__(self):
        self.schema_reads = 0

    def by_ids(self, ids: list[str], fields: dict) -> list[dict]:
        self.schema_reads += 1
        return [{"_id": "bkt_1", "schema": {"properties": {"seen": {"type": "datetime"}}}}]


class Recorder:
    """Stands in for a store whose calls do not matter here."""

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: [] if name in ("for_applications", "apply") else 0


class FakeStores:
    def __init__(self, batch: dict, collection: dict):
        self.batches, self.objects, self.buckets = FakeBatches(batch), FakeObjects(), FakeBuckets()
        self.collections = type("C", (), {"by_id": staticmethod(lambda cid: collection)})()
        self.documents = self.taxonomies = self.metrics = Recorder()


def _setup(**trigger: Any) -> FakeStores:
    collection = {"_id": "col_1", "namespace_id": "ns_1", "source": {"type": "bucket", "bucket_ids": ["bkt_1"]}}
    batch = {"_id": "batch_1", "status": "PROCESSING", "attempt": 1, "namespace_id": "ns_1",
             "tiers": [{"tier_num": 0, "collection_ids": ["col_1"], "status": "PENDING"}],
             "trigger": {"source_filters": FILTERS, "until_id": "obj_9", **trigger}}
    return FakeStores(batch, collection)


@pytest.fixture
def compilations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = sources.compile_filter

    def counting(*a: Any, **k: Any) -> dict:
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(sources, "compile_filter", counting)
    return calls


def _wire(query: dict) -> bytes:
    """What MongoDB receives (a recorded query decodes `re.Pattern` as `bson.Regex`: equal on the wire)."""
    return bson.encode({"q": query})


@pytest.mark.parametrize("only_ids", [None, {"col_1": ["obj_2"]}])
def test_chunks_reuse_the_query_their_launch_recorded(compilations: list[int], only_ids: dict | None) -> None:
    stores = _setup()
    chunk_ids = engine.launch_tier(stores, SETTINGS, "batch_1", 0, only_ids)
    assert len(chunk_ids) == 2 and compilations == [1] and stores.buckets.schema_reads == 1
    assert isinstance(stores.batches.batch["tiers"][0]["launch"], bytes)   # no `$` names stored as fields

    for cid in chunk_ids:
        assert process_chunk(stores, SETTINGS, cid)["fetched"] == 2
    assert compilations == [1] and stores.buckets.schema_reads == 1      # nothing recomputed per chunk
    ids = None if only_ids is None else only_ids["col_1"]
    _, fresh = sources.tier_input(stores, stores.batches.batch, stores.collections.by_id("col_1"), 0, ids)
    planned, *chunk_reads = stores.objects.queries
    assert _wire(planned) == _wire(fresh) and all(_wire(q) == _wire(fresh) for q in chunk_reads)


def test_a_batch_launched_before_queries_were_recorded_still_runs(compilations: list[int]) -> None:
    """The previous version's chunk rows and tier entries (no `launch`): chunks compute the
    query themselves, and read what they read before."""
    stores = _setup()
    [first, second] = engine.launch_tier(stores, SETTINGS, "batch_1", 0)
    recorded = stores.objects.queries[0]
    del stores.batches.batch["tiers"][0]["launch"]                       # the old shape
    for cid in (first, second):
        assert process_chunk(stores, SETTINGS, cid)["fetched"] == 2
    assert compilations == [1, 1, 1] and stores.buckets.schema_reads == 3
    assert all(_wire(q) == _wire(recorded) for q in stores.objects.queries[1:])


def test_a_record_of_another_launch_is_not_used() -> None:
    record = sources.launch_record({"attempt": 2}, {"col_1": {"x": 1}}, narrowed=False)
    chunk = {"attempt": 2, "collection_id": "col_1", "only_ids": None}
    assert sources.recorded_base(record, chunk) == {"x": 1}
    assert sources.recorded_base(record, {**chunk, "attempt": 1}) is None       # an earlier attempt's chunk
    assert sources.recorded_base(record, {**chunk, "only_ids": ["a"]}) is None  # other narrowing, other query
    assert sources.recorded_base(record, {**chunk, "collection_id": "col_2"}) is None
    assert sources.recorded_base(None, chunk) is None                           # launched by the old version


def test_the_record_keeps_datetimes_and_operator_names() -> None:
    from datetime import datetime

    query = {"$and": [{"created_at": {"$gte": datetime(2026, 1, 1, 0, 0, 0, 123000)}}, {"_id": {"$lte": "obj_9"}}]}
    fields = BatchStore.launch_fields(3, sources.launch_record({}, {"col_1": query}, narrowed=True))
    [(path, blob)] = fields.items()
    tiers = [{}, {}, {}, {"launch": blob}]
    assert path == "tiers.3.launch"
    assert BatchStore.launched_queries({"tiers": tiers}, 3) == {"attempt": 1, "narrowed": True,
                                                                 "queries": {"col_1": query}}
    assert BatchStore.launched_queries({"tiers": [{}]}, 0) is None
