"""One chunk of one tier: bulk read, filter, extract, label, bulk write. A plain function;
the Celery task around it only decodes ids and classifies errors."""
from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Any, Callable

from shared.causes import cause_of
from shared.engine.batch import docbuild, sources
from shared.engine.batch.taxonomy import apply_taxonomies, compile_taxonomy
from shared.engine.chunking import hand_on, heartbeat_interval_s, record_metrics, resume_split, time_budget_s
from shared.engine.failfast import FailureStreak
from shared.engine.lookahead import Lookahead
from shared.extractors import RecordError, get_extractor
from shared.filters import matches, parse_filter
from shared.settings import Settings
from shared.status import BatchStatus, ObjectStatus
from shared.storable import storable
from shared.stores import Stores
from shared.timeutil import utcnow

MAX_MESSAGE = 2000


def open_steps(collection: dict, settings: Settings, stack: ExitStack) -> list[docbuild.Step]:
    steps = []
    for i, fe in enumerate(collection.get("feature_extractors") or []):
        extractor = get_extractor(fe["feature_extractor_name"], fe.get("version"))
        run = stack.enter_context(extractor.open(fe.get("parameters") or {}, settings))
        steps.append(docbuild.Step(
            index=i, run=run, spec=extractor.spec,
            input_mapping=fe.get("input_mapping") or {}, output_mapping=fe.get("output_mapping") or {},
            fan_out=(fe.get("document_output_type") or extractor.spec.output_type) == "multiple"))
    return steps


def _view_filter(collection: dict) -> Any:
    raw = collection["source"].get("filters")
    if not raw:
        return None
    # Collection filters see the record view (data fields at the top level, plus system
    # fields), so the same names work for bucket and collection sources.
    return parse_filter(raw, "source.filters")


def process_chunk(stores: Stores, settings: Settings, chunk_id: str, worker: str | None = None,
                  budget_s: float | None = None, dispatch: Callable[[list[str]], None] | None = None) -> dict:
    """Process one chunk; idempotent (a done chunk is skipped, documents are upserts).
    `worker` (the Celery hostname) is recorded on the chunk row, so operators can see how
    work spread over a pool. A chunk still working after `budget_s` splits: the records left
    become a new pending chunk, handed to `dispatch` at once (so another worker can start on
    it, and a crash before this chunk completes cannot strand it) and listed in the result as
    `continuations`. Slow records (up to the JS time limit each) therefore never make a chunk
    outlive the task limit."""
    started = time.monotonic()
    budget = time_budget_s(settings) if budget_s is None else budget_s
    chunk = stores.batches.chunk(chunk_id)
    if chunk is None or chunk.get("done"):
        return {"skipped": True}
    batch = stores.batches.get(chunk["batch_id"])
    counts = dict.fromkeys(("fetched", "after_filter", "processed", "written", "failed"), 0)
    if batch["status"] == BatchStatus.PAUSED.value:
        return {"paused": True}   # left pending: the scheduler parks it until resume
    if batch["status"] != BatchStatus.PROCESSING.value or batch.get("cancel_requested"):
        stores.batches.complete_chunk(chunk_id, counts, {}, 0, chunk=chunk)
        return {"skipped": True}
    continuations = resume_split(stores.batches, chunk, dispatch)
    collection = stores.collections.by_id(chunk["collection_id"])
    src_type = collection["source"]["type"]
    store, query = sources.chunk_input(stores, batch, collection, chunk)
    rows = store.fetch_range(query, chunk["lo"], stores.batches.ledger.current_hi(chunk),
                             store.ENGINE_FIELDS)
    counts["fetched"] = len(rows)
    node = _view_filter(collection)
    taxonomies = [compile_taxonomy(tax, app.get("output_collection_id")) for app, tax in
                  stores.taxonomies.for_applications(collection.get("taxonomy_applications") or [])]
    salt = "" if batch.get("deterministic_ids", True) else batch["_id"]
    now = utcnow()
    docs: list[dict] = []
    extra: dict[str, list[dict]] = {}
    failures, errors_by_code = [], {}
    ok_sources, failed_sources, reshaped = [], [], []
    streak = FailureStreak(settings.fail_fast_after)
    with ExitStack() as stack:
        steps = open_steps(collection, settings, stack)
        kept = [k for k, row in enumerate(rows)
                if node is None or matches(node, sources.record_view(row, src_type))]
        # Extraction runs a window of records ahead (one sandbox call for many records);
        # what happens to each record is still decided here, record by record.
        ahead = Lookahead(kept, lambda ks: docbuild.build_many(
            [(sources.record_meta(rows[k], src_type), rows[k].get("data") or {}) for k in ks], steps))
        kept_set = set(kept)
        for k, row in enumerate(rows):
            if k and time.monotonic() - started > budget:
                split = hand_on(stores.batches, chunk, row["_id"], k, dispatch)
                if split is not None:
                    chunk, continuations = split, [c["_id"] for c in split["continuations"]]
                    counts["fetched"] = k
                    break
            if k not in kept_set:
                continue
            counts["after_filter"] += 1
            try:
                if streak.tripped:
                    raise RecordError(streak.code or "", streak.skip_message())
                outputs = ahead.result(k)
                if isinstance(outputs, RecordError):
                    raise outputs
                made = [_document(collection, batch, row, src_type, position, data, salt)
                        for position, data in outputs]
                made_extra = apply_taxonomies(taxonomies, made)
                check_documents(made, made_extra)
            except RecordError as exc:
                if not streak.tripped:
                    streak.record_failure(exc.code, exc.message)
                counts["failed"] += 1
                errors_by_code[exc.code] = errors_by_code.get(exc.code, 0) + 1
                failed_sources.append(row["_id"])
                failures.append(_failure(chunk, row, exc.code, exc.message, getattr(exc, "line", None), now))
                continue
            streak.record_ok()
            counts["processed"] += 1
            ok_sources.append(row["_id"])
            if len(outputs) != 1 or outputs[0][0] != "":
                reshaped.append(row["_id"])  # fanned out or dropped: earlier documents may be stale
            docs.extend(made)
            for target_id, target_docs in made_extra.items():
                extra.setdefault(target_id, []).extend(target_docs)
    # Failures first: if the store then fails the writes, the records that failed on their
    # own merits keep that cause, and only the others become infrastructure failures.
    stores.batches.record_failures(failures)
    counts["written"] = stores.documents.upsert_many(docs, now)
    for target_id, target_docs in extra.items():
        stores.documents.upsert_many(target_docs, now)
    if salt == "" and reshaped:
        # A source that yields exactly its one default document overwrote it in place; only
        # the others can have documents an earlier run made and this one does not.
        stores.documents.delete_stale(collection["_id"], reshaped, [d["_id"] for d in docs])
    if src_type == "bucket":
        stores.objects.set_statuses({ObjectStatus.PROCESSED.value: ok_sources,
                                     ObjectStatus.FAILED.value: failed_sources})
    duration = int((time.monotonic() - started) * 1000)
    if stores.batches.complete_chunk(chunk_id, counts, errors_by_code, duration, worker, chunk=chunk):
        record_metrics(stores.metrics, "collection", collection["_id"], counts["processed"], errors_by_code,
                       duration / 1000)
    stores.batches.heartbeat(batch["_id"], heartbeat_interval_s(settings))
    return {**counts, "continuations": continuations} if continuations else counts


def check_documents(docs: list[dict], extra: dict[str, list[dict]]) -> None:
    """A record whose documents MongoDB could not store (a NUL in a key, an integer beyond
    64 bits, a field name against the rule...) fails alone, with the first problem's path;
    the chunk's other records are written."""
    for doc in [*docs, *(d for target in extra.values() for d in target)]:
        problem = storable(doc["data"], "data") or storable(doc.get("taxonomy") or {}, "taxonomy", names=False)
        if problem is not None:
            raise RecordError(problem.code, f"cannot store the output: {problem}")


def _document(collection: dict, batch: dict, row: dict, src_type: str, position: str,
              data: dict, salt: str) -> dict:
    if src_type == "bucket":
        root, lineage = row["_id"], [f"bucket:{row['bucket_id']}", f"object:{row['_id']}"]
        source_collection, source_bucket = None, row["bucket_id"]
    else:
        root = row.get("root_object_id")
        lineage = list(row.get("lineage_path") or []) + [f"document:{row['_id']}"]
        source_collection, source_bucket = row.get("collection_id"), row.get("source_bucket_id")
    return {"_id": docbuild.document_id(collection["_id"], row["_id"], position, salt),
            "namespace_id": collection["namespace_id"], "collection_id": collection["_id"],
            "root_object_id": root, "source_type": "object" if src_type == "bucket" else "document",
            "source_id": row["_id"], "source_collection_id": source_collection,
            "source_bucket_id": source_bucket,
            "lineage_path": lineage + [f"collection:{collection['_id']}"],
            "batch_id": batch["_id"], "batch_attempt": batch.get("attempt", 1), "data": data}


def _failure(chunk: dict, row: dict, code: str, message: str, line: int | None, now: Any) -> dict:
    return {"_id": f"{chunk['batch_id']}:{chunk['tier_num']}:{chunk['collection_id']}:{row['_id']}",
            "batch_id": chunk["batch_id"], "tier_num": chunk["tier_num"],
            "collection_id": chunk["collection_id"], "source_id": row["_id"],
            "root_object_id": row.get("root_object_id", row["_id"]),
            "code": code, "cause": cause_of(code), "chunk_id": chunk["_id"],
            "message": (message or "")[:MAX_MESSAGE], "line": line, "at": now}

