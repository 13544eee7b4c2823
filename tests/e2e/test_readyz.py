"""GET /readyz once a real worker process answers (without one: tests/integration/test_api_core.py)."""
from __future__ import annotations


def test_readyz_with_a_worker(admin, start_worker):
    w = start_worker(concurrency=1)
    resp = admin.client.get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["checks"] == {"mongo": "ok", "redis": "ok", "workers": "ok"} and w.name in body["workers"]
