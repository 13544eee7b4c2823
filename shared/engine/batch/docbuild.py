"""Turning one source record into documents: run a collection's extractors in order,
fan out on multi-output extractors, map fields, and give each output a deterministic id."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

from shared.extractors import ExtractorSpec, RecordError, resolve_inputs
from shared.ids import order_key


def document_id(collection_id: str, source_id: str, position: str, salt: str = "") -> str:
    """Same source, collection and output position (and salt) → same id, so re-processing
    upserts. The salt is the batch id when the root bucket has no unique_key: the seed's
    contract is that such re-triggers create new documents.

    The id starts with its source's order key (the root object's creation time, inherited
    tier after tier), so a tier's documents sort like the objects they come from: a chunk of
    the next tier reads neighbouring records instead of records spread over the collection."""
    raw = f"{collection_id}\x1f{source_id}\x1f{position}\x1f{salt}".encode()
    # blake2b: half the cost of sha256 at this length; 80 bits among one root's documents.
    return f"doc_{order_key(source_id)}{hashlib.blake2b(raw, digest_size=10).hexdigest()}"


@dataclass
class Step:
    """One configured extractor of a collection, opened for the current chunk."""
    index: int
    run: Any                      # ExtractorRun
    spec: ExtractorSpec
    input_mapping: Mapping[str, str]
    output_mapping: Mapping[str, str]
    fan_out: bool                 # declared output_type "multiple"


def map_outputs(output: Mapping, mapping: Mapping[str, str]) -> dict:
    return {mapping.get(k, k): v for k, v in output.items()}


def build(meta: Mapping, data: Mapping, steps: list[Step]) -> list[tuple[str, dict]]:
    """(position, data) for every document one record yields. `meta` holds the record's
    system fields (object_id, …), `data` its user fields; extractors read both, documents
    inherit only `data`. Raises the extractor's RecordError for a per-record failure; an
    extractor returning nothing drops the record. Extractors with `replaces_record`
    (js_transform, field_mapper) return the new record; the others add their outputs to it."""
    [outcome] = build_many([(meta, data)], steps)
    if isinstance(outcome, RecordError):
        raise outcome
    return outcome


def build_many(records: list[tuple[Mapping, Mapping]], steps: list[Step]) -> list[list[tuple[str, dict]] | RecordError]:
    """`build` for each (meta, data) in turn, the RecordError in place of each record that
    failed; step by step over all the records, so an extractor is called once per step
    (`apply_many`) instead of once per record. A record's first failure, in the order
    `build` meets them, is its outcome; extractors have no side effects, so computing its
    other documents meanwhile changes nothing."""
    docs: list[list[tuple[str, dict]]] = [[("", dict(data))] for _, data in records]
    failed: list[RecordError | None] = [None] * len(records)
    for step in steps:
        # (record, position, current, inputs or the error resolving them)
        todo: list[tuple[int, str, dict, Any]] = []
        for r, record_docs in enumerate(docs):
            if failed[r] is not None:
                continue
            for pos, current in record_docs:
                try:
                    todo.append((r, pos, current, resolve_inputs(step.spec, {**records[r][0], **current},
                                                                 step.input_mapping)))
                except RecordError as exc:
                    todo.append((r, pos, current, exc))
        ready = [t[3] for t in todo if not isinstance(t[3], RecordError)]
        results = iter(step.run.apply_many(ready) if ready else [])
        produced: list[list[tuple[str, dict]]] = [[] for _ in records]
        for r, pos, current, inputs in todo:
            outcome = inputs if isinstance(inputs, RecordError) else next(results)
            if failed[r] is not None:
                continue
            if isinstance(outcome, RecordError):
                failed[r] = outcome
                continue
            mapped = [map_outputs(o, step.output_mapping) for o in outcome] if step.output_mapping else outcome
            base = {} if step.spec.replaces_record else current
            if len(mapped) == 1 and not step.fan_out:
                produced[r].append((pos, {**base, **mapped[0]}))
            else:
                produced[r].extend((f"{pos}{step.index}.{i}/", {**base, **m}) for i, m in enumerate(mapped))
        docs = produced
    return [failed[r] if failed[r] is not None else docs[r] for r in range(len(records))]
