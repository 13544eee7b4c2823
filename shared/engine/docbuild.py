"""Turning one source record into documents: run a collection's extractors in order,
fan out on multi-output extractors, map fields, and give each output a deterministic id."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

from shared.extractors import ExtractorSpec, resolve_inputs
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
    docs: list[tuple[str, dict]] = [("", dict(data))]
    for step in steps:
        produced: list[tuple[str, dict]] = []
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
