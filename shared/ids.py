"""Resource ids: a short type prefix plus random text, so an id says what it names."""
from __future__ import annotations

import secrets
import uuid

PREFIXES = {
    "namespace": "ns", "api_key": "key", "bucket": "bkt", "object": "obj",
    "collection": "col", "document": "doc", "taxonomy": "tax", "batch": "bat",
    "task": "tsk", "connection": "conn", "pipeline": "pipe", "run": "run",
    "webhook": "wh", "delivery": "dlv",
}


def new_id(kind: str) -> str:
    return f"{PREFIXES[kind]}_{secrets.token_hex(8)}"


def new_uuid() -> str:
    return str(uuid.uuid4())


def looks_like(kind: str, value: str) -> bool:
    return value.startswith(PREFIXES[kind] + "_")
