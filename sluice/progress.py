"""Watching a batch or a pipeline run until it ends: one progress bar per tier (batch) or per
step (run) on a terminal, plain periodic lines otherwise (logs, CI, tests). The one renderer:
`Sluice(...).batches.wait(id, progress=True)` and the `sluice` CLI's --wait both draw with it.

The pure parts (`batch_bars`, `run_bars`, `summary_line`) turn the API's views into what is
shown; `watch` polls and draws. Live bars need `rich` (installed with the server; imported
only when drawing), plain lines need nothing but the stdlib."""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from sluice.status import TERMINAL as _TERMINAL

TERMINAL = _TERMINAL["batch"] | _TERMINAL["run"]
Delays = float | Callable[[], Iterator[float]]


def is_terminal(status: str) -> bool:
    return status in TERMINAL


class PlainConsole:
    """What `watch` needs of a console when `rich` is absent: plain lines to a stream."""
    is_terminal = False

    def __init__(self, stream: Any = None):
        self.stream = stream

    def print(self, line: str, markup: bool = False) -> None:
        print(line, file=self.stream or sys.stderr, flush=True)


def make_console(stderr: bool = False) -> Any:
    """A rich console that draws live bars only on a real terminal; elsewhere it prints plain
    text, never wrapped (so log lines stay greppable). Without rich: a PlainConsole."""
    try:
        from rich.console import Console
    except ImportError:
        return PlainConsole(sys.stderr if stderr else sys.stdout)
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 160  # tables in logs: do not squeeze them into 80 columns
    return console


@dataclass(frozen=True)
class Bar:
    key: str                 # stable id of the bar across polls
    label: str
    completed: int
    total: int | None        # None: not known yet
    info: str                # counters shown after the bar
    done: bool


def batch_bars(view: dict, names: Callable[[str], str] | None = None) -> list[Bar]:
    """One bar per tier of a GET /v1/batches/{id} view: progress.processed of progress.total,
    with the tier's processed/failed/written counters."""
    name_of = names or (lambda cid: cid)
    bars = []
    for tier in view.get("tiers") or []:
        prog, c = tier.get("progress") or {}, tier.get("counters") or {}
        status = tier.get("status") or "PENDING"
        total = int(prog.get("total") or 0)
        done_tier = status in TERMINAL
        if total == 0:
            total_or_none, completed = (0 if done_tier else None), 0  # None: not planned yet
        else:
            total_or_none, completed = total, min(int(prog.get("processed") or 0), total)
        cols = ", ".join(name_of(cid) for cid in tier.get("collection_ids") or [])
        bars.append(Bar(f"tier{tier.get('tier_num')}", f"tier {tier.get('tier_num')} {cols}".strip(),
                        completed, total_or_none,
                        f"{status.lower()}  processed {c.get('processed', 0)}  failed {c.get('failed', 0)}  "
                        f"written {c.get('written', 0)}", done_tier))
    return bars


def run_bars(view: dict) -> list[Bar]:
    """One bar per step of a GET /v1/pipelines/runs/{id} view, as a funnel: each step's
    passed + failed records against the records to read (progress.total), so the filter bar
    stops where the filter let records through. Records a step dropped (filtered out, or a
    transform that returned null) are shown as `dropped`."""
    steps = view.get("steps") or ["read", "filter", "transform", "validate", "write"]
    passed, failed = view.get("passed") or [], view.get("failed") or []
    total = int((view.get("progress") or {}).get("total") or 0)
    finished = view.get("status") in TERMINAL
    bars = []
    for i, step in enumerate(steps):
        p, f = int(passed[i] if i < len(passed) else 0), int(failed[i] if i < len(failed) else 0)
        info = f"passed {p}  failed {f}"
        if i > 0:
            dropped = int(passed[i - 1] if i - 1 < len(passed) else 0) - p - f
            info += f"  dropped {dropped}" if dropped > 0 else ""
        step_total = max(total, p + f)
        if step_total == 0:
            bars.append(Bar(step, step, 0, 0 if finished else None, info, finished))
        else:
            bars.append(Bar(step, step, p + f, step_total, info, finished))
    return bars


def task_bars(view: dict) -> list[Bar]:
    """One bar for a GET /v1/tasks/{id} view: every tier's records in one count."""
    prog = view.get("progress") or {}
    total = int(prog.get("total") or 0)
    finished = view.get("status") in TERMINAL
    info = f"tier {int(prog.get('current_tier') or 0) + 1} of {prog.get('total_tiers') or '?'}"
    return [Bar("task", "records", min(int(prog.get("processed") or 0), total) if total else 0,
                total if total or finished else None, info, finished)]


BARS: dict[str, Callable[[dict], list[Bar]]] = {"batch": batch_bars, "run": run_bars, "task": task_bars}
IDENT = {"batch": "batch_id", "task": "task_id", "run": "id"}


def summary_line(kind: str, view: dict, bars: list[Bar], elapsed: float) -> str:
    """The plain-text form of one poll, e.g.
    `[  2.0s] bat_x PROCESSING | tier 0 chunks 120/300 (processing  processed 120 ...) | ...`"""
    ident = view.get(IDENT.get(kind, "id"))
    parts = [f"[{elapsed:6.1f}s] {ident} {view.get('status')}"]
    for b in bars:
        frac = f"{b.completed}/{b.total}" if b.total is not None else "-/-"
        parts.append(f"{b.label} {frac} ({b.info})")
    return " | ".join(parts)


class WatchAborted(Exception):
    """Stopped waiting: timed out (`timeout=True`) or the system being watched went away."""

    def __init__(self, message: str, timeout: bool = False):
        super().__init__(message)
        self.timeout = timeout


def _delays(interval: Delays) -> Iterator[float]:
    if callable(interval):
        return interval()
    return iter(lambda: float(interval), None)  # the same pause forever


def watch(kind: str, fetch: Callable[[], dict], console: Any = None, *, interval: Delays = 0.5,
          timeout: float | None = None, names: Callable[[str], str] | None = None,
          alive: Callable[[], str | None] | None = None, plain_every: float = 1.0,
          title: str = "") -> dict:
    """Poll `fetch()` until the status is terminal; return the last view. `interval` is the
    pause between polls, or a function returning an iterator of pauses (a backoff). Bars on a
    terminal, else a line whenever something changed (at most every `plain_every` seconds) and
    always the final one. `alive()` returns a reason to stop (a process died) or None. Raises
    WatchAborted.

        watch("batch", lambda: http.get(f"/v1/batches/{batch_id}"), timeout=60)
    """
    make = (lambda v: batch_bars(v, names)) if kind == "batch" else BARS[kind]
    console = console if console is not None else make_console(stderr=True)
    started = time.monotonic()
    pauses = _delays(interval)
    if console.is_terminal:
        return _watch_bars(kind, fetch, console, make, pauses, timeout, alive, started, title)
    last_line, last_at = "", 0.0
    while True:
        view = fetch()
        bars = make(view)
        now = time.monotonic()
        line = summary_line(kind, view, bars, now - started)
        changed = line.split("] ", 1)[-1] != last_line.split("] ", 1)[-1]
        final = is_terminal(view.get("status", ""))
        if final or (changed and now - last_at >= plain_every):
            console.print(line, markup=False)
            last_line, last_at = line, now
        if final:
            return view
        _check(timeout, started, alive)
        time.sleep(next(pauses))


def _check(timeout: float | None, started: float, alive: Callable[[], str | None] | None) -> None:
    if timeout is not None and time.monotonic() - started > timeout:
        raise WatchAborted(f"still not finished after {timeout:g}s", timeout=True)
    reason = alive() if alive else None
    if reason:
        raise WatchAborted(reason)


def _watch_bars(kind: str, fetch: Callable[[], dict], console: Any, make: Callable[[dict], list[Bar]],
                pauses: Iterator[float], timeout: float | None, alive: Callable[[], str | None] | None,
                started: float, title: str) -> dict:
    from rich.console import Group
    from rich.live import Live
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.text import Text

    progress = Progress(TextColumn("  {task.description}", markup=False), BarColumn(bar_width=30),
                        MofNCompleteColumn(), TextColumn("{task.fields[info]}", markup=False), console=console)
    header = Text(title or kind)
    ids: dict[str, int] = {}
    with Live(Group(header, progress), console=console, refresh_per_second=8, transient=False):
        while True:
            view = fetch()
            header.plain = f"{title or kind}  {view.get('status', '')}  {time.monotonic() - started:5.1f}s"
            for b in make(view):
                if b.key not in ids:
                    ids[b.key] = progress.add_task(b.label, total=b.total, info=b.info)
                progress.update(ids[b.key], description=b.label, completed=b.completed, total=b.total,
                                info=b.info)
            if is_terminal(view.get("status", "")):
                return view
            _check(timeout, started, alive)
            time.sleep(next(pauses))
