from shared.engine.batch.docbuild import Step, build, document_id
from shared.extractors import ExtractorSpec
from shared.extractors.base import ExtractorRun


def spec(inputs=None, *, whole=False, replaces=False, out="single"):
    return ExtractorSpec(name="t", version="1", description="", parameters_schema={},
                         input_fields=inputs or {}, output_fields={}, output_type=out,
                         whole_record=whole, replaces_record=replaces)
from shared.engine.batch.taxonomy import apply_taxonomies, compile_taxonomy, node_paths


class FakeRun(ExtractorRun):
    def __init__(self, fn):
        self.fn = fn

    def apply(self, inputs):
        return self.fn(inputs)


def test_single_extractor_adds_fields_and_multiple_fans_out():
    split = Step(0, FakeRun(lambda i: [{"text": w} for w in i["text"].split()]),
                 spec({"text": {"required": True}}, out="multiple"), {"text": "body"}, {}, True)
    upper = Step(1, FakeRun(lambda i: [{"loud": i["text"].upper()}]), spec({"text": {"required": True}}),
                 {}, {"loud": "shout"}, False)
    out = build({"object_id": "o1"}, {"body": "a b"}, [split, upper])
    assert out == [("0.0/", {"body": "a b", "text": "a", "shout": "A"}),
                   ("0.1/", {"body": "a b", "text": "b", "shout": "B"})]


def test_whole_record_extractor_replaces_and_can_drop():
    js = Step(0, FakeRun(lambda rec: [] if rec.get("skip") else [{"only": rec["x"]}]),
              spec(whole=True, replaces=True), {}, {}, False)
    assert build({}, {"x": 1}, [js]) == [("", {"only": 1})]
    assert build({}, {"x": 1, "skip": True}, [js]) == []


def test_whole_record_extractor_that_adds_keeps_the_record():
    hasher = Step(0, FakeRun(lambda rec: [{"h": len(rec)}]), spec(whole=True), {}, {}, False)
    assert build({"object_id": "o"}, {"x": 1}, [hasher]) == [("", {"x": 1, "h": 2})]


def test_document_ids_are_deterministic_and_salted():
    a = document_id("col", "obj", "0.1/")
    assert a == document_id("col", "obj", "0.1/") and a.startswith("doc_")
    assert a != document_id("col", "obj", "0.2/") != document_id("col", "obj", "0.1/", salt="bat_1")


def test_ids_sort_by_creation_and_documents_sort_like_their_root_objects():
    from shared.ids import new_id

    objects = [new_id("object") for _ in range(200)]
    assert sorted(objects) == objects and len(set(objects)) == 200
    # Tier after tier, a document inherits its root object's place in the order.
    tier0 = [document_id("col_a", o, "") for o in objects]
    tier1 = [document_id("col_b", d, "0.1/") for d in tier0]
    assert sorted(tier0) == tier0 and sorted(tier1) == tier1
    assert document_id("col_a", "weird id", "") != document_id("col_a", "weird id2", "")


def test_taxonomy_labels_with_paths_and_output_collection():
    tax = {"_id": "tax_1", "taxonomy_name": "topics", "nodes": [
        {"node_id": "s", "label": "Sport", "rule": {"keywords": ["football"]}},
        {"node_id": "g", "label": "Goals", "parent_id": "s", "rule": {"keywords": ["goal"]}},
        {"node_id": "big", "label": "Big", "rule": {"filters": {"n": 3}}}]}
    assert node_paths(tax["nodes"]) == {"s": "Sport", "g": "Sport/Goals", "big": "Big"}
    docs = [{"_id": "d1", "collection_id": "c", "lineage_path": ["x"], "data": {"t": "A Football goal!", "n": 3}},
            {"_id": "d2", "collection_id": "c", "lineage_path": ["x"], "data": {"t": "rain", "n": 1}}]
    assert apply_taxonomies([compile_taxonomy(tax)], docs) == {}
    assert [l["path"] for l in docs[0]["taxonomy"]["topics"]] == ["Sport", "Sport/Goals", "Big"]
    assert docs[1]["taxonomy"]["topics"] == []
    extra = apply_taxonomies([compile_taxonomy(tax, "col_out")], docs)
    assert [d["source_id"] for d in extra["col_out"]] == ["d1"]
    assert extra["col_out"][0]["collection_id"] == "col_out"
