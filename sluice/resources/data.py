"""Namespaces, API keys, buckets, objects, collections, documents and taxonomies."""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Iterator

from sluice.errors import SluiceError
from sluice.resources._base import Resource, body, seg


class Namespaces(Resource):
    """`client.namespaces.create("team-a")` (admin key); ids look like `ns_…`."""

    def create(self, namespace_name: str, description: str | None = None, metadata: dict | None = None) -> dict:
        return self._http.post("/v1/namespaces", body(namespace_name=namespace_name, description=description,
                                                      metadata=metadata), namespace=None)

    def get(self, id_or_name: str) -> dict:
        return self._http.get(f"/v1/namespaces/{seg(id_or_name)}", namespace=None)

    def list(self, *, limit: int | None = None) -> Iterator[dict]:
        """Every namespace this key may use: `for ns in client.namespaces.list(): …`"""
        return self._http.pages("GET", "/v1/namespaces", limit=limit, namespace=None)

    def delete(self, id_or_name: str, *, force: bool = False) -> dict:
        return self._http.delete(f"/v1/namespaces/{seg(id_or_name)}", params={"force": "true"} if force else None,
                                 namespace=None)


class ApiKeys(Resource):
    """`client.api_keys.create("ci", namespaces=["team-a"])["secret"]` (admin key; shown once)."""

    def create(self, name: str, namespaces: list[str] | str = "*") -> dict:
        return self._http.post("/v1/api-keys", {"name": name, "namespaces": namespaces}, namespace=None)

    def list(self, *, limit: int | None = None) -> Iterator[dict]:
        return self._http.pages("GET", "/v1/api-keys", limit=limit, namespace=None)

    def revoke(self, key_id: str) -> dict:
        return self._http.delete(f"/v1/api-keys/{seg(key_id)}", namespace=None)


class Buckets(Resource):
    """`client.buckets.create("articles", schema={...}, unique_key={"fields": ["sku"]})`"""

    def create(self, bucket_name: str, **fields: Any) -> dict:
        return self._http.post("/v1/buckets", {"bucket_name": bucket_name, **fields})

    def get(self, bucket: str) -> dict:
        return self._http.get(f"/v1/buckets/{seg(bucket)}")

    def update(self, bucket: str, **changes: Any) -> dict:
        return self._http.patch(f"/v1/buckets/{seg(bucket)}", changes)

    def delete(self, bucket: str) -> dict:
        return self._http.delete(f"/v1/buckets/{seg(bucket)}")

    def list(self, filters: dict | None = None, *, limit: int | None = None) -> Iterator[dict]:
        return self._http.pages("POST", "/v1/buckets/list", body(filters=filters), limit=limit)


Progress = Callable[[int, int | None], None]


class Objects(Resource):
    """Objects of a bucket. `client.objects.upload("articles", items, progress=print)` writes any
    iterable in batches the server accepts."""

    BODY_BUDGET = 0.8  # of the server's body limit: room for the envelope and JSON spacing

    def __init__(self, http: Any, limits: Callable[[], dict]):
        super().__init__(http)
        self._limits = limits

    def _path(self, bucket: str, rest: str = "") -> str:
        return f"/v1/buckets/{seg(bucket)}/objects{rest}"

    def create(self, bucket: str, data: dict, *, metadata: dict | None = None, key_prefix: str | None = None,
               policy: str | None = None) -> dict:
        return self._http.post(self._path(bucket), body(data=data, metadata=metadata, key_prefix=key_prefix),
                               params=body(policy=policy))

    def get(self, bucket: str, object_id: str) -> dict:
        return self._http.get(self._path(bucket, f"/{seg(object_id)}"))

    def replace(self, bucket: str, object_id: str, data: dict, *, metadata: dict | None = None,
                key_prefix: str | None = None) -> dict:
        return self._http.put(self._path(bucket, f"/{seg(object_id)}"),
                              body(data=data, metadata=metadata, key_prefix=key_prefix))

    def update(self, bucket: str, object_id: str, **changes: Any) -> dict:
        return self._http.patch(self._path(bucket, f"/{seg(object_id)}"), changes)

    def delete(self, bucket: str, object_id: str) -> dict:
        return self._http.delete(self._path(bucket, f"/{seg(object_id)}"))

    def list(self, bucket: str, filters: dict | None = None, *, sort: dict | None = None,
             limit: int | None = None) -> Iterator[dict]:
        return self._http.pages("POST", self._path(bucket, "/list"), body(filters=filters, sort=sort), limit=limit)

    def upload(self, bucket: str, objects: Iterable[dict], *, policy: str | None = None,
               batch_size: int | None = None, progress: Progress | None = None) -> dict:
        """Write every object (`{"data": {...}, "metadata"?, "key_prefix"?}`) in batches no
        larger than the server accepts (count and body size), one POST …/objects/batch each.
        `progress(written, total)` is called after each batch (total None for an iterator of
        unknown length). Returns {"results": [...], "summary": {"created": n, ...}} with indices
        counted over the whole iterable. A refused batch raises its ValidationError with paths
        `objects.<index in the whole iterable>`; batches before it stay written.

            client.objects.upload("articles", ({"data": {"n": i}} for i in range(5000)))
        """
        limits = self._limits()
        size = min(batch_size or limits["max_batch_objects"], limits["max_batch_objects"])
        budget = int(limits["max_body_bytes"] * self.BODY_BUDGET)
        total = len(objects) if hasattr(objects, "__len__") else None  # type: ignore[arg-type]
        results: list[dict] = []
        summary: dict[str, int] = {}
        for offset, chunk in _batches(objects, size, budget):
            try:
                answer = self._http.post(self._path(bucket, "/batch"), body(objects=chunk, policy=policy))
            except SluiceError as err:
                raise _shifted(err, offset, len(results)) from None
            for r in answer.get("results") or []:
                results.append({**r, "index": offset + int(r.get("index", 0))})
            for outcome, n in (answer.get("summary") or {}).items():
                summary[outcome] = summary.get(outcome, 0) + n
            if progress is not None:
                progress(len(results), total)
        return {"results": results, "summary": summary}


def _batches(items: Iterable[dict], size: int, budget: int) -> Iterator[tuple[int, list[dict]]]:
    """(offset, items) runs of at most `size` items and about `budget` bytes of JSON each."""
    chunk: list[dict] = []
    used, offset = 0, 0
    for item in items:
        cost = len(json.dumps(item, default=str)) + 2
        if chunk and (len(chunk) >= size or used + cost > budget):
            yield offset, chunk
            offset += len(chunk)
            chunk, used = [], 0
        chunk.append(item)
        used += cost
    if chunk:
        yield offset, chunk


def _shifted(err: SluiceError, offset: int, written: int) -> SluiceError:
    """The same error with `objects.<i>` paths counted over the whole upload."""
    details = []
    for d in err.details:
        path = str(d.get("path") or "")
        head, _, rest = path.partition(".")
        if head == "objects" and rest.split(".")[0].isdigit():
            first, _, tail = rest.partition(".")
            path = f"objects.{offset + int(first)}" + (f".{tail}" if tail else "")
        details.append({**d, "path": path})
    note = f"{err.message} ({written} object(s) before index {offset} were written)"
    return type(err)(err.status, err.code, note, details, err.method, err.path, err.retry_after)


class Collections(Resource):
    """`client.collections.create(collection_name="chunks", source={"type": "bucket", "bucket_id":
    "articles"}, feature_extractors=[...])`; `trigger` returns a batch at once."""

    def create(self, collection_name: str, source: dict, **fields: Any) -> dict:
        return self._http.post("/v1/collections", {"collection_name": collection_name, "source": source, **fields})

    def get(self, collection: str) -> dict:
        return self._http.get(f"/v1/collections/{seg(collection)}")

    def update(self, collection: str, **changes: Any) -> dict:
        return self._http.patch(f"/v1/collections/{seg(collection)}", changes)

    def delete(self, collection: str) -> dict:
        return self._http.delete(f"/v1/collections/{seg(collection)}")

    def list(self, filters: dict | None = None, *, limit: int | None = None) -> Iterator[dict]:
        return self._http.pages("POST", "/v1/collections/list", body(filters=filters), limit=limit)

    def trigger(self, collection: str, *, include_buckets: list[str] | None = None,
                include_collections: list[str] | None = None, object_ids: list[str] | None = None,
                source_filters: dict | None = None, idempotency_key: str | None = None) -> dict:
        """Process the collection and everything downstream (seed 002's fields). With an
        `idempotency_key` the same key returns the first batch, and the call is safe to retry.

            batch = client.collections.trigger("chunks", idempotency_key="nightly-2024-05-01")
            client.batches.wait(batch["batch_id"])
        """
        return self._http.post(f"/v1/collections/{seg(collection)}/trigger",
                               body(include_buckets=include_buckets, include_collections=include_collections,
                                    object_ids=object_ids, source_filters=source_filters),
                               headers={"Idempotency-Key": idempotency_key} if idempotency_key else None)


class Documents(Resource):
    """`client.documents.list("chunks", filters={"field": "words", "operator": "gt", "value": 3})`"""

    def list(self, collection: str, filters: dict | None = None, *, limit: int | None = None) -> Iterator[dict]:
        return self._http.pages("POST", f"/v1/collections/{seg(collection)}/documents/list", body(filters=filters),
                                limit=limit)

    def get(self, collection: str, document_id: str) -> dict:
        return self._http.get(f"/v1/collections/{seg(collection)}/documents/{seg(document_id)}")


class Taxonomies(Resource):
    """`client.taxonomies.create("topics", nodes=[{"node_id": "sw", "label": "Software", ...}])`"""

    def create(self, taxonomy_name: str, nodes: list[dict], description: str | None = None) -> dict:
        return self._http.post("/v1/taxonomies", body(taxonomy_name=taxonomy_name, nodes=nodes,
                                                      description=description))

    def get(self, taxonomy: str) -> dict:
        return self._http.get(f"/v1/taxonomies/{seg(taxonomy)}")

    def list(self, *, limit: int | None = None) -> Iterator[dict]:
        return self._http.pages("GET", "/v1/taxonomies", limit=limit)

    def delete(self, taxonomy: str) -> dict:
        return self._http.delete(f"/v1/taxonomies/{seg(taxonomy)}")
