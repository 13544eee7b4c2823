"""Feature extractors: registry, parameter validation, and each extractor's behaviour."""
from __future__ import annotations

import json
import random

import pytest

from shared.extractors import (OUTPUT_MULTIPLE, OUTPUT_SINGLE, Extractor, ExtractorRun,
                               RecordError, get_extractor, list_extractors, resolve_inputs,
                               validate_input_mapping)
from shared.extractors.builtin.content_hash import hamming_distance, simhash
from shared.extractors.builtin.field_mapper import cast_value
from shared.jsbox import clear_pool
from shared.settings import Settings

SETTINGS = Settings(js_time_limit_ms=300, js_memory_limit_mb=16, js_stack_limit_kb=256)
P = "feature_extractors.0.parameters"


@pytest.fixture(autouse=True)
def _fresh_pool():
    clear_pool()
    yield
    clear_pool()


def apply(name: str, params: dict, *inputs: dict) -> list:
    """Validate params, open one run, apply each input; RecordErrors become dicts."""
    ext = get_extractor(name)
    assert ext.validate_parameters(params, P, SETTINGS) == []
    out = []
    with ext.open(params, SETTINGS) as run:
        for inp in inputs:
            try:
                out.append(run.apply(inp))
            except RecordError as exc:
                out.append(exc.to_dict())
    return out


def errors(name: str, params) -> list[dict]:
    return get_extractor(name).validate_parameters(params, P, SETTINGS)


def paths(name: str, params) -> list[str]:
    return [d["path"] for d in errors(name, params)]


# -- registry ---------------------------------------------------------------------------------
def test_registry_lists_the_shipped_extractors():
    names = [(e.spec.name, e.spec.version) for e in list_extractors()]
    assert names == [("content_hash", "1"), ("field_mapper", "1"), ("js_transform", "1"),
                     ("text_splitter", "1"), ("text_stats", "1")]
    for ext in list_extractors():
        assert isinstance(ext, Extractor)
        d = ext.spec.to_dict()
        json.dumps(d)                                       # for GET /v1/feature-extractors
        assert d["output_type"] in (OUTPUT_SINGLE, OUTPUT_MULTIPLE)
        assert d["parameters_schema"]["type"] == "object"
        assert d["parameters_schema"]["additionalProperties"] is False
        for decl in d["input_fields"].values():
            assert {"type", "required", "description"} <= set(decl)
        for decl in d["output_fields"].values():
            assert {"type", "description"} <= set(decl)


def test_input_and_output_modes_of_each_extractor():
    modes = {e.spec.name: (e.spec.whole_record, e.spec.replaces_record) for e in list_extractors()}
    assert modes == {"content_hash": (True, False), "field_mapper": (True, True),
                     "js_transform": (True, True), "text_splitter": (False, False),
                     "text_stats": (False, False)}


def test_get_extractor_by_version_and_unknown_names():
    assert get_extractor("text_stats", "1") is get_extractor("text_stats")
    with pytest.raises(KeyError):
        get_extractor("nope")
    with pytest.raises(KeyError):
        get_extractor("text_stats", "2")


@pytest.mark.parametrize("name", ["text_splitter", "text_stats", "content_hash", "field_mapper",
                                  "js_transform"])
def test_unknown_parameters_and_non_objects_are_errors(name):
    assert f"{P}.bogus" in paths(name, {"bogus": 1})
    assert errors(name, ["not", "an", "object"]) == [{"path": P, "message": "must be an object"}]


def test_resolve_inputs_with_mapping_defaults_and_dotted_paths():
    spec = get_extractor("text_stats").spec
    rec = {"body": {"text": "hello"}, "text": "top", "items": [{"t": "first"}]}
    assert resolve_inputs(spec, rec) == {"text": "top"}
    assert resolve_inputs(spec, rec, {"text": "body.text"}) == {"text": "hello"}
    assert resolve_inputs(spec, rec, {"text": "items.0.t"}) == {"text": "first"}
    with pytest.raises(RecordError) as info:
        resolve_inputs(spec, rec, {"text": "missing.path"})
    assert info.value.code == "MISSING_INPUT"
    whole = get_extractor("js_transform").spec
    assert resolve_inputs(whole, rec) is rec
    assert resolve_inputs(whole, rec, {"t": "body.text", "x": "nope"}) == {"t": "hello"}


def test_validate_input_mapping():
    spec = get_extractor("text_stats").spec
    assert validate_input_mapping(spec, {"text": "a.b"}, "x.input_mapping") == []
    assert [d["path"] for d in validate_input_mapping(spec, {"body": "a", "text": ""}, "m")] == \
        ["m.body", "m.text"]
    assert validate_input_mapping(get_extractor("js_transform").spec, {"anything": "a"}, "m") == []


# -- text_splitter ------------------------------------------------------------------------------
TEXT = "One two three four five six seven eight nine ten"


def test_splitter_words_with_overlap_and_offsets():
    [docs] = apply("text_splitter", {"size": 4, "overlap": 1}, {"text": TEXT})
    assert [d["text"] for d in docs] == ["One two three four", "four five six seven",
                                         "seven eight nine ten"]
    for i, d in enumerate(docs):
        assert TEXT[d["start"]:d["end"]] == d["text"]
        assert (d["chunk_index"], d["chunk_count"]) == (i, 3)


def test_splitter_keeps_original_whitespace_and_last_short_chunk():
    text = "a  b\tc\nd e"
    [docs] = apply("text_splitter", {"size": 2}, {"text": text})
    assert [d["text"] for d in docs] == ["a  b", "c\nd", "e"]


def test_splitter_characters_and_sentences():
    [docs] = apply("text_splitter", {"unit": "characters", "size": 4, "overlap": 2}, {"text": "abcdefgh"})
    assert [(d["text"], d["start"], d["end"]) for d in docs] == [
        ("abcd", 0, 4), ("cdef", 2, 6), ("efgh", 4, 8)]
    text = 'He said "hi." Then left! Did he?  Yes.\n\nNew paragraph without stop'
    [docs] = apply("text_splitter", {"unit": "sentences", "size": 2}, {"text": text})
    assert [d["text"] for d in docs] == ['He said "hi." Then left!', "Did he?  Yes.",
                                         "New paragraph without stop"]
    assert all(text[d["start"]:d["end"]] == d["text"] for d in docs)


def test_splitter_empty_text_and_size_bigger_than_text():
    assert apply("text_splitter", {"size": 3}, {"text": ""}, {"text": "   "}) == [[], []]
    [docs] = apply("text_splitter", {"size": 100}, {"text": "just two"})
    assert docs == [{"text": "just two", "chunk_index": 0, "chunk_count": 1, "start": 0, "end": 8}]


def test_splitter_covers_every_word_with_the_requested_overlap():
    rnd = random.Random(7)
    for _ in range(50):
        words = ["w%d" % i for i in range(rnd.randint(1, 60))]
        text = " ".join(words)
        size = rnd.randint(1, 10)
        overlap = rnd.randint(0, size - 1)
        [docs] = apply("text_splitter", {"size": size, "overlap": overlap}, {"text": text})
        chunks = [d["text"].split(" ") for d in docs]
        assert chunks[0][0] == words[0] and chunks[-1][-1] == words[-1]
        for a, b in zip(chunks, chunks[1:]):
            assert len(a) == size
            assert a[len(a) - overlap:] == b[:overlap] if overlap else True
        assert sorted({w for c in chunks for w in c}) == sorted(words)


def test_splitter_rejects_non_string_text():
    assert apply("text_splitter", {"size": 2}, {"text": 5}, {})[0]["code"] == "INVALID_INPUT"


@pytest.mark.parametrize("params,bad", [
    ({}, f"{P}.size"),
    ({"size": 0}, f"{P}.size"),
    ({"size": 2.5}, f"{P}.size"),
    ({"size": "3"}, f"{P}.size"),
    ({"size": 3, "overlap": 3}, f"{P}.overlap"),
    ({"size": 3, "overlap": -1}, f"{P}.overlap"),
    ({"size": 3, "unit": "paragraphs"}, f"{P}.unit"),
])
def test_splitter_parameter_errors_name_the_path(params, bad):
    assert paths("text_splitter", params) == [bad]


# -- js_transform ---------------------------------------------------------------------------------
def test_js_transform_object_array_and_empty_results():
    code = """
    function transform(doc) {
      if (doc.kind === "many") return doc.items.map(function (x) { return {v: x}; });
      if (doc.kind === "none") return null;
      if (doc.kind === "no") return false;
      return {title: doc.title.toUpperCase()};
    }"""
    got = apply("js_transform", {"code": code},
                {"title": "hi"}, {"kind": "many", "items": [1, 2, 3]}, {"kind": "none"}, {"kind": "no"})
    assert got == [[{"title": "HI"}], [{"v": 1}, {"v": 2}, {"v": 3}], [], []]


def test_js_transform_record_errors():
    code = """function transform(doc) {
      if (doc.k === 1) return 42;
      if (doc.k === 2) return [{a: 1}, "x"];
      if (doc.k === 3) return undefined;
      if (doc.k === 4) { var bad = null; return bad.x; }
      if (doc.k === 5) { while (true) {} }
      return {ok: true};
    }"""
    got = apply("js_transform", {"code": code, "limits": {"time_ms": 50}},
                {"k": 1}, {"k": 2}, {"k": 3}, {"k": 4}, {"k": 5}, {"k": 6})
    assert [g["code"] if isinstance(g, dict) else g for g in got] == [
        "JS_OUTPUT", "JS_OUTPUT", "JS_OUTPUT", "JS_ERROR", "JS_TIMEOUT", [{"ok": True}]]
    assert got[3]["line"] == 5 and "null" in got[3]["message"]
    assert "element 1" in got[1]["message"]


def test_js_transform_records_are_isolated():
    code = "var n = 0; function transform(doc) { n++; return {n: n}; }"
    assert apply("js_transform", {"code": code}, {}, {}, {}) == [[{"n": 1}]] * 3


def test_js_transform_syntax_error_is_reported_at_code_path():
    errs = errors("js_transform", {"code": "function transform(d) {\n  return d.x +;\n}"})
    assert len(errs) == 1
    assert errs[0]["path"] == f"{P}.code"
    assert errs[0]["code"] == "JS_SYNTAX"
    assert errs[0]["line"] == 2
    assert errs[0]["message"].startswith("SyntaxError")
    errs = errors("js_transform", {"code": "function execute(d) { return d; }"})
    assert errs[0]["path"] == f"{P}.code" and "transform" in errs[0]["message"]


@pytest.mark.parametrize("params,bad", [
    ({}, [f"{P}.code"]),
    ({"code": ""}, [f"{P}.code"]),
    ({"code": 5}, [f"{P}.code"]),
    ({"code": "function transform(d) { return d; }", "limits": {"time_ms": 301}}, [f"{P}.limits.time_ms"]),
    ({"code": "function transform(d) { return d; }", "limits": {"memory_mb": 0}}, [f"{P}.limits.memory_mb"]),
    ({"code": "function transform(d) { return d; }", "limits": {"cpu": 1}}, [f"{P}.limits.cpu"]),
    ({"code": "function transform(d) { return d; }", "output_fields": {"a": "float"}},
     [f"{P}.output_fields.a"]),
])
def test_js_transform_parameter_errors(params, bad):
    assert paths("js_transform", params) == bad


def test_js_transform_declared_output_fields():
    ext = get_extractor("js_transform")
    params = {"code": "function transform(d) { return {n: d.n, s: 's'}; }",
              "output_fields": {"n": "number", "s": "string"}}
    assert ext.output_fields_for(params) == {
        "n": {"type": "number", "description": "declared by the transform"},
        "s": {"type": "string", "description": "declared by the transform"}}
    got = apply("js_transform", params, {"n": 1}, {"n": "one"}, {"n": None})
    assert got[0] == [{"n": 1, "s": "s"}]
    assert got[1]["code"] == "JS_OUTPUT" and "'n'" in got[1]["message"]
    assert got[2] == [{"n": None, "s": "s"}]


def test_js_transform_failing_top_level_fails_each_record_and_close_is_idempotent():
    ext = get_extractor("js_transform")
    run = ext.open({"code": "if (Math.random() < 2) throw new Error('top');\nfunction transform(d) {}"},
                   SETTINGS)
    for _ in range(2):
        with pytest.raises(RecordError) as info:
            run.apply({})
        assert (info.value.code, info.value.message, info.value.line) == ("JS_ERROR", "Error: top", 1)
    run.close()
    run.close()


def test_js_transform_memory_bomb_then_next_record():
    code = ("function transform(d) { if (d.bomb) { var a = []; while (true) a.push([a.length]); } "
            "return {ok: 1}; }")
    got = apply("js_transform", {"code": code, "limits": {"memory_mb": 4}}, {"bomb": 1}, {})
    assert got[0]["code"] == "JS_MEMORY"
    assert got[1] == [{"ok": 1}]


# -- text_stats -----------------------------------------------------------------------------------
def test_text_stats_counts_and_keywords():
    text = "The cat sat. The cat ran! A dog? Dogs and cats; the end"
    [[doc]] = apply("text_stats", {"top_k": 3}, {"text": text})
    assert doc["char_count"] == len(text)
    assert doc["word_count"] == 13
    assert doc["sentence_count"] == 4
    assert doc["keywords"] == [{"term": "cat", "count": 2}, {"term": "cats", "count": 1},
                               {"term": "dog", "count": 1}]


def test_text_stats_without_stopword_filtering_and_defaults():
    [[doc]] = apply("text_stats", {"stopwords": False, "top_k": 1}, {"text": "the the the cat 42 42 42 42"})
    assert doc["keywords"] == [{"term": "the", "count": 3}]
    [[doc]] = apply("text_stats", {}, {"text": ""})
    assert doc == {"char_count": 0, "word_count": 0, "sentence_count": 0, "keywords": []}
    [[doc]] = apply("text_stats", {"top_k": 0}, {"text": "words here"})
    assert doc["keywords"] == []


def test_text_stats_apostrophes_and_unicode():
    [[doc]] = apply("text_stats", {"top_k": 5}, {"text": "Don’t stop. Café café CAFÉ, naïve"})
    assert doc["word_count"] == 6
    assert doc["keywords"][0] == {"term": "café", "count": 3}
    assert {"term": "naïve", "count": 1} in doc["keywords"]
    assert all(k["term"] != "don't" for k in doc["keywords"])    # stopword, curly apostrophe


def test_sentence_count_agrees_with_sentence_spans_and_memo_changes_nothing():
    from shared.extractors.builtin.text_stats import text_stats
    from shared.extractors.text import sentence_count, sentence_spans

    rng = random.Random(7)
    pieces = ["Hi", "there", ".", "!", "?", "\n\n", " ", "  ", "\n", "e.g.", "’", "'", ")", "\"", "ok", "42", "\t"]
    memo: dict = {}
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert sentence_count(text) == len(sentence_spans(text)), repr(text)
        assert text_stats(text, 3, True, memo) == text_stats(text, 3, True), repr(text)


@pytest.mark.parametrize("params,bad", [({"top_k": -1}, f"{P}.top_k"), ({"top_k": "5"}, f"{P}.top_k"),
                                        ({"stopwords": "yes"}, f"{P}.stopwords")])
def test_text_stats_parameter_errors(params, bad):
    assert paths("text_stats", params) == [bad]


# -- field_mapper ---------------------------------------------------------------------------------
def test_field_mapper_select_defaults_cast_rename():
    params = {"select": ["id", "price", "active", "tags", "qty"],
              "defaults": {"qty": 0, "unused": 1},
              "cast": {"price": "number", "active": "boolean", "id": "string", "qty": "integer"},
              "rename": {"price": "price_eur", "id": "sku"}}
    rec = {"id": 17, "price": " 12.50 ", "active": "Yes", "tags": ["a"], "qty": None, "secret": "x"}
    [[doc]] = apply("field_mapper", params, rec)
    assert doc == {"sku": "17", "price_eur": 12.5, "active": True, "tags": ["a"], "qty": 0}
    assert get_extractor("field_mapper").output_fields_for(params)["price_eur"]["type"] == "number"


def test_field_mapper_without_select_keeps_everything_and_rename_replaces():
    [[doc]] = apply("field_mapper", {"rename": {"a": "b"}}, {"a": 1, "b": 2, "c": 3})
    assert doc == {"b": 1, "c": 3}


def test_field_mapper_cast_errors_are_record_errors():
    got = apply("field_mapper", {"cast": {"n": "integer"}}, {"n": "3.5"}, {"n": "abc"}, {"n": [1]}, {"n": "4"})
    assert [g["code"] if isinstance(g, dict) else g for g in got] == [
        "CAST_ERROR", "CAST_ERROR", "CAST_ERROR", [{"n": 4}]]
    assert "'n'" in got[0]["message"]


@pytest.mark.parametrize("value,to,expected", [
    (3, "string", "3"), (2.0, "string", "2"), (0.1, "string", "0.1"), (True, "string", "true"),
    ({"b": 1, "a": 2}, "string", '{"a": 2, "b": 1}'), ("42", "number", 42), ("4.2e1", "number", 42.0),
    (True, "integer", 1), ("7.0", "integer", 7), (1, "boolean", True), ("off", "boolean", False),
    (None, "integer", None),
])
def test_cast_value(value, to, expected):
    got = cast_value(value, to)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("value,to", [("nan", "number"), ("1_000", "integer"), ("maybe", "boolean"),
                                      (2, "boolean"), ("", "number")])
def test_cast_value_refuses(value, to):
    with pytest.raises(ValueError):
        cast_value(value, to)


@pytest.mark.parametrize("params,bad", [
    ({"cast": {"a": "float"}}, [f"{P}.cast.a"]),
    ({"select": ["a", "a"]}, [f"{P}.select.1"]),
    ({"select": "a"}, [f"{P}.select"]),
    ({"rename": {"a": "c", "b": "c"}}, [f"{P}.rename.b"]),
    ({"select": ["a", "b"], "rename": {"a": "b"}}, [f"{P}.rename.a"]),
    ({"select": ["a"], "rename": {"z": "y"}}, [f"{P}.rename.z"]),
])
def test_field_mapper_parameter_errors(params, bad):
    assert paths("field_mapper", params) == bad


# -- content_hash ---------------------------------------------------------------------------------
def test_content_hash_is_canonical_and_field_specific():
    params = {"fields": ["title", "meta.lang", "missing"]}
    a = {"title": "Hello", "meta": {"lang": "en"}, "other": 1}
    b = {"other": 2, "meta": {"lang": "en"}, "title": "Hello"}
    c = {"title": "Hello!", "meta": {"lang": "en"}}
    [[ha], [hb], [hc]] = apply("content_hash", params, a, b, c)
    assert ha == hb and ha["content_hash"] != hc["content_hash"]
    import hashlib
    expected = hashlib.sha256(b'{"meta.lang":"en","missing":null,"title":"Hello"}').hexdigest()
    assert ha["content_hash"] == expected
    assert len(ha["simhash"]) == 16 and int(ha["simhash"], 16) >= 0


def test_simhash_separates_near_duplicates_from_unrelated_text():
    base = ("Sluice moves records through pipelines of feature extractors, and every chunk "
            "of records is processed by a worker that writes the features back to the store.")
    near = base.replace("writes", "stores")
    other = "A completely different sentence about cooking pasta with tomatoes, basil and garlic oil."
    assert hamming_distance(simhash(base), simhash(base)) == 0
    assert hamming_distance(simhash(base), simhash(near)) <= 12
    assert hamming_distance(simhash(base), simhash(other)) >= 20
    assert simhash("") == "0" * 16


@pytest.mark.parametrize("params,bad", [({}, [f"{P}.fields"]), ({"fields": []}, [f"{P}.fields"]),
                                        ({"fields": ["a"], "algorithm": "md5"}, [f"{P}.algorithm"]),
                                        ({"fields": ["a", ""]}, [f"{P}.fields.1"])])
def test_content_hash_parameter_errors(params, bad):
    assert paths("content_hash", params) == bad


def test_extractor_run_is_a_context_manager():
    run = get_extractor("text_stats").open({}, SETTINGS)
    assert isinstance(run, ExtractorRun)
    with run as same:
        assert same is run
