"""One step of a streaming pipeline (the body of the STREAM_STEP task).

A step claims the pipeline's lease (StreamingStore.claim: its chain already owns it, or the
lease has expired, and only in the current epoch), then does one bounded piece of work by
status — STARTING: take the resume token of "now" *before* any data is read, so nothing that
changes during the snapshot is lost; SNAPSHOTTING: copy one page of `maxBatchSize` rows;
STREAMING: read up to `maxBatchSize` changes or `maxBatchWaitMs`; STOPPING: become NOT_RUNNING —
renews the lease right before writing to the target, and saves its position (resume token or
snapshot page), counters and heartbeat in one conditional update. The caller re-enqueues the
next step while `again` is true; no worker slot is held between steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shared.connectors.cdc import CdcSource, cdc_source
from shared.connectors.streaming_targets import streaming_target
from shared.engine.events import emit
from shared.engine.streaming.apply import Batch, Transformer, Written, write
from shared.engine.streaming.definition import status_view
from shared.settings import StreamingSettings
from shared.engine.streaming.decisions import (FRESH_SNAPSHOT, RESUME_SNAPSHOT, chunk_id, collapse, lag_alert,
                                               lag_seconds, read_wait_s, snapshot_advance, step_action)
from shared.errors import NotFound, TransientError, ValidationFailed
from shared.jsbox import JsError
from shared.status import StreamingStatus as S
from shared.stores import Stores
from shared.stores.changefeed import HistoryLost, SourceInvalidated
from shared.timeutil import utcnow


@dataclass(frozen=True)
class StepResult:
    again: bool
    action: str
    queue: str | None = None


class LeaseLost(TransientError):
    """Another chain owns the pipeline now (or a new START began): this chain ends."""


def fail(stores: Stores, pipeline_id: str, message: str, where: dict | None = None,
         extra: dict | None = None) -> dict | None:
    """FAILED with the reason (a guarded transition), and the `streaming.failed` event queued for
    the namespace's webhooks subscribed to it."""
    failed = stores.streaming.transition(pipeline_id, S.FAILED.value, where=where,
                                         set_={"error": message[:2000], "lease_owner": None, "lease_until": None,
                                               **(extra or {})})
    if failed is not None:
        emit(stores, failed["namespace_id"], "streaming.failed",
             {**status_view(failed), "name": failed["definition"].get("name")})
    return failed


class _Step:
    def __init__(self, stores: Stores, settings: Any, ss: StreamingSettings, doc: dict, epoch: int, chain: str):
        self.stores, self.settings, self.ss = stores, settings, ss
        self.doc, self.epoch, self.chain = doc, epoch, chain
        self.pid, self.definition = doc["_id"], doc["definition"]
        advanced = self.definition["advancedProperties"]
        self.max_batch, self.max_wait_ms = int(advanced["maxBatchSize"]), int(advanced["maxBatchWaitMs"])
        self.where = {"epoch": epoch, "lease_owner": chain}

    # -- plumbing --------------------------------------------------------------------------
    def _until(self) -> Any:
        return utcnow() + timedelta(seconds=self.ss.lease_s)

    def source(self) -> CdcSource:
        spec = self.definition["streamingSource"]
        conn = self.stores.connections.by_id(spec["connection"]["connectionId"])
        return cdc_source(self.stores, conn, spec)

    def target(self) -> Any:
        spec = self.definition["streamingTarget"]
        conn = self.stores.connections.by_id(spec["connection"]["connectionId"])
        return streaming_target(self.stores, conn, spec, self.settings, self.pid)

    def context(self, *range_: Any) -> dict:
        return {"pipeline_id": self.pid, "run_id": f"{self.pid}:{self.epoch}",
                "chunk_id": chunk_id(self.pid, *range_), "namespace_id": self.doc["namespace_id"]}

    def renew(self) -> None:
        if not self.stores.streaming.renew(self.pid, self.epoch, self.chain, self._until()):
            raise LeaseLost()

    def save(self, fields: dict, counters: dict | None = None, failures: list[dict] | None = None) -> None:
        fields = {**fields, "errors_in_row": 0, "lease_until": self._until()}
        if not self.stores.streaming.save(self.pid, self.epoch, self.chain, fields, counters, failures):
            raise LeaseLost()

    def move(self, new: str, fields: dict, counters: dict | None = None,
             failures: list[dict] | None = None) -> None:
        """Change status and save progress at once; if a STOP came in meanwhile the status
        stays STOPPING but the progress is still saved (the next step stops)."""
        now = utcnow()
        set_ = {**fields, "heartbeat_at": now, "lease_until": self._until(), "errors_in_row": 0}
        inc = {f"counters.{k}": v for k, v in (counters or {}).items() if v}
        moved = self.stores.streaming.transition(self.pid, new, where=self.where, set_=set_, inc=inc or None)
        if moved is None:
            self.save(fields, counters, failures)
        elif failures:
            self.stores.streaming.save(self.pid, self.epoch, self.chain, {}, None, failures)

    # -- phases ----------------------------------------------------------------------------
    def start(self) -> None:
        mode = (self.doc.get("run") or {}).get("mode")
        if mode == RESUME_SNAPSHOT:
            self.move(S.SNAPSHOTTING.value, {})
            return
        with self.source() as src:
            if mode == FRESH_SNAPSHOT:
                # The token first: changes made while the snapshot copies are replayed after it.
                self.move(S.SNAPSHOTTING.value, {"resume_token": src.now_token(),
                                                 "snapshot": {"part": 0, "after": None, "started": False}})
            elif (self.doc.get("run") or {}).get("start_at") and not self.doc.get("resume_token"):
                # resumeFrom a time: the first stream step opens at it (no token yet).
                self.move(S.STREAMING.value, {"snapshot": None})
            else:
                token = self.doc.get("resume_token") or src.now_token()
                self.move(S.STREAMING.value, {"resume_token": token, "snapshot": None})

    def snapshot(self) -> None:
        snap = self.doc.get("snapshot") or {"part": 0, "after": None, "started": False}
        batch = Batch()
        with self.source() as src:
            rows = src.snapshot_page(snap["part"], snap["after"], snap["started"], self.max_batch)
            part = src.parts[snap["part"]]
            parts = len(src.parts)
            with self.target() as dst, Transformer(self.definition, self.settings) as tf:
                for row in rows:
                    tf.apply(batch, src.key(part, row["_id"]), src.record(row))
                self.renew()
                written = write(dst, batch, [], self.context("snapshot", self.epoch, snap))
        counters = {"snapshotRows": len(rows), "applied": written.applied, "failed": len(batch.failures)}
        nxt = snapshot_advance(snap["part"], parts, rows, self.max_batch)
        if nxt is None:
            self.move(S.STREAMING.value, {"snapshot": None}, counters, batch.failures)
        else:
            self.save({"snapshot": nxt}, counters, batch.failures)

    def stream(self) -> None:
        token = self.doc.get("resume_token")
        with self.source() as src:
            start_at = None if token else (self.doc.get("run") or {}).get("start_at")
            with src.feed(token, self.ss.max_await_ms, self.max_batch, start_at) as feed:
                changes = feed.read(self.max_batch, read_wait_s(self.max_wait_ms, self.ss.lease_s))
                new_token = feed.token
            keyed = [(src.key(c.collection, c.doc_id), c) for c in changes]
            latest = collapse(keyed, key=lambda kc: kc[0])
            batch, deletes, written = Batch(), [], Written()
            if latest:
                with self.target() as dst, Transformer(self.definition, self.settings) as tf:
                    for key, change in latest.values():
                        if change.op == "delete" or change.document is None:
                            deletes.append(key)  # absent now: remove it if the target holds it
                        else:
                            tf.apply(batch, key, src.record(change.document))
                    self.renew()
                    written = write(dst, batch, deletes, self.context("stream", token, new_token))
            upserted = {k for k, c in keyed if c.op != "delete"}
            captured = sum(1 for k, c in keyed if c.op != "delete" or src.deletes_certain
                           or k in written.present or k in upserted)
        times = [c.event_time for c in changes if c.event_time is not None]
        newest = max(times) if times else None
        lag = lag_seconds(utcnow(), newest)
        streak, lagging = lag_alert(lag, self.definition["advancedProperties"].get("lagAlertSeconds"),
                                    self.doc.get("lag_streak", 0))
        fields: dict[str, Any] = {"resume_token": new_token, "lag_seconds": lag, "lag_streak": streak}
        if newest is not None:
            fields["last_event_time"] = newest
        self.save(fields, {"changesCaptured": captured, "applied": written.applied,
                           "failed": len(batch.failures)}, batch.failures)
        if lagging:
            emit(self.stores, self.doc["namespace_id"], "streaming.lagging",
                 {**status_view({**self.doc, **fields}), "name": self.definition.get("name"),
                  "lagAlertSeconds": self.definition["advancedProperties"].get("lagAlertSeconds")})


def run_step(stores: Stores, settings: Any, ss: StreamingSettings, pipeline_id: str, epoch: int,
             chain: str) -> StepResult:
    """Claim, do one piece of work, save. Per-pipeline problems (history lost, a source dropped,
    a deleted connection, JavaScript that no longer loads) end the pipeline FAILED with the
    reason; infrastructure errors propagate to the task, which retries."""
    now = utcnow()
    doc = stores.streaming.claim(pipeline_id, epoch, chain, now, now + timedelta(seconds=ss.lease_s))
    if doc is None:
        return StepResult(False, "exit")
    action = step_action(doc["status"])
    where = {"epoch": epoch, "lease_owner": chain}
    if action == "stop":
        stores.streaming.transition(pipeline_id, S.NOT_RUNNING.value, where=where,
                                    set_={"lease_owner": None, "lease_until": None})

        return StepResult(False, "stop")
    if action == "exit":
        return StepResult(False, "exit")
    try:
        getattr(_Step(stores, settings, ss, doc, epoch, chain), action)()
    except LeaseLost:
        return StepResult(False, "lease_lost")
    except HistoryLost as exc:
        # The next START must say where to begin (resumeFrom): nothing is lost silently.
        fail(stores, pipeline_id, str(exc), where, {"token_lost": True})
        return StepResult(False, "failed")
    except SourceInvalidated as exc:
        fail(stores, pipeline_id, str(exc), where)
        return StepResult(False, "failed")
    except (ValidationFailed, NotFound, JsError) as exc:
        fail(stores, pipeline_id, f"{action}: {getattr(exc, 'message', str(exc))}", where)
        return StepResult(False, "failed")
    return StepResult(True, action, doc["definition"].get("agentId"))
