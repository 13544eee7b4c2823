"""`GET /metrics` in Prometheus format.

- HTTP requests by route/method/status and latency: prometheus-client in this process (or,
  with PROMETHEUS_MULTIPROC_DIR set, prometheus-client's multiprocess mode, for gunicorn
  with several workers).
- Everything workers do (records processed/failed by collection or pipeline and error
  code, chunk and tier durations): counted in MongoDB by the workers (see
  shared/stores/metrics.py) and read back here at scrape time — safe across processes and
  hosts.
- Batches, runs and streaming pipelines by status, streaming lag per running pipeline,
  queue depths per queue: read at scrape time.
"""
from __future__ import annotations

import os
import time
from typing import Any, Iterable

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from api.resources.queues.routes import report
from shared.status import StreamingStatus

RUNNING_STREAMING = {StreamingStatus.SNAPSHOTTING.value, StreamingStatus.STREAMING.value}

HELP = {
    "sluice_records_processed_total": "Records processed, by kind (collection|pipeline) and target id",
    "sluice_records_failed_total": "Records failed, by kind, target id and error code",
    "sluice_chunk_duration_seconds": "Duration of one chunk task",
    "sluice_tier_duration_seconds": "Duration of one batch tier",
}


class StoreCollector:
    """Reads worker-side metrics, statuses and queue depths when Prometheus scrapes."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self) -> Iterable[Any]:
        stores = self.app.extensions["sluice.stores"]
        for kind, store in (("batch", stores.batches), ("run", stores.runs)):
            fam = GaugeMetricFamily(f"sluice_{kind}es_by_status" if kind == "batch" else "sluice_runs_by_status",
                                    f"{'Batches' if kind == 'batch' else 'Pipeline runs'} by status",
                                    labels=["status"])
            for status, n in sorted(store.count_by_status().items()):
                fam.add_metric([status], n)
            yield fam
        yield from self._stored(stores.metrics.all())
        yield from self._streaming(stores.streaming.metrics_rows())
        yield from self._backlog(report(stores, self.app.extensions["sluice.tasks"],
                                        self.app.config["SLUICE_SETTINGS"]))

    @staticmethod
    def _backlog(rep: dict) -> Iterable[Any]:
        """Queue depth and oldest-message age per queue; chunks waiting/running per namespace
        and priority (the autoscaling signals; GET /v1/queues has the same as JSON)."""
        depth = GaugeMetricFamily("sluice_queue_depth", "messages waiting per Celery queue", labels=["queue"])
        age = GaugeMetricFamily("sluice_queue_oldest_age_seconds", "how long the next message of a queue has "
                                "waited", labels=["queue"])
        for q in rep["queues"]:
            if q["depth"] is not None:
                depth.add_metric([q["queue"]], q["depth"])
            if q["oldest_age_seconds"] is not None:
                age.add_metric([q["queue"]], q["oldest_age_seconds"])
        waiting = GaugeMetricFamily("sluice_chunks_waiting", "chunks enqueued and not started",
                                    labels=["namespace", "priority"])
        running = GaugeMetricFamily("sluice_chunks_running", "chunks running now", labels=["namespace", "priority"])
        for row in rep["namespaces"]:
            waiting.add_metric([row["namespace_id"], row["priority"]], row["waiting"])
            running.add_metric([row["namespace_id"], row["priority"]], row["running"])
        return [depth, age, waiting, running]

    @staticmethod
    def _streaming(rows: list[dict]) -> Iterable[Any]:
        """Streaming pipelines by status, and each running pipeline's lag (now minus the time
        of the newest change it applied, as of its last step)."""
        by_status = GaugeMetricFamily("sluice_streaming_pipelines_by_status", "Streaming pipelines by status",
                                      labels=["status"])
        lag = GaugeMetricFamily("sluice_streaming_lag_seconds",
                                "End-to-end lag of a running streaming pipeline, as of its last step",
                                labels=["namespace", "pipeline", "name"])
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
            if row["status"] in RUNNING_STREAMING and row.get("lag_seconds") is not None:
                lag.add_metric([row["namespace_id"], row["_id"], (row.get("definition") or {}).get("name") or ""],
                               float(row["lag_seconds"]))
        for status, n in sorted(counts.items()):
            by_status.add_metric([status], n)
        return [by_status, lag]

    @staticmethod
    def _stored(rows: list[dict]) -> Iterable[Any]:
        families: dict[str, Any] = {}
        for row in rows:
            names = sorted(row["labels"])
            if row["type"] == "counter":
                fam = families.setdefault(row["name"], CounterMetricFamily(
                    row["name"].removesuffix("_total"), HELP.get(row["name"], row["name"]), labels=names))
                fam.add_metric([row["labels"][k] for k in names], row["value"])
            else:
                fam = families.setdefault(row["name"], HistogramMetricFamily(
                    row["name"], HELP.get(row["name"], row["name"]), labels=names))
                cumulative = []
                for le in row["le"]:
                    cumulative.append((str(le), row.get("buckets", {}).get(str(le).replace(".", "_"), 0)))
                cumulative.append(("+Inf", row["count"]))
                fam.add_metric([row["labels"][k] for k in names], cumulative, row["sum"])
        return families.values()


def install_metrics(app: Flask) -> None:
    registry = CollectorRegistry()
    multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
        http_registry = None  # metrics go to the shared directory
    else:
        http_registry = registry
    requests_total = Counter("sluice_http_requests_total", "HTTP requests", ["method", "route", "status"],
                             registry=http_registry)
    latency = Histogram("sluice_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                        registry=http_registry)
    registry.register(StoreCollector(app))

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(resp: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        requests_total.labels(request.method, route, str(resp.status_code)).inc()
        started = g.get("metrics_started")
        if started is not None:
            latency.labels(request.method, route).observe(time.perf_counter() - started)
        return resp

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
