"""The MongoDB mechanics of streaming pipelines: change streams and keyset pages over a
pymongo Collection (or Database). What to watch is decided by shared/connectors/cdc.py; this
module only knows pymongo, so the rest of the streaming code never sees it.

A `ChangeFeed` is opened per step from a saved resume token (`resume_after`), read until a
size or time budget is spent, and closed; its `token` after a read is where the next step
resumes: the token of the last change returned, or the server's postBatchResumeToken when the
stream was drained, so a step that saw nothing still moves past changes its `$match` dropped
(the oplog can then roll over them safely).
"""
from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bson import Timestamp
from pymongo.errors import OperationFailure
from shared.errors import UserError

# ChangeStreamHistoryLost (the token's point has left the oplog) and ChangeStreamFatalError
# (the server cannot resume from it, e.g. "resume point may no longer be in the oplog").
HISTORY_LOST_CODES = frozenset({280, 286})
HISTORY_LOST_MESSAGE = ("resume token is no longer in the oplog; START again with resumeFrom: \"snapshot\" "
                        "(copy the source again), \"now\" (skip what changed meanwhile) or an ISO timestamp")
DATA_OPS = frozenset({"insert", "update", "replace", "delete"})
# Events after which the followed collection no longer is what we copied.
FATAL_OPS = frozenset({"drop", "rename", "dropDatabase", "invalidate"})


class HistoryLost(UserError):
    """The saved resume token cannot be resumed from any more."""

    def __init__(self, detail: str = ""):
        super().__init__(HISTORY_LOST_MESSAGE)
        self.detail = detail


class SourceInvalidated(UserError):
    """A followed collection was dropped or renamed (or its database dropped)."""


@dataclass(frozen=True)
class Change:
    op: str                      # insert | update | replace | delete
    collection: str              # ns.coll
    doc_id: Any                  # documentKey._id
    document: dict | None        # the post-image (None for deletes, or an update of a since-deleted doc)
    event_time: datetime | None  # naive UTC (wallTime, else clusterTime)


def event_time(raw: dict) -> datetime | None:
    wall = raw.get("wallTime")
    if isinstance(wall, datetime):
        return wall if wall.tzinfo is None else wall.astimezone(timezone.utc).replace(tzinfo=None)
    cluster = raw.get("clusterTime")
    if cluster is not None and hasattr(cluster, "as_datetime"):
        return cluster.as_datetime().astimezone(timezone.utc).replace(tzinfo=None)
    return None


def _history_lost(exc: OperationFailure) -> bool:
    return exc.code in HISTORY_LOST_CODES or "resume point may no longer be in the oplog" in str(exc)


class ChangeFeed:
    """One change stream over `target` (a Collection or Database), opened at `resume_token`
    (None: now). Use as a context manager; `read` returns decoded `Change`s."""

    def __init__(self, target: Any, pipeline: list[dict], resume_token: dict | None,
                 max_await_ms: int = 200, batch_size: int | None = None, start_at: datetime | None = None):
        self.target, self.pipeline = target, pipeline
        # Without a token: the first change at or after this (naive UTC) time, as the server's
        # startAtOperationTime; a time older than the oplog fails like a lost token.
        self.start_at = None if start_at is None or resume_token is not None else \
            Timestamp(calendar.timegm(start_at.utctimetuple()), 0)
        self.resume_token, self.max_await_ms = resume_token, max(1, int(max_await_ms))
        # A step reads at most batch_size changes: asking the server for more (its default fills
        # 16 MB) would make every step of a backlog scan and ship the whole backlog.
        self.batch_size = batch_size
        self._stream: Any = None

    def __enter__(self) -> "ChangeFeed":
        try:
            self._stream = self.target.watch(self.pipeline, full_document="updateLookup",
                                             resume_after=self.resume_token,
                                             max_await_time_ms=self.max_await_ms,
                                             batch_size=self.batch_size,
                                             start_at_operation_time=self.start_at)
        except OperationFailure as exc:
            if _history_lost(exc):
                raise HistoryLost(str(exc)) from exc
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    @property
    def token(self) -> dict | None:
        """Where to resume after what has been read so far."""
        return self._stream.resume_token if self._stream is not None else self.resume_token

    def read(self, max_events: int, wait_s: float) -> list[Change]:
        """Up to `max_events` changes, waiting at most `wait_s` seconds for the batch to fill
        (a batch that is still filling when the time is up is returned as it is)."""
        out: list[Change] = []
        deadline = time.monotonic() + wait_s
        while len(out) < max_events and not (out and time.monotonic() >= deadline):
            try:
                raw = self._stream.try_next()
            except OperationFailure as exc:
                if _history_lost(exc):
                    raise HistoryLost(str(exc)) from exc
                raise
            if raw is None:
                if time.monotonic() >= deadline or not self._stream.alive:
                    break
                continue
            op = raw.get("operationType")
            if op in FATAL_OPS:
                ns = raw.get("ns") or {}
                raise SourceInvalidated(f"the source saw a '{op}' event"
                                        + (f" on {ns.get('db')}.{ns.get('coll')}" if ns else "")
                                        + "; START again with snapshot: true")
            if op not in DATA_OPS:
                continue
            out.append(Change(op, (raw.get("ns") or {}).get("coll", ""), (raw.get("documentKey") or {}).get("_id"),
                              raw.get("fullDocument"), event_time(raw)))
        return out


def current_token(target: Any, pipeline: list[dict]) -> dict | None:
    """The resume token of "now" on `target`: open a stream, take its postBatchResumeToken."""
    with ChangeFeed(target, pipeline, None, max_await_ms=1) as feed:
        return feed.token


def _and(query: dict, extra: dict) -> dict:
    return {"$and": [query, extra]} if query else extra


def page_after(coll: Any, query: dict, after: Any, limit: int, *, started: bool) -> list[dict]:
    """The next `limit` rows matching `query` in `_id` order after `after` (from the start when
    not `started`). `$expr` compares in aggregation order, which orders across BSON types
    exactly like the `_id` sort does (a plain `$gt` stays inside one type bracket), and the
    server turns it into `_id` index bounds `(after, MaxKey]`."""
    q = query if not started else _and(query, {"$expr": {"$gt": ["$_id", {"$literal": after}]}})
    return list(coll.find(q).sort("_id", 1).limit(limit))


def ids_present(coll: Any, ids: list[Any], query: dict | None = None) -> set[Any]:
    """Which of `ids` exist in `coll` (optionally within `query`)."""
    if not ids:
        return set()
    return {d["_id"] for d in coll.find(_and(query or {}, {"_id": {"$in": ids}}), {"_id": 1})}


def delete_ids(coll: Any, ids: list[Any], query: dict | None = None) -> int:
    if not ids:
        return 0
    return coll.delete_many(_and(query or {}, {"_id": {"$in": ids}})).deleted_count
