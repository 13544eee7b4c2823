"""`sluice trigger`, `sluice run` and `sluice status`: start work through the API, follow it,
and show where it stands."""
from __future__ import annotations

import json
import time
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

from cli.errors import EXIT_OK, EXIT_TIMEOUT, exit_code_for_status
from sluice import Sluice
from sluice.errors import NotFoundError, SluiceError, ValidationError
from sluice.progress import WatchAborted, watch

STATUS_ROUTES = {"bat_": "/v1/batches/{}", "run_": "/v1/pipelines/runs/{}", "tsk_": "/v1/tasks/{}"}


def status_path(ident: str) -> str | None:
    """The GET route for a batch (bat_), run (run_) or task (tsk_) id; None for anything else."""
    for prefix, route in STATUS_ROUTES.items():
        if ident.startswith(prefix):
            return route.format(ident)
    return None


def collection_namer(client: Sluice) -> Callable[[str], str]:
    """collection id -> name, asked once per id (the id itself if the lookup fails)."""
    cache: dict[str, str] = {}

    def name(cid: str) -> str:
        if cid not in cache:
            try:
                cache[cid] = (client.http.find(f"/v1/collections/{cid}") or {}).get("collection_name") or cid
            except SluiceError:
                cache[cid] = cid
        return cache[cid]
    return name


def resolve_pipeline(client: Sluice, ref: str) -> str:
    """A pipeline id as given, or the id of the pipeline whose alias is `ref`."""
    if ref.startswith("pipe_"):
        return ref
    matches = [p for p in client.pipelines.list() if p.get("alias") == ref]
    if not matches:
        raise NotFoundError(404, "pipeline_not_found", f"no pipeline with id or alias '{ref}'")
    return matches[0]["pipeline_id"]


# -- waiting ---------------------------------------------------------------------------------
def patient(fetch: Callable[[], dict], attempts: int = 10, pause: float = 1.0) -> Callable[[], dict]:
    """`fetch`, retried through up to `attempts` consecutive connection errors or 5xx (an API
    restart must not end a long --wait); a 4xx is raised at once."""
    def call() -> dict:
        for attempt in range(attempts):
            try:
                return fetch()
            except SluiceError as err:
                if 0 < err.status < 500 or attempt == attempts - 1:
                    raise
                time.sleep(pause)
        raise AssertionError("unreachable")
    return call


def wait_batch(client: Sluice, batch_id: str, console: Console, *, interval: float = 0.5,
               timeout: float | None = None, alive: Callable[[], str | None] | None = None) -> dict:
    return watch("batch", patient(lambda: client.batches.get(batch_id)), console, interval=interval,
                 timeout=timeout, names=collection_namer(client), alive=alive, title=f"batch {batch_id}")


def wait_run(client: Sluice, run_id: str, console: Console, *, interval: float = 0.5,
             timeout: float | None = None, alive: Callable[[], str | None] | None = None) -> dict:
    return watch("run", patient(lambda: client.runs.get(run_id)), console, interval=interval,
                 timeout=timeout, alive=alive, title=f"run {run_id}")


def batch_outcome(client: Sluice, view: dict, console: Console) -> int:
    """Print how a finished batch ended (with its errors) and return the exit code."""
    c = view.get("counters") or {}
    secs = (view.get("duration_ms") or 0) / 1000
    console.print(f"batch {view['batch_id']} {view['status']} in {secs:.1f}s: processed {c.get('processed', 0)}, "
                  f"written {c.get('written', 0)}, failed {c.get('failed', 0)}", markup=False)
    if view.get("error"):
        console.print(f"  error: {view['error']}", markup=False)
    if view.get("error_summary"):
        console.print("  errors by code: " + ", ".join(f"{k} {v}" for k, v in sorted(view["error_summary"].items())),
                      markup=False)
        try:
            failures = list(client.batches.failed_documents(view["batch_id"], limit=5))
        except SluiceError:
            failures = []
        for f in failures:
            line = f" (line {f['line']})" if f.get("line") else ""
            console.print(f"  tier {f.get('tier_num')} {f.get('source_id')}: {f.get('code')}: "
                          f"{f.get('message')}{line}", markup=False)
    return exit_code_for_status(view["status"])


def run_outcome(client: Sluice, view: dict, console: Console) -> int:
    steps = view.get("steps") or []
    counts = ", ".join(f"{s} {p}/{f}" for s, p, f in zip(steps, view.get("passed") or [], view.get("failed") or []))
    console.print(f"run {view['id']} {view['status']}: passed/failed per step: {counts}", markup=False)
    if view.get("error"):
        console.print(f"  error: {view['error']}", markup=False)
    if any(view.get("failed") or []):
        try:
            groups = list(client.runs.errors(view["id"], limit=5))
        except SluiceError:
            groups = []
        for g in groups:
            console.print(f"  {g.get('step')}: {g.get('count')} x {g.get('message')}", markup=False)
    return exit_code_for_status(view["status"])


def _wait_and_report(kind: str, client: Sluice, ident: str, console: Console, timeout: float | None,
                     interval: float) -> int:
    try:
        if kind == "batch":
            view = wait_batch(client, ident, console, interval=interval, timeout=timeout)
            return batch_outcome(client, view, console)
        view = wait_run(client, ident, console, interval=interval, timeout=timeout)
        return run_outcome(client, view, console)
    except WatchAborted as exc:
        console.print(f"stopped waiting: {exc}; follow it with `sluice status {ident}`", markup=False)
        return EXIT_TIMEOUT
    except KeyboardInterrupt:
        console.print(f"\nstopped waiting; it carries on: `sluice status {ident}`", markup=False)
        return 130


# -- commands --------------------------------------------------------------------------------
def cmd_trigger(client: Sluice, console: Console, collection: str, *, filters: str | None = None,
                object_ids: list[str] | None = None, idempotency_key: str | None = None, wait: bool = False,
                timeout: float | None = None, interval: float = 0.5) -> int:
    source_filters = None
    if filters:
        try:
            source_filters = json.loads(filters)
        except ValueError as exc:
            raise ValidationError(400, "invalid_argument", "--filters is not valid JSON",
                                  [{"path": "--filters", "message": str(exc)}]) from exc
    resp = client.collections.trigger(collection, object_ids=object_ids or None, source_filters=source_filters,
                                      idempotency_key=idempotency_key)
    counts = "  ".join(f"{label} {resp[k]}" for k, label in (("total_tiers", "tiers"), ("object_count", "objects"),
                                                             ("document_count", "documents"))
                       if resp.get(k) is not None)
    console.print(f"batch_id {resp['batch_id']}\ntask_id  {resp['task_id']}\n{counts}", markup=False)
    if not wait:
        return EXIT_OK
    return _wait_and_report("batch", client, resp["batch_id"], console, timeout, interval)


def cmd_run(client: Sluice, console: Console, pipeline: str, *, incremental: bool | None = None,
            wait: bool = False, timeout: float | None = None, interval: float = 0.5) -> int:
    pid = resolve_pipeline(client, pipeline)
    run_id = client.pipelines.run(pid, incremental)["id"]
    console.print(f"run_id {run_id}", markup=False)
    if not wait:
        return EXIT_OK
    return _wait_and_report("run", client, run_id, console, timeout, interval)


def cmd_status(client: Sluice, console: Console, ident: str, *, as_json: bool = False) -> int:
    path = status_path(ident)
    if path is None:
        raise ValidationError(400, "invalid_argument",
                              f"'{ident}' is not a batch (bat_…), run (run_…) or task (tsk_…) id")
    view = client.http.get(path)
    if as_json:
        console.print(json.dumps(view, indent=2, sort_keys=True), markup=False)
        return EXIT_OK
    if ident.startswith("bat_"):
        console.print(batch_table(view, collection_namer(client)))
        if view.get("status") != "COMPLETED":
            print_diagnosis(client, console, view["batch_id"])
    elif ident.startswith("run_"):
        console.print(run_table(view))
    else:
        console.print(task_table(view))
    return EXIT_OK


def print_diagnosis(client: Sluice, console: Console, batch_id: str) -> None:
    """The API's diagnosis of a batch that is not COMPLETED: category and what to do."""
    try:
        d = client.batches.diagnose(batch_id)
    except SluiceError as exc:
        console.print(f"diagnosis unavailable: {exc}", markup=False)
        return
    idle = d.get("seconds_since_progress")
    console.print(f"diagnosis: {d['category']}" + (f" (no progress for {idle:.0f}s)" if idle else ""), markup=False)
    for e in d.get("top_errors") or []:
        s = e.get("sample") or {}
        line = f" line {s['line']}" if s.get("line") else ""
        console.print(f"  {e['code']} x{e['count']} ({e['cause']}): e.g. {s.get('source_id')}{line}: "
                      f"{s.get('message')}", markup=False)
    console.print(f"  next: {d['recommendation']}", markup=False)


def _secs(ms: Any) -> str:
    return f"{ms / 1000:.1f}s" if isinstance(ms, (int, float)) else "-"


def batch_table(view: dict, names: Callable[[str], str] = lambda c: c) -> Table:
    c = view.get("counters") or {}
    t = Table(title=f"batch {view['batch_id']}  {view['status']}  {_secs(view.get('duration_ms'))}  "
                    f"processed {c.get('processed', 0)} written {c.get('written', 0)} failed {c.get('failed', 0)}",
              title_justify="left", box=None, pad_edge=False)
    for col in ("tier", "collections", "status", "progress", "processed", "written", "failed", "duration", "errors"):
        t.add_column(col, justify="right" if col in ("processed", "written", "failed") else "left")
    for tier in view.get("tiers") or []:
        p, tc = tier.get("progress") or {}, tier.get("counters") or {}
        errs = ", ".join(f"{k} {v}" for k, v in sorted((tier.get("errors_by_code") or {}).items())) or "-"
        t.add_row(str(tier.get("tier_num")), ", ".join(names(x) for x in tier.get("collection_ids") or []),
                  tier.get("status", ""), f"{p.get('processed', 0)}/{p.get('total', 0)}",
                  str(tc.get("processed", 0)), str(tc.get("written", 0)), str(tc.get("failed", 0)),
                  _secs(tier.get("duration_ms")), errs)
    if view.get("error"):
        t.caption = f"error: {view['error']}"
    return t


def run_table(view: dict) -> Table:
    p = view.get("progress") or {}
    t = Table(title=f"run {view['id']}  pipeline {view.get('pipeline')}  {view['status']}  "
                    f"read {p.get('read', 0)}/{p.get('total', 0)}", title_justify="left", box=None, pad_edge=False)
    t.add_column("step")
    t.add_column("passed", justify="right")
    t.add_column("failed", justify="right")
    for step, passed, failed in zip(view.get("steps") or [], view.get("passed") or [], view.get("failed") or []):
        t.add_row(step, str(passed), str(failed))
    if view.get("error"):
        t.caption = f"error: {view['error']}"
    return t


def task_table(view: dict) -> Table:
    p = view.get("progress") or {}
    t = Table(title=f"task {view['task_id']}  {view['status']}", title_justify="left", box=None, pad_edge=False,
              show_header=False)
    t.add_column("field")
    t.add_column("value")
    t.add_row("batch", str(view.get("batch_id")))
    t.add_row("progress", f"{p.get('processed', 0)}/{p.get('total', 0)} ({p.get('percent', 0)}%)")
    t.add_row("tier", f"{p.get('current_tier', 0) + 1} of {p.get('total_tiers', 0)}")
    if view.get("error_message"):
        t.add_row("error", str(view["error_message"]))
    return t
