"""Resource ids: a short type prefix (so an id says what it names), then a time-ordered part
and a random part.

Ids of one kind sort roughly by creation time. The batch engine reads and updates records in
`_id` ranges; with random ids every range touched every page of a collection, so one chunk of
500 objects dirtied the whole collection and mongod rewrote it again and again."""
from __future__ import annotations

import secrets
import threading
import time
import uuid

PREFIXES = {
    "namespace": "ns", "api_key": "key", "bucket": "bkt", "object": "obj",
    "collection": "col", "document": "doc", "taxonomy": "tax", "batch": "bat",
    "task": "tsk", "connection": "conn", "pipeline": "pipe", "run": "run",
    "webhook": "wh", "delivery": "dlv",
}


# Hex digits of the time part: microseconds since the epoch fit 13 of them until 2112.
ORDER_LEN = 13


_last_tick = 0
_tick_lock = threading.Lock()


def _tick() -> int:
    """Microseconds since the epoch, strictly increasing within a process (a bulk write of
    many objects in one microsecond still gets them in creation order)."""
    global _last_tick
    with _tick_lock:
        now = time.time_ns() // 1000
        _last_tick = now if now > _last_tick else _last_tick + 1
        return _last_tick


def new_id(kind: str) -> str:
    return f"{PREFIXES[kind]}_{_tick():0{ORDER_LEN}x}{secrets.token_hex(4)}"


def order_key(some_id: str) -> str:
    """The time-ordered part of an id made by `new_id` (or by `document_id`, which inherits
    it from its source); for ids of any other shape, their first characters."""
    return some_id.split("_", 1)[-1][:ORDER_LEN]


def new_uuid() -> str:
    return str(uuid.uuid4())


# Names users give resources (buckets, collections, …): unique within a namespace.
NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
NAME_RULE = "must be 1-128 characters: letters, digits, '_', '-', '.', starting with a letter or digit"


def looks_like(kind: str, value: str) -> bool:
    return value.startswith(PREFIXES[kind] + "_")
