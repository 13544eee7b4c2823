"""The one task base class: transient errors are retried with backoff, then the give-up
hook fails the job with the reason (no broker needed: the hooks are called directly)."""
from __future__ import annotations

import pymongo.errors
import pytest
from celery.exceptions import SoftTimeLimitExceeded

import workers.base
from shared.settings import Settings
from shared.tasknames import PROCESS_CHUNK, RUN_CHUNK, START_BATCH, STREAM_STEP, TIER_DONE, WATCHDOG
from workers.app import create_celery


class Recorder:
    """Stands in for every store: records guarded status writes and refuses them."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return self

    def transition(self, job_id, status, extra=None, *a, **kw):
        self.calls.append((job_id, status, (extra or {}).get("error")))
        return None


@pytest.fixture
def celery(monkeypatch):
    stores = Recorder()
    monkeypatch.setattr(workers.base, "runtime", lambda app: stores)
    app = create_celery(Settings.from_env({}))
    app.recorder = stores
    return app


def test_retry_policy_is_declared_once_on_the_base(celery):
    chunk, start = celery.tasks[PROCESS_CHUNK], celery.tasks[START_BATCH]
    assert chunk.autoretry_for == workers.base.TRANSIENT_ERRORS and chunk.max_retries == 4
    assert start.max_retries == 5 and start.retry_backoff and start.retry_backoff_max == 30
    assert celery.tasks[WATCHDOG].autoretry_for == ()   # a periodic tick is not retried


def test_spent_retries_fail_the_batch_with_the_reason(celery):
    exc = pymongo.errors.AutoReconnect("db gone")
    celery.tasks[PROCESS_CHUNK].on_failure(exc, "t", ("bat_1:1:0:col_1:0",), {}, None)
    celery.tasks[TIER_DONE].on_failure(exc, "t", ("bat_2", 1), {}, None)
    celery.tasks[PROCESS_CHUNK].on_failure(SoftTimeLimitExceeded(), "t", ("bat_3:1:0:c:0",), {}, None)
    assert celery.recorder.calls == [
        ("bat_1", "FAILED", "chunk bat_1:1:0:col_1:0 failed after retries: db gone"),
        ("bat_2", "FAILED", "tier 1 could not complete: db gone"),
        ("bat_3", "FAILED", "chunk bat_3:1:0:c:0 exceeded the task time limit; "
                            "lower SLUICE_CHUNK_SIZE or the per-record JS limits")]


def test_other_errors_end_runs_but_not_batches(celery):
    celery.tasks[PROCESS_CHUNK].on_failure(KeyError("x"), "t", ("bat_1:1:0:c:0",), {}, None)
    celery.tasks[RUN_CHUNK].on_failure(KeyError("x"), "t", ("run_1:0",), {}, None)
    assert celery.recorder.calls == [("run_1", "FAILED", "chunk run_1:0: KeyError: 'x'")]


def test_a_streaming_step_is_not_retried_by_celery(celery):
    assert celery.tasks[STREAM_STEP].autoretry_for == ()
