"""What a pipeline run reads. Normally the pipeline's source; a replay reads the dead letters
of the run it replays (their stored input records, so exactly those records run again, even if
the source changed since); a backfill window reads the source's records updated within it."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.connectors import source_for
from shared.connectors.base import Source, and_query
from shared.stores import Stores


class DeadLetterSource(Source):
    """The dead letters of run `run_id` as a run's source (keys and records as first read)."""
    kind = "dead_letters"

    def __init__(self, stores: Stores, run_id: str):
        self.store, self.run_id = stores.dead_letters, run_id

    def query(self, filters_mongo: dict | None, updated_after: datetime | None,
              update_time_field: str | None) -> dict:
        return {}

    def boundaries(self, query: dict, size: int) -> tuple[list[tuple[Any, Any | None]], int]:
        return self.store.boundaries(self.run_id, size)

    def fetch_range(self, query: dict, lo: Any, hi: Any | None) -> list[dict]:
        return self.store.fetch_range(self.run_id, lo, hi)

    def record(self, row: dict) -> dict:
        return row["record"]

    def key(self, row: dict) -> str:
        return row["source_key"]

    def update_time(self, row: dict, update_time_field: str | None) -> datetime | None:
        return None  # a replay never moves the incremental cursor


class WindowSource(Source):
    """The pipeline's source, read only up to `end` of the update-time field (a backfill window:
    the run's cursor_from is its start)."""

    def __init__(self, inner: Source, end: datetime):
        self.inner, self.end = inner, end
        self.kind = inner.kind

    def query(self, filters_mongo: dict | None, updated_after: datetime | None,
              update_time_field: str | None) -> dict:
        path = self.inner.field_resolver()(update_time_field or self.inner.default_update_time_field)
        return and_query([self.inner.query(filters_mongo, updated_after, update_time_field),
                          {path: {"$lte": self.end}}])

    def boundaries(self, query: dict, size: int) -> tuple[list[tuple[Any, Any | None]], int]:
        return self.inner.boundaries(query, size)

    def fetch_range(self, query: dict, lo: Any, hi: Any | None) -> list[dict]:
        return self.inner.fetch_range(query, lo, hi)

    def bound(self, row: dict) -> Any:
        return self.inner.bound(row)

    def record(self, row: dict) -> dict:
        return self.inner.record(row)

    def key(self, row: dict) -> str:
        return self.inner.key(row)

    def update_time(self, row: dict, update_time_field: str | None) -> datetime | None:
        return self.inner.update_time(row, update_time_field)

    def close(self) -> None:
        self.inner.close()


def run_source(stores: Stores, run: dict, pipeline: dict) -> Source:
    if run.get("replay_of"):
        return DeadLetterSource(stores, run["replay_of"])
    source = source_for(stores, stores.connections.by_id(pipeline["source"]["connection_id"]), pipeline["source"])
    window = run.get("window")
    return WindowSource(source, window["end"]) if window else source
