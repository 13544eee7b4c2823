"""The Redis result backend does not grow without bound: every key a batch leaves behind
carries a TTL no longer than SLUICE_RESULT_EXPIRES_S, and control tasks store nothing."""
from __future__ import annotations

import pytest

from tests.support.batches import load_objects, wait_batch


def test_every_result_key_expires(api, services, start_worker):
    import redis

    if not services.started_redis:
        pytest.skip("inspects every key: needs a Redis the tests started")
    api.post("/v1/buckets", json={"bucket_name": "b"})
    load_objects(api, "b", 500, lambda i: {"data": {"i": i}})
    api.post("/v1/collections", json={"collection_name": "c", "source": {"type": "bucket", "bucket_id": "b"}})
    api.post("/v1/collections", json={"collection_name": "d", "source": {"type": "collection", "collection_id": "c"}})
    start_worker(env={"SLUICE_RESULT_EXPIRES_S": "600"})
    _, trig, _ = api.post("/v1/collections/c/trigger", json={})
    assert wait_batch(api, trig["batch_id"])["status"] == "COMPLETED"
    client = redis.Redis.from_url(services.redis_url)
    try:
        keys = [k.decode() for k in client.scan_iter("celery-task-meta-*")]
        assert keys, "chunk results are stored (chords need them)"
        ttls = {k: client.ttl(k) for k in keys}
        assert all(0 < t <= 600 for t in ttls.values()), ttls
        # only chunk tasks keep a result; start/tier callbacks are ignore_result
        assert all(":" in k.removeprefix("celery-task-meta-") for k in keys)
        assert not any(k.endswith((":start", ":done")) or ":tier" in k for k in keys)
        chord_keys = [k.decode() for k in client.scan_iter("chord-*")] + \
            [k.decode() for k in client.scan_iter("*.j")] + [k.decode() for k in client.scan_iter("*.t")]
        assert all(client.ttl(k) > 0 for k in chord_keys), {k: client.ttl(k) for k in chord_keys}
    finally:
        client.close()
