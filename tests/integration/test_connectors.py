"""Each Source and Destination against real services: buckets and collections via stores, an
external MongoDB (a second database on the test mongod, reached through its own client) and
a webhook receiver (a real ThreadingHTTPServer on 127.0.0.1)."""
from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone

import pytest
from bson import ObjectId

from shared.connectors import destination_for, source_for
from shared.connectors.internal import pipeline_document_id
from shared.connectors.webhook import verify
from shared.errors import ValidationFailed
from shared.timeutil import utcnow
from tests.support.http import HookServer
from tests.support.pipelines import CONTEXT, webhook_connection


@pytest.fixture
def stores(settings, mongo_client):
    from shared.stores import Stores

    s = Stores.from_settings(settings)
    s.ensure_indexes()
    yield s
    s.mongo.close()
    mongo_client.drop_database(settings.mongo_db)


@pytest.fixture
def ns(stores):
    return stores.namespaces.create("conn-ns", None, {})["_id"]


@pytest.fixture
def external(services, mongo_client):
    """An 'external' MongoDB: another database on the test mongod, named in a mongodb:// URI."""
    name = f"ext_{secrets.token_hex(4)}"
    yield {"uri": services.mongo_url, "database": name, "db": mongo_client[name]}
    mongo_client.drop_database(name)


def mongo_connection(ns: str, external: dict, collection: str | None = None) -> dict:
    return {"_id": "conn_ext", "namespace_id": ns, "type": "mongodb",
            "config": {"uri": external["uri"], "database": external["database"], "collection": collection}}


def read_all(source, query: dict, size: int) -> list[dict]:
    ranges, total = source.boundaries(query, size)
    json.dumps(ranges)  # bounds travel as JSON task arguments
    rows = [r for lo, hi in ranges for r in source.fetch_range(query, lo, hi)]
    assert len(rows) == total
    return rows


# -- bucket and collection -----------------------------------------------------------------------
def test_bucket_source_reads_records_in_ranges_and_incrementally(stores, ns):
    bucket = stores.buckets.create(ns, {"bucket_name": "raw"})
    other = stores.buckets.create(ns, {"bucket_name": "other"})
    for i in range(7):
        stores.objects.write(bucket, {"data": {"n": i, "modified": datetime(2024, 1, 1 + i)},
                                      "key_prefix": "p/", "metadata": {"m": i}}, "upsert", None)
    stores.objects.write(other, {"data": {"n": 99}}, "upsert", None)
    conn = {"_id": "conn_b", "namespace_id": ns, "type": "bucket", "config": {"bucket_id": bucket["_id"]}}
    with source_for(stores, conn, {}) as src:
        assert src.kind == "bucket"
        resolve = src.field_resolver()
        assert resolve("n") == "data.n" and resolve("updated_at") == "updated_at"
        rows = read_all(src, src.query(None, None, None), 3)
        assert len(rows) == 7 and [r["_id"] for r in rows] == sorted(r["_id"] for r in rows)
        record = src.record(rows[0])
        assert list(record)[:3] == ["object_id", "key_prefix", "metadata"]
        assert record["object_id"] == rows[0]["_id"] == src.key(rows[0])
        assert record["modified"].endswith("Z") and record["created_at"].endswith("Z")
        json.dumps(record)
        # filters use the resolver; incremental reads take strictly newer rows of a user field
        q = src.query({resolve("n"): {"$gte": 5}}, None, None)
        assert sorted(r["data"]["n"] for r in read_all(src, q, 10)) == [5, 6]
        after = datetime(2024, 1, 5, tzinfo=timezone.utc)
        q = src.query(None, after, "modified")
        assert sorted(r["data"]["n"] for r in read_all(src, q, 10)) == [5, 6]
        assert max(src.update_time(r, "modified") for r in rows) == datetime(2024, 1, 7)
        assert src.update_time(rows[0], None) == rows[0]["updated_at"]  # naive UTC, as stored
        newest = max(src.update_time(r, None) for r in rows)
        assert read_all(src, src.query(None, newest, None), 10) == []
        assert len(read_all(src, src.query(None, newest - timedelta(days=1), None), 10)) == 7
    stores.buckets.delete(ns, bucket["_id"])
    with pytest.raises(ValidationFailed):
        source_for(stores, conn, {})


def test_collection_destination_is_idempotent_and_collection_source_reads_it(stores, ns):
    col = {"_id": "col_target", "namespace_id": ns, "collection_name": "target", "source": {},
           "created_at": utcnow(), "updated_at": utcnow()}
    stores.collections.create(col)
    conn = {"_id": "conn_c", "namespace_id": ns, "type": "collection", "config": {"collection_id": None}}
    context = {**CONTEXT, "namespace_id": ns}
    with pytest.raises(ValidationFailed) as err:
        destination_for(stores, conn, {}, None)
    assert err.value.details[0]["path"] == "destination.collection"
    with destination_for(stores, conn, {"collection": "target"}, None) as dest:
        assert dest.kind == "collection"
        items = [(f"k{i}", {"i": i, "tag": "first"}) for i in range(5)]
        assert dest.write(items, context) == {}
        first = stores.documents.get("col_target", pipeline_document_id("pipe_test", "k0"))
        # the same keys again (a redelivered chunk): still one document per key, created_at kept
        assert dest.write([(k, {**r, "tag": "second"}) for k, r in items], context) == {}
    assert stores.documents.count(["col_target"]) == 5
    again = stores.documents.get("col_target", first["_id"])
    assert again["created_at"] == first["created_at"] and again["data"]["tag"] == "second"
    assert first["_id"].startswith("doc_") and len(first["_id"]) == 28
    assert (again["source_type"], again["source_id"], again["batch_id"], again["namespace_id"]) == \
        ("pipeline", "k0", None, ns)
    # a record MongoDB refuses (a "$"-prefixed top-level key inside data is fine; a NUL key is not)
    with destination_for(stores, conn, {"collection": "col_target"}, None) as dest:
        failed = dest.write([("good", {"x": 1}), ("bad", {"a\x00b": 1})], context)
    assert set(failed) == {"bad"} and stores.documents.count(["col_target"]) == 6

    src_conn = {**conn, "config": {"collection_id": "col_target"}}
    with source_for(stores, src_conn, {}) as src:
        rows = read_all(src, src.query({src.field_resolver()("i"): {"$lt": 2}}, None, None), 1)
        assert len(rows) == 2
        record = src.record(rows[0])
        assert record["document_id"] == rows[0]["_id"] and record["collection_id"] == "col_target"
        assert record["tag"] == "second" and record["updated_at"].endswith("Z")


# -- external MongoDB ----------------------------------------------------------------------------
def test_mongodb_source_reads_objectid_and_mixed_ids(stores, ns, external):
    coll = external["db"]["items"]
    base = datetime(2024, 3, 1)
    coll.insert_many([{"_id": ObjectId(), "n": i, "updated_at": base + timedelta(hours=i)} for i in range(6)]
                     + [{"_id": i, "n": 100 + i} for i in range(3)] + [{"_id": f"s{i}", "n": 200 + i}
                                                                       for i in range(2)])
    conn = mongo_connection(ns, external, "items")
    with source_for(stores, conn, {}) as src:
        assert src.kind == "mongodb" and src.field_resolver()("a.b") == "a.b"
        rows = read_all(src, src.query(None, None, None), 2)
        assert len(rows) == 11 and len({src.key(r) for r in rows}) == 11
        record = src.record(next(r for r in rows if isinstance(r["_id"], ObjectId)))
        assert isinstance(record["_id"], str) and record["updated_at"].endswith("Z")
        json.dumps([src.record(r) for r in rows])
        newer = read_all(src, src.query({"n": {"$lt": 100}}, datetime(2024, 3, 1, 2), None), 2)
        assert sorted(r["n"] for r in newer) == [3, 4, 5]
        assert [type(r["_id"]).__name__ for r in rows] == ["int"] * 3 + ["str"] * 2 + ["ObjectId"] * 6
        assert src.update_time(rows[0], None) is None  # no updated_at field
        assert src.update_time(rows[-1], None) == datetime(2024, 3, 1, 5)
    # source_spec may name another collection of the same database
    external["db"]["other"].insert_one({"_id": "x"})
    with source_for(stores, mongo_connection(ns, external), {"collection": "other"}) as src:
        assert [r["_id"] for r in read_all(src, src.query(None, None, None), 5)] == ["x"]
    with pytest.raises(ValidationFailed):
        source_for(stores, mongo_connection(ns, external), {})


def test_mongodb_destination_upserts_by_key(stores, ns, external):
    conn = mongo_connection(ns, external, "default_target")
    with destination_for(stores, conn, {"collection": "out"}, None) as dest:
        items = [(f"k{i}", {"i": i, "_id": "ignored"}) for i in range(4)]
        assert dest.write(items, CONTEXT) == {}
        assert dest.write([(k, {**r, "v": 2}) for k, r in items], CONTEXT) == {}
        # per-item failures map to their keys: one refused by the server (a unique index of the
        # receiver's), one pymongo cannot encode (a NUL in a field name); the rest are written
        external["db"]["out"].create_index("email", unique=True, sparse=True)
        failed = dest.write([("e1", {"email": "a@x"}), ("e2", {"email": "a@x"}), ("nul", {"a\x00b": 1})],
                            CONTEXT)
        assert set(failed) == {"e2", "nul"} and "duplicate key" in failed["e2"]
        failed = dest.write([("ok", {"a": 1}), ("bad", {"a\x00b": 1})], CONTEXT)
        assert set(failed) == {"bad"}
    out = external["db"]["out"]
    assert out.count_documents({}) == 6  # k0-k3, e1, ok
    assert out.find_one({"_id": "k1"}) == {"_id": "k1", "i": 1, "v": 2}
    with destination_for(stores, conn, {}, None) as dest:  # config.collection as the default target
        assert dest.write([("a", {"x": 1})], CONTEXT) == {}
    assert external["db"]["default_target"].count_documents({}) == 1


# -- webhook -------------------------------------------------------------------------------------
def test_webhook_retries_5xx_signs_and_keeps_idempotency_keys(stores):
    items = [(f"k{i}", {"i": i, "when": datetime(2024, 1, 1)}) for i in range(3)]
    with HookServer([500, 500]) as hook:
        with destination_for(stores, webhook_connection(hook.url), {}, None) as dest:
            assert dest.kind == "webhook"
            assert dest.write(items, CONTEXT) == {}
            first_round = list(hook.requests)
            # the same chunk redelivered: the same batches under the same Idempotency-Keys
            assert dest.write(items, CONTEXT) == {}
    assert len(first_round) == 4  # 2 failures + 2 batches (batch_size 2)
    keys = [r["headers"]["Idempotency-Key"] for r in first_round]
    assert keys == ["run_1:0:0", "run_1:0:0", "run_1:0:0", "run_1:0:1"]
    assert [r["headers"]["Idempotency-Key"] for r in hook.requests[4:]] == ["run_1:0:0", "run_1:0:1"]
    for req in hook.requests:
        h = req["headers"]
        assert verify("whsec_test", req["body"], h["X-Sluice-Signature"])
        assert h["Content-Type"] == "application/json" and h["Authorization"] == "Bearer tok"
        assert int(h["X-Sluice-Timestamp"]) > 0
    body = json.loads(first_round[2]["body"])
    assert body == {"pipeline_id": "pipe_test", "run_id": "run_1", "chunk_id": "run_1:0",
                    "records": [{"key": "k0", "record": {"i": 0, "when": "2024-01-01T00:00:00.000Z"}},
                                {"key": "k1", "record": {"i": 1, "when": "2024-01-01T00:00:00.000Z"}}]}


def test_webhook_4xx_fails_that_batch_only_and_5xx_gives_up_after_max_attempts(stores, caplog):
    items = [(f"k{i}", {"i": i}) for i in range(4)]
    with HookServer([400], body=b"missing field 'x' " + b"y" * 300) as hook:
        with destination_for(stores, webhook_connection(hook.url), {}, None) as dest:
            failed = dest.write(items, CONTEXT)
    assert set(failed) == {"k0", "k1"} and len(hook.requests) == 2  # a 400 is not retried
    assert failed["k0"].startswith("HTTP 400: missing field 'x' ") and len(failed["k0"]) == len("HTTP 400: ") + 200

    with HookServer([503] * 10) as hook:
        conn = webhook_connection(hook.url, max_attempts=2, batch_size=10)
        with destination_for(stores, conn, {}, None) as dest:
            failed = dest.write(items, CONTEXT)
    assert set(failed) == {"k0", "k1", "k2", "k3"} and len(hook.requests) == 2
    assert failed["k0"].startswith("HTTP 503 after 2 attempt(s)")
    assert "whsec_test" not in caplog.text and "Bearer tok" not in caplog.text


def test_webhook_unreachable_fails_records_without_leaking_secrets(stores):
    with HookServer() as hook:
        url = hook.url.replace("/hook", "/hook?token=sekrit-token")
    # the server is gone: connection refused on every attempt
    conn = webhook_connection(url, max_attempts=2)
    with destination_for(stores, conn, {}, None) as dest:
        failed = dest.write([("k", {"a": 1})], CONTEXT)
    assert list(failed) == ["k"] and "after 2 attempt(s)" in failed["k"]
    assert "sekrit-token" not in failed["k"]
