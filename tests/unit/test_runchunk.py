import pytest

from shared.engine.runs.runchunk import StepFailure, interpret, validate_output


def test_js_result_contract():
    rec = {"a": 1}
    assert interpret(True, rec) == [rec]           # the seed's `function execute() { return true; }`
    assert interpret(None, rec) == [] and interpret(False, rec) == []
    assert interpret({"b": 2}, rec) == [{"b": 2}]
    assert interpret([{"b": 1}, {"b": 2}], rec) == [{"b": 1}, {"b": 2}]
    for bad in (3, "x", [1, 2], [{"a": 1}, 2]):
        with pytest.raises(StepFailure) as exc:
            interpret(bad, rec)
        assert exc.value.code == "JS_OUTPUT"


def test_output_validation():
    validate_output({"ok": 1, "nested": {"fine": "$inside values"}})
    # One field-name rule at every depth, and nothing MongoDB cannot store.
    for bad in ({"$set": 1}, {"a.b": 1}, {"": 1}, {"n": {"$x": 1}}, {"n": [{"a\x00b": 1}]}, {"i": 2 ** 64}):
        with pytest.raises(StepFailure) as exc:
            validate_output(bad)
        assert exc.value.code == "INVALID_RECORD"
    with pytest.raises(StepFailure) as exc:
        validate_output({"big": "x" * (1024 * 1024 + 1)})
    assert exc.value.code == "RECORD_TOO_LARGE"
