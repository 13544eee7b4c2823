"""The sluice SDK against a real stack: the API served over HTTP (werkzeug, in a thread), real
MongoDB and Redis, and real Celery worker processes. The seed-000 example runs verbatim, the
whole lifecycle runs through the SDK, and the SDK page's examples (docs/sdk.md) are executed."""
from __future__ import annotations

import dataclasses
import re
import threading
from typing import Iterator

import pytest

from sluice import Sluice
from tests.support.env import ADMIN_KEY
from tests.support.processes import REPO
from tests.support.waiting import wait_until


# Seed 000's example as the seed shows it; only `Mixpeek` becomes `Sluice` (and its module).
SEED_000 = '''from mixpeek import Mixpeek

mixpeek = Mixpeek("API_KEY")


pipeline_id = mixpeek.pipelines.create(
  alias="MyPipeline",
  code="function execute() { return true; }",
  source={
    "connection_id": "conn_456",
    "filters": {
      "foo": "bar"
    }
  },
  destination={
    "connection_id": "conn_431",
    "collection": "data_bucket",
    "metadata": {
      "type": "storage"
    }
  }
)'''


def serve(app) -> Iterator[str]:
    """The Flask app over real HTTP on a free loopback port."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture
def live(app) -> Iterator[str]:
    yield from serve(app)


@pytest.fixture
def seed_api(settings, mongo_client) -> Iterator[str]:
    """A server whose admin key is the seed's literal "API_KEY"."""
    from api.app import create_app

    app = create_app(dataclasses.replace(settings, admin_key="API_KEY"))
    try:
        yield from serve(app)
    finally:
        app.extensions["sluice.stores"].mongo.close()


def test_the_seed_000_example_runs_verbatim(seed_api, monkeypatch):
    setup = Sluice("API_KEY", url=seed_api, namespace="seeded", env={})
    setup.namespaces.create("seeded")
    setup.buckets.create("crm")
    setup.connections.create("conn_456", "bucket", {"bucket_id": "crm"})  # the ids the seed names
    setup.connections.create("conn_431", "collection")
    monkeypatch.setenv("SLUICE_URL", seed_api)
    monkeypatch.setenv("SLUICE_NAMESPACE", "seeded")
    code = SEED_000.replace("from mixpeek import Mixpeek", "from sluice import Sluice").replace("Mixpeek(", "Sluice(")
    scope: dict = {}
    exec(compile(code, "seed_000", "exec"), scope)  # noqa: S102 - the seed's own text
    made = scope["pipeline_id"]
    assert made["pipeline_id"].startswith("pipe_") and made["enabled"] is True
    assert made["connections"]["destination"]["metadata"] == {"type": "storage"}
    assert made["created"]["destination_collection"]["collection_name"] == "data_bucket"
    assert setup.collections.get("data_bucket")["feature_extractors"] == []


THROWS = "function transform(d) { if (d.word_count % 10 === 3) { throw new Error('no ' + d.word_count); } " \
         "return {words: d.word_count}; }"


def test_the_whole_lifecycle_through_the_sdk(live, start_worker):
    start_worker(queues="streaming,control,default", concurrency=2)
    admin = Sluice(ADMIN_KEY, url=live, namespace=None, env={})
    admin.namespaces.create("life")
    key = admin.api_keys.create("life-key", namespaces=["life"])["secret"]
    client = Sluice(key, url=live, namespace="life", env={})
    client.buckets.create("docs", unique_key={"fields": ["n"]},
                          schema={"properties": {"n": {"type": "integer"}, "text": {"type": "text"}}})

    progress: list[tuple[int, int | None]] = []
    items = [{"data": {"n": i, "text": " ".join(["word"] * (1 + i % 20))}} for i in range(5000)]
    upload = client.objects.upload("docs", items, progress=lambda done, total: progress.append((done, total)))
    assert upload["summary"] == {"created": 5000} and len(upload["results"]) == 5000
    assert progress[-1] == (5000, 5000) and len(progress) == 5  # split into the server's 1,000

    client.collections.create("stats", {"type": "bucket", "bucket_id": "docs"}, feature_extractors=[
        {"feature_extractor_name": "text_stats", "input_mapping": {"text": "text"}}])
    client.collections.create("words", {"type": "collection", "collection_id": "stats"}, feature_extractors=[
        {"feature_extractor_name": "js_transform", "parameters": {"code": THROWS,
                                                                  "output_fields": {"words": "integer"}}}])
    first = client.collections.trigger("stats", idempotency_key="life-1")
    again = client.collections.trigger("stats", idempotency_key="life-1")
    assert again["batch_id"] == first["batch_id"] and first["total_tiers"] == 2

    view = client.batches.wait(first["batch_id"], timeout=240)
    assert view["status"] == "COMPLETED_WITH_ERRORS", view
    # word counts run 1..20: those ending in 3 (3 and 13 words, a tenth) throw in tier 1
    assert [t["counters"]["processed"] for t in view["tiers"]] == [5000, 4500]
    failed = list(client.batches.failed_documents(first["batch_id"]))
    assert len(failed) == 500 and {f["code"] for f in failed} == {"JS_ERROR"}
    assert client.tasks.wait(first["task_id"], timeout=5)["status"] == "COMPLETED_WITH_ERRORS"
    assert sum(1 for _ in client.documents.list("words")) == 4500  # pages followed for us

    src = client.connections.create("words-in", "collection", {"collection_id": "words"})
    dst = client.connections.create("digest-out", "collection")
    assert client.connections.test(src["connection_id"])["ok"] is True
    pipe = client.pipelines.create(alias="digest", code="function transform(r) { return r.words > 10 ? r : null; }",
                                   source={"connection_id": src["connection_id"]},
                                   destination={"connection_id": dst["connection_id"], "collection": "digest"})
    run = client.runs.wait(client.pipelines.run(pipe["pipeline_id"])["id"], timeout=120, raise_on_failure=True)
    assert run["status"] == "COMPLETED" and run["passed"][0] == 4500
    assert client.collections.get("digest")["document_count"] == run["passed"][-1] > 0

    client.collections.create("mirror", {"type": "bucket", "bucket_id": "docs"})
    sp = client.streaming_pipelines.create(
        name="docs-mirror", streamingSource={"connection": {"connectionId": client.connections.create(
            "docs-src", "bucket", {"bucket_id": "docs"})["connection_id"]}},
        streamingTarget={"connection": {"connectionId": client.connections.create(
            "mirror-dst", "collection", {"collection_id": "mirror"})["connection_id"]}},
        advancedProperties={"maxBatchSize": 500, "maxBatchWaitMs": 200})
    sid = sp["streamingPipelineId"]
    assert client.streaming_pipelines.start(sid, snapshot=False)["command"] == "START"
    wait_until(lambda: client.streaming_pipelines.status(sid)["status"] == "STREAMING", 90, interval=0.2,
               message="the streaming pipeline to stream")
    client.streaming_pipelines.stop(sid)
    wait_until(lambda: client.streaming_pipelines.status(sid)["status"] == "NOT_RUNNING", 60, interval=0.2,
               message="the streaming pipeline to stop")
    assert [p["streamingPipelineId"] for p in client.streaming_pipelines.list()] == [sid]


def readme_sdk_blocks() -> list[str]:
    """The examples of docs/sdk.md, before its first second-level section."""
    page = (REPO / "docs" / "sdk.md").read_text()
    section = page.split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_sdk_examples_run(live, start_worker, monkeypatch):
    start_worker(concurrency=2)
    admin = Sluice(ADMIN_KEY, url=live, namespace=None, env={})
    admin.namespaces.create("default")
    monkeypatch.setenv("SLUICE_URL", live)
    monkeypatch.setenv("SLUICE_API_KEY", ADMIN_KEY)
    blocks = readme_sdk_blocks()
    assert len(blocks) >= 3
    scope: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/sdk.md SDK block {i}", "exec"), scope)  # noqa: S102
    assert scope["view"]["status"] == "COMPLETED"
