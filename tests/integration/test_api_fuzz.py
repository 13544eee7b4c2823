"""Property-based fuzzing of every route from the API's own `/v1/openapi.json` (schemathesis),
against the real app in-process with a real MongoDB, authenticated, in a namespace with
data in it: path parameters are the ids of resources created first, so deeper paths are
reached, and generated ids cover the 404s. Checks: no 5xx, responses conform to the
documented status codes and schemas.

Bounded and deterministic: seeded (derandomized), no example database, a fixed number of
examples per operation (SLUICE_FUZZ_EXAMPLES, default 12; raise it for a long local run:
SLUICE_FUZZ_EXAMPLES=500 ./dev test tests/integration/test_api_fuzz.py -s). Deleting
operations run last so they cannot take the data away from the others.
"""
from __future__ import annotations

import os
import re
import time
from typing import Any

import pytest


OPS_ORDER = {"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}


@pytest.fixture
def seeded(api, admin) -> dict[str, str]:
    """Resources of every kind in namespace `default-ns`; {path segment: id to put after it}."""
    def ok(result, *codes):
        status, body, _ = result
        assert status in (codes or (200, 201)), body
        return body

    ok(api.post("/v1/buckets", json={"bucket_name": "fz", "unique_key": {"fields": ["k"]},
                                     "schema": {"properties": {"k": {"type": "string"}, "t": {"type": "text"}}}}))
    obj = ok(api.post("/v1/buckets/fz/objects", json={"data": {"k": "one", "t": "football goal"}}))
    ok(api.post("/v1/buckets/fz/objects/batch", json={"objects": [{"data": {"k": f"k{i}"}} for i in range(5)]}))
    tax = ok(api.post("/v1/taxonomies", json={"taxonomy_name": "tx", "nodes": [
        {"node_id": "s", "label": "Sport", "rule": {"keywords": ["football"]}}]}))
    col = ok(api.post("/v1/collections", json={"collection_name": "fzc", "source": {"type": "bucket",
                                                                                     "bucket_id": "fz"}}))
    trig = ok(api.post("/v1/collections/fzc/trigger", json={}))
    src = ok(api.post("/v1/connections", json={"name": "fz-src", "type": "bucket", "config": {"bucket_id": "fz"}}))
    dst = ok(api.post("/v1/connections", json={"name": "fz-dst", "type": "collection",
                                               "config": {"collection_id": "fzc"}}))
    pipe = ok(api.post("/v1/pipelines", json={"alias": "fzp", "code": "function transform(r) { return r; }",
                                              "source": {"connection_id": src["connection_id"]},
                                              "destination": {"connection_id": dst["connection_id"]}}))
    run = ok(api.post(f"/v1/pipelines/{pipe['pipeline_id']}/runs", json={}))
    hook = ok(api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["batch.completed"]}))
    ns = ok(admin.get("/v1/namespaces/default-ns"))
    key = ok(admin.post("/v1/api-keys", json={"name": "fz", "namespaces": ["default-ns"]}))
    stream = ok(api.post("/v1/projects/default-ns/streaming-pipelines", json={
        "name": "fzs", "streamingSource": {"connection": {"connectionId": src["connection_id"]}},
        "streamingTarget": {"connection": {"connectionId": dst["connection_id"]}}}))
    return {"buckets": "fz", "bucket": "fz", "objects": obj["object_id"], "collections": "fzc",
            "documents": "doc_none", "batches": trig["batch_id"], "tasks": trig["task_id"],
            "connections": src["connection_id"], "pipelines": pipe["pipeline_id"], "runs": run["id"],
            "taxonomies": tax["taxonomy_id"], "webhooks": hook["webhook_id"], "deliveries": "dlv_none",
            "namespaces": ns["namespace_name"], "projects": "default-ns", "api-keys": key["key_id"],
            "streaming-pipelines": stream["streamingPipelineId"], "feature-extractors": "js_transform"}


def known_parameters(path: str, ids: dict[str, str]) -> dict[str, str]:
    """The seeded id for each path parameter, by the collection segment before it."""
    out, segments = {}, path.strip("/").split("/")
    for i, seg in enumerate(segments):
        m = re.fullmatch(r"\{(.+)\}", seg)
        if m and i and segments[i - 1] in ids:
            out[m.group(1)] = ids[segments[i - 1]]
    return out


def test_no_route_answers_5xx_or_off_schema(app, api, seeded):
    import hypothesis
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings, strategies as st
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                                   status_code_conformance)

    examples = int(os.environ.get("SLUICE_FUZZ_EXAMPLES", "12"))
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app)
    ops = [r.ok() for r in schema.get_all_operations()]
    ops.sort(key=lambda op: (OPS_ORDER.get(op.method.lower(), 9), "namespaces" in op.path, op.path))
    headers = api.headers()
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: dict[str, str] = {}
    requests = 0
    started = time.monotonic()

    for op in ops:
        fixed = known_parameters(op.path, seeded)
        strategies = [op.as_strategy(mode, headers=headers, path_parameters=fixed)
                      for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)]
        if fixed:
            strategies.append(op.as_strategy(headers=headers))      # generated ids: the 404 paths

        @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                  verbosity=hypothesis.Verbosity.quiet)
        @given(case=st.one_of(strategies))
        def fuzz(case: Any) -> None:
            nonlocal requests
            requests += 1
            case.call_and_validate(checks=checks)

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect them all, then report
            failures[f"{op.method.upper()} {op.path}"] = str(exc)[:3000]
    print(f"\nfuzz: {len(ops)} operations, {requests} requests, {examples} examples each, "
          f"{time.monotonic() - started:.1f}s, {len(failures)} failing operations")
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
