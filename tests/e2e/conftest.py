"""Fixtures of the end-to-end tests (real Celery worker processes: `start_worker`, `start_beat`
and the services are in tests/conftest.py)."""
from __future__ import annotations

import pytest

from tests.support.http import FlakyReceiver


@pytest.fixture
def three_tier(api):
    """Bucket `articles` → collection `chunks` (text_splitter) → `shouty` (js_transform) →
    `stats` (text_stats + taxonomy `topics`): a three-tier DAG."""
    assert api.post("/v1/buckets", json={
        "bucket_name": "articles", "unique_key": {"fields": ["sku"]},
        "schema": {"properties": {"sku": {"type": "string"}, "body": {"type": "text"}}}})[0] == 201
    status, tax, _ = api.post("/v1/taxonomies", json={"taxonomy_name": "topics", "nodes": [
        {"node_id": "sport", "label": "Sport", "rule": {"keywords": ["football"]}},
        {"node_id": "goal", "label": "Goals", "parent_id": "sport", "rule": {"keywords": ["goal"]}},
        {"node_id": "long", "label": "Long", "rule": {"filters": {"AND": [
            {"field": "word_count", "operator": "gte", "value": 10}]}}}]})
    assert status == 201, tax
    status, a, _ = api.post("/v1/collections/create", json={
        "collection_name": "chunks", "source": {"type": "bucket", "bucket_id": "articles"},
        "feature_extractors": [{"feature_extractor_name": "text_splitter",
                                "parameters": {"unit": "words", "size": 15, "overlap": 0},
                                "input_mapping": {"text": "body"}}]})
    assert status == 201, a
    status, b, _ = api.post("/v1/collections", json={
        "collection_name": "shouty", "source": {"type": "collection", "collection_id": "chunks"},
        "feature_extractors": [{"feature_extractor_name": "js_transform", "parameters": {
            "code": "function transform(d) { return {text: d.text.toUpperCase(), sku: d.sku, n: d.chunk_index}; }",
            "output_fields": {"text": "string", "sku": "string", "n": "integer"}}}]})
    assert status == 201, b
    status, c, _ = api.post("/v1/collections", json={
        "collection_name": "stats", "source": {"type": "collection", "collection_id": "shouty"},
        "feature_extractors": [{"feature_extractor_name": "text_stats", "input_mapping": {"text": "text"}}],
        "taxonomy_applications": [{"taxonomy_id": "topics"}]})
    assert status == 201, c
    return a, b, c


@pytest.fixture
def event_receiver():
    """A FlakyReceiver for completion events (register it with SECRET from tests.support.http)."""
    r = FlakyReceiver()
    yield r
    r.close()


@pytest.fixture
def stores(app):
    """The stores of the API app the test drives (the same database the workers use)."""
    return app.extensions["sluice.stores"]
