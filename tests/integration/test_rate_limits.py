"""Request budgets: a token bucket per API key and per namespace, kept in Redis so every API
process spends from the same one."""
from __future__ import annotations

import statistics
import time

import pytest

from tests.support.api import Api


@pytest.fixture
def second_app(settings):
    """Another API instance over the same MongoDB and Redis (as a second gunicorn process)."""
    from api.app import create_app

    other = create_app(settings, ensure_indexes=False)
    yield other
    other.extensions["sluice.stores"].mongo.close()


def key(admin, name: str) -> tuple[str, str]:
    status, body, _ = admin.post("/v1/api-keys", json={"name": name, "namespaces": "*"})
    assert status == 201, body
    return body["key_id"], body["secret"]


def test_a_key_over_its_budget_gets_429_while_another_key_keeps_its_latency(api, admin, second_app):
    tight_id, tight = key(admin, "tight-loop")
    _, calm = key(admin, "calm")
    status, body, _ = admin.patch(f"/v1/api-keys/{tight_id}", json={"rate_limit": {"requests_per_second": 0.5,
                                                                                    "burst": 6}})
    assert status == 200 and body["rate_limit"] == {"requests_per_second": 0.5, "burst": 6}, body
    one, two = api.as_(key=tight), Api(second_app.test_client(), tight, "default-ns")
    seen = [c.get("/v1/pipelines")[0] for c in (one, two, one, two, one, two)]
    assert seen == [200] * 6, "the burst is shared by both API processes"
    status, err, resp = two.get("/v1/pipelines")
    assert status == 429 and err["error"]["code"] == "rate_limited", err
    assert err["error"]["details"][0]["path"] == "Authorization"
    assert int(resp.headers["Retry-After"]) >= 1
    assert resp.headers["RateLimit-Limit"] == "6" and resp.headers["RateLimit-Remaining"] == "0"
    assert one.get("/v1/pipelines")[0] == 429
    calm_api = api.as_(key=calm)
    latencies = []
    for _ in range(20):
        t0 = time.perf_counter()
        status, _, resp = calm_api.get("/v1/pipelines")
        latencies.append(time.perf_counter() - t0)
        assert status == 200 and int(resp.headers["RateLimit-Remaining"]) > 0
    print(f"\ncalm key while the other is limited: median {statistics.median(latencies) * 1000:.1f} ms")
    assert statistics.median(latencies) < 0.5


def test_a_namespace_budget_covers_all_its_keys_and_the_admin_is_not_limited(api, admin):
    status, body, _ = admin.patch("/v1/namespaces/default-ns", json={"limits": {"requests_per_second": 0.5,
                                                                                "burst": 3}})
    assert status == 200 and body["limits"]["burst"] == 3
    _, a = key(admin, "a")
    _, b = key(admin, "b")
    assert [api.as_(key=k).get("/v1/pipelines")[0] for k in (a, b, a)] == [200, 200, 200]
    status, err, _ = api.as_(key=b).get("/v1/pipelines")
    assert status == 429 and err["error"]["details"][0]["path"] == "X-Namespace"
    assert all(api.get("/v1/pipelines")[0] == 200 for _ in range(5))   # the admin key


def test_bad_limits_are_400s_naming_the_field(admin, api):
    status, body, _ = admin.patch("/v1/namespaces/default-ns", json={"limits": {"burst": 0, "nope": 1}})
    assert status == 400
    paths = {d["path"] for d in body["error"]["details"]}
    assert {"limits.burst", "limits.nope"} <= paths, body
    status, body, _ = admin.patch("/v1/namespaces/default-ns", json={"limits": {"default_priority": "urgent"}})
    assert status == 400 and body["error"]["details"][0]["path"] == "limits.default_priority"
