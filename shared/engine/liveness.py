"""Dead or slow? Pure decisions about worker liveness, with every clock passed in.

Each worker process writes a heartbeat every few seconds (MongoDB server time) and lists
the chunks it holds (running or prefetched). A worker that stopped beating is dead and its
unfinished chunks are sent again at once, without waiting for the broker's visibility
timeout or for the tier to look stalled. A slow worker keeps beating (the beat runs in its
own thread of the worker's main process, not in the busy pool child), so it is never
robbed of its chunk. Late duplicates stay harmless: a chunk row completes exactly once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Mapping


@dataclass(frozen=True)
class Observer:
    """What the judging worker knows about its own view of the store.

    `streak_start`: when its current run of uninterrupted heartbeats began; `fresh`: that
    run began at the process's first beat (it never lost the store); `store_started_at`:
    when the MongoDB server it talks to started (None when unknown)."""

    now: datetime
    streak_start: datetime
    fresh: bool
    store_started_at: datetime | None = None


def may_judge(obs: Observer, dead_after_s: float) -> bool:
    """Only an observer that could itself have seen the others beat for `dead_after_s` may
    call them dead: after a MongoDB restart or a network cut that stopped everyone's beats,
    every worker would otherwise look dead at once."""
    window = timedelta(seconds=dead_after_s)
    if obs.store_started_at is not None and obs.now - obs.store_started_at < window:
        return False
    return obs.fresh or obs.now - obs.streak_start >= window


def is_dead(last_beat: datetime | None, now: datetime, dead_after_s: float) -> bool:
    """No beat for longer than `dead_after_s` (or none at all) is dead; anything else,
    however slow its chunk, is alive."""
    return last_beat is None or now - last_beat > timedelta(seconds=dead_after_s)


def dead_owners(owners: Iterable[str], beats: Mapping[str, datetime], obs: Observer,
                dead_after_s: float) -> list[str]:
    """Owners of unfinished chunks that are dead, as judged by `obs` (none when it may not judge)."""
    if not may_judge(obs, dead_after_s):
        return []
    return sorted(o for o in set(owners) if is_dead(beats.get(o), obs.now, dead_after_s))


def next_streak_start(previous_beat: datetime | None, streak_start: datetime | None, now: datetime,
                      interval_s: float) -> datetime:
    """A gap of more than two intervals between one's own beats starts a new streak."""
    if previous_beat is None or streak_start is None or now - previous_beat > timedelta(seconds=2 * interval_s):
        return now
    return streak_start


def lost_callback(tier_status: str, pending: int, last_progress: datetime | None, now: datetime,
                  grace_s: float) -> bool:
    """A tier (or run) whose chunks are all done but which is still open `grace_s` after its
    last progress lost its chord callback (e.g. the broker restarted while its last chunks
    reported): the callback is sent again, and it is guarded to close the tier once."""
    if tier_status != "PROCESSING" or pending:
        return False
    return last_progress is None or now - last_progress > timedelta(seconds=grace_s)


def orphaned(pending_owners: Iterable[str | None], alive: set[str], queued: int | None,
             last_progress: datetime | None, now: datetime, grace_s: float) -> bool:
    """Unfinished chunks nobody holds: none owned by a live worker, nothing waiting in the
    queue (None: depth unknown, so no judgement), and no progress for `grace_s`. Their
    messages were lost (the broker lost its data, or a worker died before saying it held them)."""
    owners = list(pending_owners)
    if not owners or queued is None or queued > 0:
        return False
    if any(o in alive for o in owners if o is not None):
        return False
    return last_progress is None or now - last_progress > timedelta(seconds=grace_s)
