"""Turning a document's `lineage_path` into links (pure).

A path reads from the root down: `bucket:B, object:O, collection:C0, document:D0,
collection:C1, …`; each `document:` entry belongs to the collection just before it, and
the last `collection:` is the document's own."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    kind: str                 # bucket | object | collection | document
    id: str
    container: str | None     # the bucket of an object, the collection of a document


def steps(path: list[str]) -> list[Step]:
    out: list[Step] = []
    bucket = collection = None
    for entry in path or []:
        kind, _, ident = str(entry).partition(":")
        if not ident:
            continue
        container = bucket if kind == "object" else collection if kind == "document" else None
        out.append(Step(kind, ident, container))
        if kind == "bucket":
            bucket = ident
        elif kind == "collection":
            collection = ident
    return out
