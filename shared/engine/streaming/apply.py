"""One batch of a streaming pipeline: source rows (from the snapshot) or collapsed changes
(from the stream) → filters → JavaScript → upserts and deletes on the target.

Per-record failures (JavaScript errors, invalid output, a record the target refused) are
counted and sampled, never raised: the stream goes on. Infrastructure errors raise.

The JavaScript contract is the pipelines' (shared.engine.runs.runchunk.interpret): an object is the
new record, true keeps it, null/false drops it — dropping (like failing the filters) removes
the key from the target if it is there. An array must hold at most one record here: a key
maps to one target record, so a later delete can remove exactly what was written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.engine.runs.runchunk import StepFailure, interpret, validate_output
from shared.engine.runs.runs import JS_ENTRY_POINTS
from shared.filters import matches, parse_filter
from shared.jsbox import JsError, JsLimits, Sandbox
from shared.timeutil import utcnow

MAX_MESSAGE = 500


@dataclass
class Batch:
    """What one step will do to the target, and what it counted on the way."""
    upserts: list[tuple[str, dict]] = field(default_factory=list)
    removals: list[str] = field(default_factory=list)   # delete if the target holds the key
    failures: list[dict] = field(default_factory=list)
    newest_event: datetime | None = None

    def fail(self, key: str, code: str, message: str) -> None:
        self.failures.append({"key": key, "code": code, "message": message[:MAX_MESSAGE], "at": utcnow()})


@dataclass
class Written:
    applied: int = 0
    present: set[str] = field(default_factory=set)      # of the delete candidates


class Transformer:
    """Filters + JavaScript of one definition; one Sandbox per step (use as a context manager)."""

    def __init__(self, definition: dict, settings: Any):
        self.node = parse_filter(definition.get("filters"), "filters")
        self.code = (definition.get("transformation") or {}).get("code")
        self.limits = JsLimits.capped(None, settings)
        self.sandbox: Sandbox | None = None

    def __enter__(self) -> "Transformer":
        if self.code:
            self.sandbox = Sandbox(self.code, JS_ENTRY_POINTS, self.limits)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None

    def apply(self, batch: Batch, key: str, record: dict) -> None:
        """Adds the record's outcome for `key` to `batch`: an upsert, a removal or a failure."""
        if self.node is not None and not matches(self.node, record):
            batch.removals.append(key)
            return
        try:
            # Untransformed records follow the same field-name rule as transformed ones.
            outputs = [record] if self.sandbox is None else interpret(self.sandbox.call(record), record)
            if len(outputs) > 1:
                raise StepFailure("JS_OUTPUT", "a streaming transformation returns one record (an object, "
                                               f"true, false or null); got an array of {len(outputs)}")
            for out in outputs:
                validate_output(out)
        except JsError as exc:
            batch.fail(key, exc.code, exc.message)
            return
        except StepFailure as exc:
            batch.fail(key, exc.code, exc.message)
            return
        if outputs:
            batch.upserts.append((key, outputs[0]))
        else:
            batch.removals.append(key)


def write(target: Any, batch: Batch, deletes: list[str], context: dict) -> Written:
    """Upserts, then deletes of the keys the target holds among `deletes` + `batch.removals`
    (keys are disjoint: a batch is collapsed to one change per key first)."""
    out = Written()
    candidates = list(dict.fromkeys(deletes + batch.removals))
    out.present = set(target.existing(candidates)) if candidates else set()
    to_delete = [k for k in candidates if k in out.present]
    if batch.upserts:
        failed = target.write(batch.upserts, context)
        for key, message in failed.items():
            batch.fail(key, "WRITE_FAILED", message)
        out.applied += len(batch.upserts) - len(failed)
    if to_delete:
        failed = target.delete(to_delete, context)
        for key, message in failed.items():
            batch.fail(key, "DELETE_FAILED", message)
        out.applied += len(to_delete) - len(failed)
    return out
