"""`sluice apply` spec handling, without a server: loading, checking, ordering, diffing."""
from __future__ import annotations

import json

import pytest

from cli.diff import (diff_bucket, diff_collection, diff_connection, diff_pipeline, diff_taxonomy,
                             pipeline_body)
from cli.spec import SpecError, load_spec, parse_spec, plan
from tests.support.processes import REPO

IDS = {("bucket", "articles"): "bkt_1", ("collection", "chunks"): "col_1", ("collection", "out"): "col_2",
       ("taxonomy", "topics"): "tax_1", ("connection", "src"): "conn_1", ("connection", "dst"): "conn_2"}


def resolve(kind: str, ref: str) -> str | None:
    if ref.split("_")[0] in ("bkt", "col", "tax", "conn"):
        return ref
    return IDS.get((kind, ref))


def order(spec: dict) -> list[str]:
    return [f"{r.kind}:{r.name}" for r in plan(parse_spec(spec)[1])]


# -- loading -------------------------------------------------------------------------------
def test_load_yaml_and_json_by_extension(tmp_path):
    (tmp_path / "s.yaml").write_text("namespace: demo\nbuckets:\n  - bucket_name: a\n")
    (tmp_path / "s.json").write_text(json.dumps({"buckets": [{"bucket_name": "a"}]}))
    (tmp_path / "empty.yml").write_text("")
    assert load_spec(tmp_path / "s.yaml") == {"namespace": "demo", "buckets": [{"bucket_name": "a"}]}
    assert load_spec(tmp_path / "s.json") == {"buckets": [{"bucket_name": "a"}]}
    assert load_spec(tmp_path / "empty.yml") == {}


@pytest.mark.parametrize("name,text,message", [
    ("bad.json", "{nope", "not valid JSON"),
    ("bad.yaml", "a: [1, 2", "not valid YAML"),
    ("list.yaml", "- 1\n- 2\n", "must be a mapping"),
])
def test_load_rejects_what_is_not_a_spec(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(SpecError, match=message):
        load_spec(tmp_path / name)


def test_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "absent.yaml")


def test_every_problem_is_listed_with_its_path():
    with pytest.raises(SpecError) as info:
        parse_spec({"namespace": "", "bukets": [], "buckets": [{"bucket_name": "a"}, {"bucket_name": "a"}, {}],
                    "collections": [{"collection_name": "c"}],
                    "pipelines": [{"alias": "p", "source": {}, "destination": {"connection_id": "d"}, "x": 1}]})
    paths = {d["path"]: d["message"] for d in info.value.details}
    assert set(paths) == {"namespace", "bukets", "buckets.1.bucket_name", "buckets.2.bucket_name",
                          "collections.0.source", "pipelines.0.x", "pipelines.0.code",
                          "pipelines.0.source.connection_id"}
    assert "duplicate" in paths["buckets.1.bucket_name"]


def test_the_example_spec_is_valid_and_ordered():
    namespace, resources = parse_spec(load_spec(REPO / "examples" / "sluice.yaml"))
    assert namespace == "examples"
    names = [f"{r.kind}:{r.name}" for r in plan(resources)]
    assert names.index("collection:chunks") < names.index("collection:chunk-stats")
    assert names.index("collection:digest") < names.index("connection:digest-dst") < names.index("pipeline:digest")
    assert names[0] == "bucket:articles" and names[-1] == "pipeline:digest"


# -- ordering ------------------------------------------------------------------------------
def test_dependency_order_whatever_the_spec_order():
    spec = {
        "pipelines": [{"alias": "p", "code": "x", "source": {"connection_id": "src"},
                       "destination": {"connection_id": "dst", "collection": "top"}}],
        "connections": [{"name": "dst", "type": "collection", "config": {"collection_id": "top"}},
                        {"name": "src", "type": "bucket", "config": {"bucket_id": "b"}}],
        "collections": [{"collection_name": "top", "source": {"type": "collection", "collection_id": "mid"},
                         "taxonomy_applications": [{"taxonomy_id": "t"}]},
                        {"collection_name": "mid", "source": {"type": "collection", "collection_id": ["base"]}},
                        {"collection_name": "base", "source": {"type": "bucket", "bucket_id": "b"}}],
        "taxonomies": [{"taxonomy_name": "t", "nodes": []}],
        "buckets": [{"bucket_name": "b"}],
    }
    assert order(spec) == ["bucket:b", "taxonomy:t", "connection:src", "collection:base", "collection:mid",
                           "collection:top", "connection:dst", "pipeline:p"]


def test_references_outside_the_spec_are_assumed_to_exist():
    spec = {"collections": [{"collection_name": "c", "source": {"type": "bucket", "bucket_id": "bkt_elsewhere"}}],
            "pipelines": [{"alias": "p", "code": "x", "source": {"connection_id": "conn_1"},
                           "destination": {"connection_id": "conn_2"}}]}
    assert order(spec) == ["collection:c", "pipeline:p"]


def test_a_cycle_is_reported():
    spec = {"collections": [{"collection_name": "a", "source": {"type": "collection", "collection_id": "b"}},
                            {"collection_name": "b", "source": {"type": "collection", "collection_id": "a"}}]}
    with pytest.raises(SpecError, match="cycle") as info:
        order(spec)
    assert {d["path"] for d in info.value.details} == {"collections.0", "collections.1"}


# -- diffing -------------------------------------------------------------------------------
BUCKET = {"bucket_id": "bkt_1", "bucket_name": "articles", "description": None, "metadata": {},
          "schema": {"properties": {"sku": {"type": "string"}}}, "unique_key": {"fields": ["sku"],
                                                                               "default_policy": "upsert"}}


def test_bucket_diff_manages_only_stated_fields():
    same = {"bucket_name": "articles", "schema": {"properties": {"sku": {"type": "string"}}},
            "unique_key": {"fields": ["sku"]}}
    d = diff_bucket(same, BUCKET)
    assert (d.patch, d.changed, d.fixed) == ({}, [], [])
    d = diff_bucket({**same, "description": "new", "unique_key": {"fields": ["id"]}}, BUCKET)
    assert d.patch == {"description": "new"} and d.fixed == ["unique_key"]


COLLECTION = {"collection_id": "col_1", "collection_name": "chunks", "description": "d", "metadata": {},
              "enabled": True,
              "source": {"type": "bucket", "bucket_ids": ["bkt_1"], "filters": None, "prefix_key": None},
              "feature_extractors": [{"feature_extractor_name": "text_splitter", "version": "1",
                                      "parameters": {"unit": "words", "size": 50}, "input_mapping": {"text": "body"},
                                      "output_mapping": {}, "document_output_type": None,
                                      "document_input_handling": "individual",
                                      "document_output_handling": "create_new"}],
              "taxonomy_applications": [{"taxonomy_id": "tax_1", "output_collection": None,
                                         "output_collection_id": None}],
              "document_handling": {"output_type": "single"}}
WANT_COLLECTION = {"collection_name": "chunks", "description": "d", "source": {"type": "bucket", "bucket_id": "articles"},
                   "feature_extractors": [{"feature_extractor_name": "text_splitter", "version": "v1",
                                           "parameters": {"unit": "words", "size": 50},
                                           "input_mapping": {"text": "body"}}],
                   "taxonomy_applications": [{"taxonomy_id": "topics"}]}


def test_collection_diff_resolves_names_and_normalises_defaults():
    d = diff_collection(WANT_COLLECTION, COLLECTION, resolve)
    assert (d.patch, d.changed, d.fixed) == ({}, [], [])


def test_collection_diff_patches_what_it_can_and_reports_the_rest():
    want = {**WANT_COLLECTION, "description": "new", "enabled": False,
            "source": {"type": "bucket", "bucket_id": "other"},
            "feature_extractors": [{**WANT_COLLECTION["feature_extractors"][0],
                                    "parameters": {"unit": "words", "size": 60}}],
            "taxonomy_applications": []}
    d = diff_collection(want, COLLECTION, resolve)
    assert d.patch == {"description": "new", "enabled": False}
    assert d.fixed == ["source", "feature_extractors", "taxonomy_applications"]


def test_connection_diff_compares_resolved_refs_and_masked_secrets():
    bucket_conn = {"name": "src", "type": "bucket", "config": {"bucket_id": "bkt_1"}}
    assert diff_connection({"name": "src", "type": "bucket", "config": {"bucket_id": "articles"}},
                           bucket_conn, resolve).patch == {}
    hook = {"name": "h", "type": "webhook", "config": {"url": "https://x.io/h?token=****", "secret": "****",
                                                       "has_secret": True, "headers": {"X-Api-Key": "****", "A": "1"},
                                                       "batch_size": 100}}
    want = {"name": "h", "type": "webhook", "config": {"url": "https://x.io/h?token=abc", "secret": "s",
                                                       "headers": {"x-api-key": "k", "A": "1"}}}
    assert diff_connection(want, hook, resolve).patch == {}
    changed = {**want, "config": {**want["config"], "url": "https://y.io/h?token=abc", "batch_size": 10}}
    d = diff_connection(changed, hook, resolve)
    assert d.patch == {"config": {"url": "https://y.io/h?token=abc", "batch_size": 10}}
    assert diff_connection({**want, "type": "mongodb"}, hook, resolve).fixed == ["type"]


PIPELINE = {"pipeline_id": "pipe_1", "alias": "p", "code": "function transform(r) { return r; }", "enabled": True,
            "metadata": {"a": 1}, "update_time_field": None, "incremental": False, "js_limits": None,
            "connections": {"source": {"connection_id": "conn_1", "filters": None, "collection": None},
                            "destination": {"connection_id": "conn_2", "collection": "out", "metadata": {}}},
            "schedule": {"period": "1h", "offset_s": 12}}
WANT_PIPELINE = {"alias": "p", "transformation_code": "function transform(r) { return r; }",
                 "source": {"connection_id": "src"}, "destination": {"connection_id": "dst", "collection": "out"},
                 "schedule": "1h"}


def test_pipeline_unchanged_when_the_spec_matches():
    d = diff_pipeline(WANT_PIPELINE, PIPELINE, resolve)
    assert (d.patch, d.changed, d.schedule) == ({}, [], (False, None))


def test_pipeline_put_keeps_unstated_fields_and_sets_the_schedule():
    d = diff_pipeline({**WANT_PIPELINE, "code": "function transform(r) { return null; }", "schedule": None},
                      PIPELINE, resolve)
    assert d.changed == ["code", "schedule"] and d.schedule == (True, None)
    assert d.patch["metadata"] == {"a": 1} and d.patch["code"].endswith("return null; }")
    assert d.patch["source"]["connection_id"] == "conn_1"


def test_pipeline_body_resolves_connection_names():
    body = pipeline_body(WANT_PIPELINE, resolve)
    assert body["source"] == {"connection_id": "conn_1"} and body["destination"]["connection_id"] == "conn_2"
    assert "schedule" not in body and body["code"].startswith("function")


def test_taxonomy_nodes_compare_with_defaults():
    current = {"nodes": [{"node_id": "t", "label": "T", "parent_id": None,
                          "rule": {"filters": None, "keywords": ["x"], "keyword_fields": []}}]}
    assert diff_taxonomy({"nodes": [{"node_id": "t", "label": "T", "rule": {"keywords": ["x"]}}]}, current).fixed == []
    assert diff_taxonomy({"nodes": [{"node_id": "t", "label": "T2"}]}, current).fixed == ["nodes"]

