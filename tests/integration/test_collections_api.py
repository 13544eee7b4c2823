"""Collections, feature extractors and taxonomies through the API (no worker needed)."""
from __future__ import annotations

import pytest


SEED_BODY = {
    "collection_name": "people",
    "description": "seed example",
    "source": {"type": "bucket", "bucket_id": "crm", "prefix_key": "people/",
               "filters": {"AND": [{"field": "name", "operator": "eq", "value": "John"},
                                   {"field": "age", "operator": "gte", "value": 30}],
                           "OR": [{"field": "status", "operator": "eq", "value": "active"},
                                  {"field": "role", "operator": "eq", "value": "admin"}],
                           "NOT": [{"field": "department", "operator": "eq", "value": "HR"},
                                   {"field": "location", "operator": "eq", "value": "remote"}],
                           "case_sensitive": True}},
    "feature_extractors": [{"feature_extractor_name": "text_stats", "version": "v1", "parameters": {},
                            "input_mapping": {"text": "bio"}, "output_mapping": {"word_count": "words"},
                            "document_output_type": "single", "document_input_handling": "individual",
                            "document_output_handling": "create_new"}],
    "taxonomy_applications": [],
    "enabled": True, "metadata": {"team": "x"},
    "document_handling": {"output_type": "single"},
    "cache_config": {"enabled": True, "ttl_seconds": 604800, "invalidation_strategy": "replace_if_better",
                     "max_entries_per_key": 5, "score_threshold": 123,
                     "invalidation_events": [{"collection": "c", "action": "update",
                                              "recompute_strategy": "background", "retriever_id": "r"}],
                     "retriever_configs": {}},
}

SEED_RESPONSE_FIELDS = {"collection_name", "collection_id", "description", "metadata", "enabled",
                        "source_lineage", "feature_extractors", "status", "output_schema",
                        "taxonomy_applications", "cache_config"}


@pytest.fixture
def crm(api):
    status, body, _ = api.post("/v1/buckets", json={"bucket_name": "crm", "schema": {"properties": {
        "name": {"type": "string"}, "age": {"type": "integer"}, "bio": {"type": "text"},
        "status": {"type": "string"}, "role": {"type": "string"}, "department": {"type": "string"},
        "location": {"type": "string"}}}})
    assert status == 201, body
    return body


def test_feature_extractor_catalogue(api):
    status, body, _ = api.get("/v1/feature-extractors")
    names = {e["name"] for e in body["results"]}
    assert {"text_splitter", "js_transform", "text_stats", "field_mapper", "content_hash"} <= names
    status, one, _ = api.get("/v1/feature-extractors/text_splitter")
    assert status == 200 and one["output_type"] == "multiple"
    assert "size" in one["parameters_schema"]["properties"] and "text" in one["input_fields"]
    assert one["versions"]
    assert api.get("/v1/feature-extractors/nope")[0] == 404


def test_seed_create_request_works_and_response_has_seed_fields(api, crm):
    status, body, _ = api.post("/v1/collections/create", json=SEED_BODY)
    assert status == 201, body
    assert SEED_RESPONSE_FIELDS <= set(body)
    assert body["status"] == "DONE" and body["collection_id"].startswith("col_")
    lineage = body["source_lineage"]
    assert len(lineage) == 1 and lineage[0]["source_type"] == "bucket"
    assert lineage[0]["bucket_id"] == crm["bucket_id"]
    assert lineage[0]["bucket_config"]["prefix_key"] == "people/"
    props = body["output_schema"]["properties"]
    assert props["words"]["type"] == "integer" and "sentence_count" in props and "bio" in props
    assert body["cache_config"]["ttl_seconds"] == 604800


def test_collection_validation_lists_every_problem_with_paths(api, crm):
    bad = {
        "collection_name": "bad",
        "source": {"type": "bucket", "bucket_id": "nope", "filters": {"AND": [{"field": "x", "operator": "equals",
                                                                            "value": 1}]}},
        "feature_extractors": [
            {"feature_extractor_name": "no_such_thing"},
            {"feature_extractor_name": "text_splitter", "parameters": {"size": 0, "bogus": 1}},
            {"feature_extractor_name": "js_transform", "parameters": {"code": "function transform(d) { return d"}},
        ],
    }
    status, body, _ = api.post("/v1/collections", json=bad)
    assert status == 400
    paths = {d["path"] for d in body["error"]["details"]}
    assert "source.bucket_id" in paths and "source.filters.AND.0.operator" in paths
    assert "feature_extractors.0.feature_extractor_name" in paths
    assert {"feature_extractors.1.parameters.size", "feature_extractors.1.parameters.bogus"} <= paths
    js = next(d for d in body["error"]["details"] if d["path"].startswith("feature_extractors.2.parameters.code"))
    assert "line" in js and "column" in js
    # unknown version; input_mapping naming a field the bucket schema lacks
    status, body, _ = api.post("/v1/collections", json={
        "collection_name": "bad2", "source": {"type": "bucket", "bucket_id": "crm"},
        "feature_extractors": [{"feature_extractor_name": "text_stats", "version": "v99"}]})
    assert status == 400
    assert [d["path"] for d in body["error"]["details"]] == ["feature_extractors.0.version"]
    status, body, _ = api.post("/v1/collections", json={
        "collection_name": "bad3", "source": {"type": "bucket", "bucket_id": "crm"},
        "feature_extractors": [{"feature_extractor_name": "text_stats", "input_mapping": {"text": "missing_field"}},
                               {"feature_extractor_name": "text_stats", "input_mapping": {"nope": "bio"}}]})
    assert status == 400
    paths = {d["path"] for d in body["error"]["details"]}
    # the second one also lacks its required `text` input: the source has no such field
    assert paths == {"feature_extractors.0.input_mapping.text", "feature_extractors.1.input_mapping.nope",
                     "feature_extractors.1.input_mapping.text"}
    # marshmallow-level: unknown fields and bad enums
    status, body, _ = api.post("/v1/collections", json={"collection_name": "x", "source": {"type": "ftp"},
                                                        "surprise": 1})
    assert status == 400
    assert {d["path"] for d in body["error"]["details"]} == {"source.type", "surprise"}
    assert api.post("/v1/collections/list", json={})[1]["pagination"]["total"] == 0  # nothing half-written


def test_collection_chain_lineage_patch_delete_and_cycle(api, crm):
    assert api.post("/v1/collections", json={"collection_name": "a", "source": {"type": "bucket", "bucket_id": "crm"},
                                             "feature_extractors": [{"feature_extractor_name": "text_stats",
                                                                     "input_mapping": {"text": "bio"}}]})[0] == 201
    status, b, _ = api.post("/v1/collections", json={
        "collection_name": "b", "source": {"type": "collection", "collection_id": "a"},
        "feature_extractors": [{"feature_extractor_name": "content_hash", "parameters": {"fields": ["bio"]}}]})
    assert status == 201, b
    assert [x["collection_id"] for x in b["source_lineage"]][-1] == b["collection_id"]
    assert len(b["source_lineage"]) == 2
    assert {"content_hash", "simhash", "word_count"} <= set(b["output_schema"]["properties"])
    # input_mapping checked against the upstream collection's output_schema
    status, body, _ = api.post("/v1/collections", json={
        "collection_name": "c", "source": {"type": "collection", "collection_id": "b"},
        "feature_extractors": [{"feature_extractor_name": "text_stats", "input_mapping": {"text": "nothing"}}]})
    assert status == 400 and body["error"]["details"][0]["path"] == "feature_extractors.0.input_mapping.text"
    status, body, _ = api.patch("/v1/collections/b", json={"description": "d", "enabled": False})
    assert status == 200 and body["enabled"] is False and body["description"] == "d"
    status, body, _ = api.patch("/v1/collections/b", json={"source": {}})
    assert status == 400 and body["error"]["details"][0]["path"] == "source"
    status, body, _ = api.post("/v1/collections/b/trigger", json={})
    assert status == 422 and body["error"]["message"] == "collection is disabled"
    status, body, _ = api.delete("/v1/collections/a")
    assert status == 409 and body["error"]["code"] == "collection_in_use"
    status, body, _ = api.delete("/v1/buckets/crm")
    assert status == 409 and body["error"]["code"] == "bucket_in_use"
    assert api.delete("/v1/collections/b")[0] == 200
    assert api.delete("/v1/collections/a")[0] == 200
    assert api.get("/v1/collections/a")[0] == 404


def test_taxonomy_crud_and_validation(api, crm):
    status, body, _ = api.post("/v1/taxonomies", json={"taxonomy_name": "t", "nodes": [
        {"node_id": "a", "label": "A", "rule": {"keywords": ["x"]}},
        {"node_id": "a", "label": "dup"},
        {"node_id": "b", "label": "B", "parent_id": "ghost",
         "rule": {"filters": {"AND": [{"field": "f", "operator": "bad", "value": 1}]}}}]})
    assert status == 400
    assert {d["path"] for d in body["error"]["details"]} == {"nodes.1.node_id", "nodes.2.parent_id",
                                                             "nodes.2.rule.filters.AND.0.operator"}
    status, tax, _ = api.post("/v1/taxonomies", json={"taxonomy_name": "t", "nodes": [
        {"node_id": "a", "label": "A", "rule": {"keywords": ["x"]}}]})
    assert status == 201 and tax["taxonomy_id"].startswith("tax_")
    assert api.get("/v1/taxonomies")[1]["pagination"]["total"] == 1
    assert api.post("/v1/collections", json={"collection_name": "labelled",
                                             "source": {"type": "bucket", "bucket_id": "crm"},
                                             "taxonomy_applications": [{"taxonomy_id": "t"}]})[0] == 201
    status, body, _ = api.delete("/v1/taxonomies/t")
    assert status == 409
    status, body, _ = api.post("/v1/collections", json={"collection_name": "x",
                                                        "source": {"type": "bucket", "bucket_id": "crm"},
                                                        "taxonomy_applications": [{"taxonomy_id": "nope"}]})
    assert status == 400 and body["error"]["details"][0]["path"] == "taxonomy_applications.0.taxonomy_id"


def test_trigger_validation(api, crm):
    api.post("/v1/buckets", json={"bucket_name": "other"})
    api.post("/v1/collections", json={"collection_name": "c", "source": {"type": "bucket", "bucket_id": "crm"}})
    status, body, _ = api.post("/v1/collections/c/trigger", json={
        "include_buckets": ["crm", "other", "ghost"],
        "source_filters": {"AND": [{"field": "status", "operator": "nope", "value": 1}]}})
    assert status == 400
    assert {d["path"] for d in body["error"]["details"]} == {"include_buckets.1", "include_buckets.2",
                                                             "source_filters.AND.0.operator"}
    assert api.post("/v1/collections/ghost/trigger", json={})[0] == 404
    assert api.post("/v1/batches/list", json={})[1]["pagination"]["total"] == 0
