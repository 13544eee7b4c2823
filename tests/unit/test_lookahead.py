"""Extraction a window ahead: build_many gives each record what the per-record build gave it
(the reference below is the per-record code it replaced), and Lookahead computes windows
in loop order, growing while items are fast and staying at one while they are slow."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from shared.engine.batch.docbuild import Step, build_many, map_outputs
from shared.engine.lookahead import Lookahead
from shared.extractors import ExtractorSpec, RecordError, resolve_inputs
from shared.extractors.base import ExtractorRun


def reference_build(meta, data, steps):
    """The per-record build as it was before build_many."""
    docs = [("", dict(data))]
    for step in steps:
        produced = []
        for pos, current in docs:
            inputs = resolve_inputs(step.spec, {**meta, **current}, step.input_mapping)
            outputs = step.run.apply(inputs)
            mapped = [map_outputs(o, step.output_mapping) for o in outputs] if step.output_mapping else outputs
            base = {} if step.spec.replaces_record else current
            if len(mapped) == 1 and not step.fan_out:
                produced.append((pos, {**base, **mapped[0]}))
            else:
                produced.extend((f"{pos}{step.index}.{i}/", {**base, **m}) for i, m in enumerate(mapped))
        docs = produced
    return docs


class Run(ExtractorRun):
    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def apply(self, inputs):
        self.calls += 1
        return self.fn(inputs)


def spec(inputs=None, *, whole=False, replaces=False, out="single"):
    return ExtractorSpec(name="t", version="1", description="", parameters_schema={}, input_fields=inputs or {},
                         output_fields={}, output_type=out, whole_record=whole, replaces_record=replaces)


def split(i):
    if i["text"] == "boom":
        raise RecordError("SPLIT", "boom")
    return [{"w": w} for w in i["text"].split()]


def shout(i):
    if i["w"].startswith("x"):
        raise RecordError("SHOUT", f"no {i['w']}")
    return [] if i["w"] == "drop" else [{"loud": i["w"].upper()}]


STEPS = [Step(0, Run(split), spec({"text": {"required": True}}, out="multiple"), {"text": "body"}, {}, True),
         Step(1, Run(shout), spec({"w": {"required": True}}), {}, {"loud": "LOUD"}, False),
         Step(2, Run(lambda r: [{"n": len(r)}]), spec(whole=True), {}, {}, False)]

words = st.sampled_from(["a", "b", "xa", "drop", "c d"])
bodies = st.one_of(st.just("boom"), st.lists(words, max_size=4).map(" ".join))
records = st.lists(st.tuples(st.fixed_dictionaries({"object_id": st.text(max_size=3)}),
                             st.one_of(st.fixed_dictionaries({"body": bodies}), st.just({"other": 1}))),
                   max_size=25)


def outcome(meta, data):
    try:
        return reference_build(meta, data, STEPS)
    except RecordError as exc:
        return ("error", exc.code, exc.message)


@settings(max_examples=200, deadline=None)
@given(records)
def test_build_many_matches_the_per_record_build(recs):
    got = [("error", r.code, r.message) if isinstance(r, RecordError) else r for r in build_many(recs, STEPS)]
    assert got == [outcome(m, d) for m, d in recs]


def test_lookahead_windows_grow_in_order_and_serve_each_item_once():
    windows = []
    ahead = Lookahead(list(range(0, 200, 2)), lambda ks: windows.append(ks) or [k * 10 for k in ks])
    assert [ahead.result(k) for k in range(0, 200, 2)] == [k * 10 for k in range(0, 200, 2)]
    assert [len(w) for w in windows] == [1, 2, 4, 8, 16, 32, 37]
    assert [k for w in windows for k in w] == list(range(0, 200, 2))


def test_slow_items_are_computed_one_at_a_time():
    import time

    windows = []

    def slow(ks):
        windows.append(ks)
        time.sleep(0.01 * len(ks))
        return ks

    ahead = Lookahead(list(range(6)), slow, target_s=0.005)
    assert [ahead.result(k) for k in range(6)] == list(range(6))
    assert [len(w) for w in windows] == [1] * 6
