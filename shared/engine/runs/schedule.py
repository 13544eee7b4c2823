"""Pipeline scheduling decisions, pure: no clock is read here, `now` is always passed in.

Occurrences are clock-aligned: a pipeline with period P and offset O runs at
epoch + O + k·P. The offset comes from a hash of the pipeline id, so a thousand hourly
pipelines do not all fire at :00. The next occurrence is computed from the previous
*scheduled* time, never from "now", so periods never drift; occurrences missed while no
scheduler ran are coalesced into one late run and counted.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

PERIODS: dict[str, int] = {"5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200, "3h": 10800,
                           "6h": 21600, "8h": 28800, "12h": 43200, "24h": 86400}
ALLOWED_PERIODS_TEXT = ", ".join(f'"{p}"' for p in PERIODS)
EPOCH = datetime(1970, 1, 1)


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc).replace(tzinfo=None) if dt.tzinfo else dt


def offset_for(pipeline_id: str, period: str) -> int:
    """A stable offset in [0, period) seconds for this pipeline."""
    digest = hashlib.sha256(f"{pipeline_id}:{period}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % PERIODS[period]


def first_run_at(period: str, offset_s: int, now: datetime) -> datetime:
    """The first aligned occurrence strictly after `now`."""
    now = _naive(now)
    p = PERIODS[period]
    since = (now - EPOCH).total_seconds() - offset_s
    k = int(since // p) + 1
    return EPOCH + timedelta(seconds=offset_s + k * p)


@dataclass(frozen=True)
class Advance:
    fire_at: datetime          # the occurrence being fired now (the previous scheduled time)
    next_run_at: datetime      # the following occurrence, from fire_at, not from now
    missed: int                # occurrences skipped because they were already past


def advance(period: str, scheduled: datetime, now: datetime) -> Advance:
    """Fire the due occurrence `scheduled` and compute the next one after it. If the
    scheduler was down across several occurrences, they are coalesced: one run now, the
    next occurrence is the first aligned one after `now`, and `missed` counts the rest."""
    p = timedelta(seconds=PERIODS[period])
    scheduled, now = _naive(scheduled), _naive(now)
    nxt = scheduled + p
    missed = 0
    if nxt <= now:
        behind = int((now - nxt) / p) + 1
        missed = behind
        nxt = nxt + behind * p
    return Advance(scheduled, nxt, missed)


def is_due(next_run_at: datetime | None, now: datetime) -> bool:
    return next_run_at is not None and _naive(next_run_at) <= _naive(now)
