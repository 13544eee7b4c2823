"""Structured logs: one JSON object per line, carrying the context of the work in hand
(request id, namespace, batch/run id, tier, chunk) from contextvars set at the edges."""
from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

CONTEXT_FIELDS = ("request_id", "namespace", "batch_id", "run_id", "tier", "chunk", "task", "task_id")
_context: ContextVar[dict[str, Any]] = ContextVar("sluice_log_context", default={})
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def bind(**fields: Any) -> None:
    """Add fields to the current context (a request or a task)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def clear() -> None:
    _context.set({})


def context() -> dict[str, Any]:
    return dict(_context.get())


def chunk_context(chunk_id: str) -> dict[str, Any]:
    """Fields of a chunk id: batches `bat_…:attempt:tier:collection:index`, runs `run_…:index`."""
    parts = chunk_id.split(":")
    if parts[0].startswith("bat_") and len(parts) >= 5:
        return {"batch_id": parts[0], "tier": int(parts[2]), "chunk": chunk_id}
    if parts[0].startswith("run_"):
        return {"run_id": parts[0], "chunk": chunk_id}
    return {"chunk": chunk_id}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        out.update(_context.get())
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(level: str = "INFO", stream: Any = None) -> None:
    """JSON lines on stderr for the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            root.setLevel(level.upper())
            return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.handlers = [handler]
    root.setLevel(level.upper())
