"""Change data capture sources for streaming pipelines: what to snapshot and which change
stream to follow, for Sluice's own buckets and for an external MongoDB.

    cdc_source(stores, connection, source_spec) -> CdcSource
        .parts                         the snapshot's parts (collections), read in order
        .snapshot_page(part, after, started, limit) -> rows, in `_id` order after `after`
        .feed(resume_token, max_await_ms, batch_size) -> ChangeFeed  (context manager; .read(n, wait_s))
        .key(change_or_part, doc_id)   the target key of a source document
        .record(row)                   the JSON-able record filters and JavaScript see
        .deletes_certain               False when a delete event may not be ours (see below)

Internal bucket source. Objects of every bucket live in one `objects` collection, and a delete
event carries only `documentKey` (no bucket). We watch `objects` with
`{"$or": [{"fullDocument.bucket_id": B}, {"operationType": "delete"}]}`: inserts, replaces and
updates (post-image looked up) of bucket B, and every delete. Which deletes are ours is decided
by asking the *target* whether it holds the key (object ids are random and unique across
buckets, so only our own objects can be there); the engine does that for every delete anyway,
so a delete of another bucket's object is dropped, never forwarded, never counted. (The
alternative — pre-images via `changeStreamPreAndPostImages` on `objects` — would double the
write volume of every bucket to serve a few pipelines.)

External MongoDB source. One collection is watched with `collection.watch`, several with
`database.watch` and `$match` on `ns.coll`. Keys are `str(_id)` for one collection and
`"<collection>:<_id>"` for several, so equal ids in two collections stay apart.
"""
from __future__ import annotations

from typing import Any

from shared.connectors.base import jsonable
from shared.connectors.clients import SharedExternal
from shared.connectors.internal import BucketSource
from shared.connectors.mongodb import CLIENT_TIMEOUT_MS
from shared.connectors.mongouri import mongo_name_problem
from shared.errors import ValidationFailed
from shared.stores import Stores
from shared.stores.changefeed import ChangeFeed, current_token, page_after

SOURCE_TYPES = ("bucket", "mongodb")


class CdcSource:
    kind = ""
    parts: list[str] = []
    deletes_certain = True
    target: Any = None
    pipeline: list[dict] = []

    def feed(self, resume_token: dict | None, max_await_ms: int, batch_size: int | None = None,
             start_at: Any = None) -> ChangeFeed:
        return ChangeFeed(self.target, self.pipeline, resume_token, max_await_ms, batch_size, start_at)

    def now_token(self) -> dict | None:
        return current_token(self.target, self.pipeline)

    def snapshot_page(self, part: int, after: Any, started: bool, limit: int) -> list[dict]:
        raise NotImplementedError

    def key(self, collection: str, doc_id: Any) -> str:
        return str(doc_id)

    def record(self, row: dict) -> dict:
        return jsonable(row)

    def close(self) -> None:
        pass

    def __enter__(self) -> "CdcSource":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class BucketCdc(CdcSource):
    kind = "bucket"
    deletes_certain = False

    def __init__(self, stores: Stores, connection: dict):
        try:
            self._bucket = BucketSource(stores, connection, {})
        except ValidationFailed as exc:
            raise ValidationFailed.at("streamingSource.connection.connectionId", exc.details[0]["message"],
                                      code=exc.code) from None
        self.bucket_id = self._bucket.bucket_id
        self.parts = ["objects"]
        self.objects = stores.objects
        self.pipeline = [{"$match": {"$or": [{"fullDocument.bucket_id": self.bucket_id},
                                             {"operationType": "delete"}]}}]

    def feed(self, resume_token: dict | None, max_await_ms: int, batch_size: int | None = None,
             start_at: Any = None) -> ChangeFeed:
        return self.objects.change_feed(self.pipeline, resume_token, max_await_ms, batch_size, start_at)

    def now_token(self) -> dict | None:
        return self.objects.current_change_token(self.pipeline)

    def snapshot_page(self, part: int, after: Any, started: bool, limit: int) -> list[dict]:
        return self.objects.page_after(self.bucket_id, after, limit, started=started)

    def record(self, row: dict) -> dict:
        return self._bucket.record(row)


class MongoCdc(CdcSource):
    kind = "mongodb"

    def __init__(self, connection: dict, collections: list[str], *, timeout_ms: int | None = None):
        self._ext = SharedExternal(connection, timeout_ms or CLIENT_TIMEOUT_MS)
        self.parts = list(collections)
        self.multi = len(self.parts) > 1
        self.pipeline = [{"$match": {"ns.coll": {"$in": self.parts}}}] if self.multi else []

    @property
    def target(self) -> Any:  # type: ignore[override]
        coll = self._ext.collection(self.parts[0])
        return coll.database if self.multi else coll

    def snapshot_page(self, part: int, after: Any, started: bool, limit: int) -> list[dict]:
        return page_after(self._ext.collection(self.parts[part]), {}, after, limit, started=started)

    def key(self, collection: str, doc_id: Any) -> str:
        return f"{collection}:{doc_id}" if self.multi else str(doc_id)

    def close(self) -> None:
        self._ext.close()


def source_collections(connection: dict, requested: list[str] | None, path: str) -> tuple[list[str], list[dict]]:
    """The collections a source follows (default: the connection's collection) and any problems."""
    if connection.get("type") != "mongodb":
        if requested:
            return [], [{"path": path, "message": "only a mongodb source follows collections"}]
        return [], []
    names = list(dict.fromkeys(requested or []))
    if not names:
        default = (connection.get("config") or {}).get("collection")
        if not default:
            return [], [{"path": path, "message": "names no collection: list the collections to follow "
                                                  "or set the connection's config.collection"}]
        names = [default]
    problems = [{"path": f"{path}.{i}", "message": p} for i, n in enumerate(names)
                if (p := mongo_name_problem(n, "collection")) is not None]
    return names, problems


def cdc_source(stores: Stores, connection: dict, source_spec: dict) -> CdcSource:
    kind = connection.get("type")
    if kind == "bucket":
        return BucketCdc(stores, connection)
    if kind == "mongodb":
        names, problems = source_collections(connection, source_spec.get("collections"),
                                             "streamingSource.collections")
        if problems:
            raise ValidationFailed(problems[0]["message"], details=problems)
        return MongoCdc(connection, names)
    raise ValidationFailed.at("streamingSource.connection.connectionId",
                              f"a {kind} connection cannot be a streaming source (must be one of: "

                              f"{', '.join(SOURCE_TYPES)})", code="connection_role_invalid")
