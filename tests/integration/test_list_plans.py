"""The lists the API serves filter, sort and count with an index: no collection scan, and no
in-memory sort for the keyset sorts (created_at, updated_at, _id). Query plans of the very
queries the stores run (`list_query` + `sort_spec`), explained on real MongoDB."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.stores.paging import sort_spec


def stages(plan: dict) -> list[tuple[str, str | None]]:
    """(stage, index name) of every stage of a winning plan, outermost first."""
    out, todo = [], [plan]
    while todo:
        node = todo.pop()
        out.append((node.get("stage"), node.get("indexName")))
        todo.extend(node.get("inputStages") or [])
        if node.get("inputStage"):
            todo.append(node["inputStage"])
        if node.get("queryPlan"):          # the slot-based engine nests the classic plan
            todo.append(node["queryPlan"])
    return out


def find_plan(coll: Any, query: dict, sort: list, limit: int = 51) -> list[tuple[str, str | None]]:
    return stages(coll.find(query).sort(sort).limit(limit).explain()["queryPlanner"]["winningPlan"])


def count_plan(coll: Any, query: dict) -> list[tuple[str, str | None]]:
    out = coll.database.command("explain", {"count": coll.name, "query": query}, verbosity="queryPlanner")
    return stages(out["queryPlanner"]["winningPlan"])


def assert_indexed(plan: list[tuple[str, str | None]], index: str | tuple[str, ...] | None = None, sorted_by_index: bool = True):
    names = {s for s, _ in plan}
    assert "COLLSCAN" not in names, plan
    if sorted_by_index:
        assert "SORT" not in names, plan
    if index is not None:
        accepted = {index} if isinstance(index, str) else set(index)
        assert accepted & {i for _, i in plan}, plan


@pytest.fixture
def stores(mongo_db):
    from shared.stores.batches import BatchStore
    from shared.stores.documents import DocumentStore
    from shared.stores.objects import ObjectStore

    out = {"objects": ObjectStore(mongo_db), "documents": DocumentStore(mongo_db), "batches": BatchStore(mongo_db)}
    for store in out.values():
        store.ensure_indexes()
    t0 = datetime(2024, 1, 1)
    # Two namespaces, several buckets/collections each, so a scan would show in the plan.
    out["objects"].coll.insert_many([
        {"_id": f"obj_{i:05d}", "namespace_id": f"ns_{i % 2}", "bucket_id": f"bkt_{i % 6}", "status": "PENDING",
         "unique_hash": f"h{i}", "data": {"price": i % 50, "category": f"c{i % 5}"},
         "created_at": t0 + timedelta(seconds=i), "updated_at": t0 + timedelta(seconds=i)} for i in range(600)])
    out["documents"].coll.insert_many([
        {"_id": f"doc_{i:05d}", "namespace_id": "ns_0", "collection_id": f"col_{i % 6}", "batch_id": "bat_1",
         "batch_attempt": 1, "source_id": f"obj_{i:05d}", "data": {"words": i % 40},
         "created_at": t0 + timedelta(seconds=i), "updated_at": t0 + timedelta(seconds=i)} for i in range(600)])
    out["batches"].coll.insert_many([
        {"_id": f"bat_{i:05d}", "task_id": f"tsk_{i}", "namespace_id": f"ns_{i % 2}", "collection_id": f"col_{i % 6}",
         "status": ("COMPLETED", "FAILED", "PROCESSING")[i % 3], "heartbeat_at": t0,
         "created_at": t0 + timedelta(seconds=i)} for i in range(300)])
    return out


BUCKET = {"_id": "bkt_2", "namespace_id": "ns_0"}


@pytest.mark.parametrize("field,index", [
    ("created_at", "namespace_id_1_bucket_id_1_created_at_1__id_1"),
    ("updated_at", "namespace_id_1_bucket_id_1_updated_at_1__id_1"),
    ("_id", None)])
@pytest.mark.parametrize("descending", [True, False])
def test_object_lists_sort_and_count_with_an_index(stores, field, index, descending):
    coll, store = stores["objects"].coll, stores["objects"]
    assert_indexed(find_plan(coll, store.list_query(BUCKET), sort_spec(field, descending)), index)
    filtered = store.list_query(BUCKET, {"data.category": {"$eq": "c2"}})
    assert_indexed(find_plan(coll, filtered, sort_spec(field, descending)), index)
    assert_indexed(count_plan(coll, store.list_query(BUCKET)))
    assert_indexed(count_plan(coll, filtered))


def test_an_object_list_sorted_by_a_data_field_still_selects_by_index(stores):
    store = stores["objects"]
    plan = find_plan(store.coll, store.list_query(BUCKET), sort_spec("data.price", False))
    assert_indexed(plan, sorted_by_index=False)       # any data field: sorted in memory, top-k


def test_object_list_results_are_the_bucket_s_own(stores):
    store = stores["objects"]
    page = store.list(BUCKET, {}, sort_field="created_at", descending=True, limit=1000, cursor=None)
    assert page.total == 100 and {r["bucket_id"] for r in page.items} == {"bkt_2"}


def test_document_lists_sort_and_count_with_an_index(stores):
    coll, store = stores["documents"].coll, stores["documents"]
    index = "collection_id_1_created_at_1__id_1"
    assert_indexed(find_plan(coll, store.list_query("col_3"), sort_spec()), index)
    filtered = store.list_query("col_3", {"data.words": {"$gt": 3}})
    assert_indexed(find_plan(coll, filtered, sort_spec()), index)
    assert_indexed(count_plan(coll, store.list_query("col_3")))
    assert_indexed(count_plan(coll, filtered))


@pytest.mark.parametrize("statuses,collection_id,index", [
    (None, None, "namespace_id_1_created_at_1__id_1"),
    # One status: the (namespace, status, created_at) index that finds a namespace's oldest
    # waiting batch serves it too, with no sort; the planner may take either.
    (["FAILED"], None, ("namespace_id_1_created_at_1__id_1", "namespace_id_1_status_1_created_at_1__id_1")),
    (None, "col_2", "namespace_id_1_collection_id_1_created_at_1__id_1"),
    (["COMPLETED", "FAILED"], "col_2", "namespace_id_1_collection_id_1_created_at_1__id_1")])
def test_batch_lists_sort_and_count_with_an_index(stores, statuses, collection_id, index):
    coll, store = stores["batches"].coll, stores["batches"]
    query = store.list_query("ns_0", statuses, collection_id)
    assert_indexed(find_plan(coll, query, sort_spec()), index)
    assert_indexed(count_plan(coll, query))


def test_pages_after_the_first_carry_its_total_instead_of_counting_again(stores):
    store = stores["objects"]
    first = store.list(BUCKET, {"data.category": {"$eq": "c2"}}, sort_field="created_at", descending=True,
                       limit=7, cursor=None)
    assert first.total == 20 and len(first.items) == 7 and first.next_cursor
    store.coll.insert_one({"_id": "obj_new", "namespace_id": "ns_0", "bucket_id": "bkt_2",
                           "data": {"category": "c2"}, "created_at": datetime(2020, 1, 1),
                           "updated_at": datetime(2020, 1, 1)})
    seen, cursor, pages = [r["object_id"] for r in first.items], first.next_cursor, 0
    while cursor and pages < 10:
        page = store.list(BUCKET, {"data.category": {"$eq": "c2"}}, sort_field="created_at", descending=True,
                          limit=7, cursor=cursor)
        assert page.total == 20                  # the first page's count, not a new one
        seen += [r["object_id"] for r in page.items]
        cursor, pages = page.next_cursor, pages + 1
    assert len(seen) == len(set(seen)) == 21 and "obj_new" in seen   # the rows themselves are current
    fresh = store.list(BUCKET, {"data.category": {"$eq": "c2"}}, sort_field="created_at", descending=True,
                       limit=7, cursor=None)
    assert fresh.total == 21


def test_a_slow_large_count_is_reused_briefly_and_small_counts_never(stores, monkeypatch):
    from shared.stores import paging

    coll = stores["objects"].coll
    query = stores["objects"].list_query(BUCKET, {"data.price": {"$gte": 0}})
    assert paging.counted(coll, query) == 100
    coll.insert_one({"_id": "obj_more", "namespace_id": "ns_0", "bucket_id": "bkt_2", "data": {"price": 1}})
    assert paging.counted(coll, query) == 101                  # small: always counted afresh
    monkeypatch.setattr(paging, "SLOW_COUNT_ROWS", 50)
    monkeypatch.setattr(paging, "SLOW_COUNT_S", 0.0)            # every count is "slow" here
    assert paging.counted(coll, query) == 101
    coll.insert_one({"_id": "obj_more2", "namespace_id": "ns_0", "bucket_id": "bkt_2", "data": {"price": 1}})
    assert paging.counted(coll, query) == 101                  # reused within the window
    monkeypatch.setattr(paging, "REUSE_SLOW_COUNT_S", 0.0)
    assert paging.counted(coll, query) == 102                  # and fresh after it
