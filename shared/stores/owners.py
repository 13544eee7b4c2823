"""Which namespace a globally unique id (`bat_…`, `tsk_…`, `run_…`, `doc_…`, `obj_…`, …) belongs
to, so a caller who holds only the id can be answered without naming the namespace."""
from __future__ import annotations

from typing import Any

from shared.ids import PREFIXES

# kind -> (store attribute of Stores, field holding the id)
OWNED_BY = {"batch": ("batches", "_id"), "task": ("batches", "task_id"), "run": ("runs", "_id"),
            "document": ("documents", "_id"), "object": ("objects", "_id"), "bucket": ("buckets", "_id"),
            "collection": ("collections", "_id"), "taxonomy": ("taxonomies", "_id"),
            "connection": ("connections", "_id"), "pipeline": ("pipelines", "_id"),
            "webhook": ("webhooks", "_id")}
_BY_PREFIX = {PREFIXES[kind] + "_": kind for kind in OWNED_BY}


def kind_of(value: str) -> str | None:
    """The kind an id names by its prefix (None: not an id of a namespaced resource, e.g. a name)."""
    prefix, sep, _ = value.partition("_")
    return _BY_PREFIX.get(prefix + sep) if sep else None


def namespace_of(stores: Any, value: str) -> tuple[str, str | None] | None:
    """(kind, owning namespace id, or None when nothing has this id) for an id; None for a name."""
    kind = kind_of(value)
    if kind is None:
        return None
    attr, field = OWNED_BY[kind]
    return kind, getattr(stores, attr).namespace_of(value, field)
