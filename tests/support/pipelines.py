"""Connections and pipeline runs: creating connections through the API, waiting for a run, and
the connector tests' stored connection and chunk context."""
from __future__ import annotations

from tests.support.batches import TERMINAL, wait_terminal

RUN_TERMINAL = TERMINAL
# What a Source or Destination is handed for one chunk of a run.
CONTEXT = {"pipeline_id": "pipe_test", "run_id": "run_1", "chunk_id": "run_1:0", "namespace_id": "?"}


def wait_run(api, run_id: str, timeout: float = 90) -> dict:
    return wait_terminal(api, f"/v1/pipelines/runs/{run_id}", timeout, f"run {run_id}")


def create_connection(api, name: str, conn_type: str, config: dict) -> dict:
    status, body, _ = api.post("/v1/connections", json={"name": name, "type": conn_type, "config": config})
    assert status == 201, body
    return body


def connection(api, name: str, type_: str, config: dict) -> str:
    """create_connection, for the tests that need only its id."""
    return create_connection(api, name, type_, config)["connection_id"]


def webhook_connection(url: str, **config) -> dict:
    return {"_id": "conn_w", "namespace_id": "ns", "type": "webhook",
            "config": {"url": url, "secret": "whsec_test", "headers": {"Authorization": "Bearer tok"},
                       "batch_size": 2, "timeout_s": 5, "max_attempts": 5, **config}}


def pipeline(api, name: str) -> str:
    """A bucket-to-collection pipeline over the tenant's `items`."""
    status, body, _ = api.post("/v1/collections", json={"collection_name": f"{name}-out",
                                                       "source": {"type": "bucket", "bucket_id": "items"}})
    assert status == 201, body
    ids = []
    for conn, type_, config in ((f"{name}-src", "bucket", {"bucket_id": "items"}),
                                (f"{name}-dst", "collection", {"collection_id": f"{name}-out"})):
        status, body, _ = api.post("/v1/connections", json={"name": conn, "type": type_, "config": config})
        assert status == 201, body
        ids.append(body["connection_id"])
    status, body, _ = api.post("/v1/pipelines", json={
        "alias": name, "transformation_code": "function transform(r) { return {k: r.k, twice: r.v * 2}; }",
        "source": {"connection_id": ids[0]}, "destination": {"connection_id": ids[1]}})
    assert status == 201, body
    return body["pipeline_id"]


def run_view(api, run_id: str) -> dict:
    status, body, _ = api.get(f"/v1/pipelines/runs/{run_id}")
    assert status == 200, body
    return body
