"""Settings, built from an environment mapping by a function — never read at import.

Each setting is declared once, as a dataclass field made by `setting(env, default, doc)`:
the environment variable, the type (from the default), the default and the documentation
live together, and both the reading of the environment and the README's configuration
table are produced from the declarations (as celery's `app/defaults.py` declares each option once)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Mapping

from shared.secrets.box import GENERATE_HINT, key_problem, parse_keys


def setting(env: str, default: Any, doc: str, *, parse: Callable[[str], Any] | None = None,
            positive: bool = False, secret: bool = False) -> Any:
    """A dataclass field read from `env`. Its type is its default's type unless `parse`
    is given; `positive` refuses zero and negatives; `secret` keeps it out of repr."""
    return field(default=default, repr=not secret,
                 metadata={"env": env, "doc": doc, "parse": parse, "positive": positive})


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _parse_mode(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("fair", "fifo"):
        raise ValueError("must be fair or fifo")
    return value


_KIND_WORDS = {int: "an integer", float: "a number"}


def _read(meta: Mapping[str, Any], default: Any, raw: str | None) -> Any:
    name = meta["env"]
    if raw is None or raw == "":
        return default
    parse = meta["parse"] or (_parse_bool if isinstance(default, bool) else type(default))
    try:
        value = parse(raw)
    except ValueError as exc:
        kind = _KIND_WORDS.get(type(default))
        why = f"must be {kind}" if kind and parse is type(default) else str(exc)
        raise ValueError(f"{name} {why}, got {raw!r}") from exc
    if meta["positive"] and value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


def _from_env(cls: type, env: Mapping[str, str]) -> Any:
    values: dict[str, Any] = {}
    for f in fields(cls):
        if "nested" in f.metadata:
            values[f.name] = _from_env(f.metadata["nested"], env)
        else:
            values[f.name] = _read(f.metadata, f.default, env.get(f.metadata["env"]))
    return cls(**values)


@dataclass(frozen=True)
class StreamingSettings:
    """Tunables of streaming pipelines (nested in `Settings.streaming`)."""

    lease_s: float = setting("SLUICE_STREAM_LEASE_S", 60.0,
                             "Lease of a streaming step on its pipeline, renewed by every step and before each "
                             "target write; a dead worker's chain is taken over after it.", positive=True)
    stall_s: float = setting("SLUICE_STREAM_STALL_S", 15.0,
                             "The streaming watchdog relaunches active pipelines with no heartbeat for this long "
                             "and an expired lease.", positive=True)
    watchdog_interval_s: float = setting("SLUICE_STREAM_WATCHDOG_S", 10.0,
                                         "How often beat fires the streaming watchdog.", positive=True)
    max_await_ms: int = setting("SLUICE_STREAM_MAX_AWAIT_MS", 200,
                                "Server-side wait of one change-stream getMore.",
                                parse=lambda raw: int(float(raw)), positive=True)
    max_errors_in_row: int = setting("SLUICE_STREAM_MAX_ERRORS", 10,
                                     "Consecutive infrastructure errors after which a pipeline is FAILED.",
                                     parse=lambda raw: int(float(raw)), positive=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "StreamingSettings":
        return _from_env(cls, os.environ if environ is None else environ)


@dataclass(frozen=True)
class Settings:
    """Every tunable of Sluice, each declared once with its variable and documentation."""

    mongo_url: str = setting("MONGO_URL", "mongodb://127.0.0.1:27017/?directConnection=true",
                             "MongoDB connection string. Unset: `sluice up` and the tests start a private mongod.")
    mongo_db: str = setting("SLUICE_DB", "sluice", "MongoDB database name.")
    redis_url: str = setting("REDIS_URL", "redis://127.0.0.1:6379/0",
                             "Redis URL: the Celery result backend, and the broker unless `BROKER_URL` is set. "
                             "Unset: a private redis-server is started.")
    # Empty: Redis (redis_url) is the broker too; results stay in Redis either way.
    broker_url: str = setting("BROKER_URL", "",
                              "Celery broker. Unset: `REDIS_URL` is the broker too. "
                              "`amqp://user:pass@host:5672/vhost` selects RabbitMQ (quorum queues, publisher "
                              "confirms; the production choice); results stay in Redis. See [Reliability](operations.md#reliability).", secret=True)
    admin_key: str = setting("SLUICE_ADMIN_KEY", "",
                             "Admin API key that may create namespaces and API keys. `sluice up` generates one.",
                             secret=True)
    # Fernet keys for secrets at rest: the first encrypts, all decrypt (rotation). Empty: a
    # key derived from admin_key (see shared/secrets/box.py).
    secret_keys: tuple[str, ...] = setting(
        "SLUICE_SECRET_KEY", (),
        "Fernet key(s) that encrypt connection and webhook secrets in MongoDB; comma-separated for rotation "
        "(the first encrypts, all decrypt). Unset: derived from `SLUICE_ADMIN_KEY`, with a warning at every "
        "start; `sluice up` with its private mongod generates one. See [Secrets at rest](operations.md#secrets-at-rest).",
        parse=parse_keys, secret=True)
    # Self-hosted receivers usually live on loopback or a private network; link-local/metadata,
    # multicast, unspecified and reserved addresses are refused regardless.
    webhook_allow_private: bool = setting(
        "SLUICE_WEBHOOK_ALLOW_PRIVATE", True,
        "Whether webhooks may post to loopback and private-network addresses (set false when API keys go to "
        "people who must not reach your network). Link-local/metadata, multicast, unspecified and reserved "
        "addresses are always refused. See [Where webhooks may connect](operations.md#where-webhooks-may-connect).")
    max_body_bytes: int = setting("SLUICE_MAX_BODY_BYTES", 10 * 1024 * 1024,
                                  "Largest accepted request body in bytes; larger gets 413.")
    max_batch_objects: int = setting("SLUICE_MAX_BATCH_OBJECTS", 1000, "Most objects in one batch write.")
    chunk_size: int = setting("SLUICE_CHUNK_SIZE", 500,
                              "Records per chunk task. A chunk still working after half the soft task limit "
                              "hands its remaining records to a continuation chunk.")
    # JavaScript sandbox caps (server-wide). Per-extractor/pipeline values must fit inside.
    js_time_limit_ms: int = setting("SLUICE_JS_TIME_LIMIT_MS", 1000,
                                    "Server-wide cap on JavaScript CPU time per record.")
    js_memory_limit_mb: int = setting("SLUICE_JS_MEMORY_LIMIT_MB", 64,
                                      "Server-wide cap on JavaScript heap per context.")
    js_stack_limit_kb: int = setting("SLUICE_JS_STACK_LIMIT_KB", 512, "Server-wide cap on JavaScript stack.")
    # The hard time limit must stay below the visibility timeout or a long chunk is delivered twice.
    visibility_timeout_s: int = setting("SLUICE_VISIBILITY_TIMEOUT_S", 3600,
                                        "Redis visibility timeout: an unacknowledged message is delivered "
                                        "again after it.")
    unacked_restore_interval_s: int = setting("SLUICE_UNACKED_RESTORE_INTERVAL_S", 10,
                                              "How often workers sweep for unacked messages past the "
                                              "visibility timeout.")
    task_soft_time_limit_s: int = setting("SLUICE_TASK_SOFT_TIME_LIMIT_S", 300, "Soft time limit per task.")
    task_time_limit_s: int = setting("SLUICE_TASK_TIME_LIMIT_S", 360,
                                     "Hard time limit per task, below the visibility timeout.")
    result_expires_s: int = setting("SLUICE_RESULT_EXPIRES_S", 3600, "Celery results expire from Redis after this.")
    schedule_tick_s: float = setting("SLUICE_SCHEDULE_TICK_S", 30.0, "How often beat fires the scheduling tick.")
    watchdog_interval_s: float = setting("SLUICE_WATCHDOG_INTERVAL_S", 60.0,
                                         "How often the watchdog looks for stalled tiers.")
    webhook_sweep_s: float = setting("SLUICE_WEBHOOK_SWEEP_S", 5.0,
                                     "How often pending completion-webhook deliveries are picked up.")
    stall_timeout_s: float = setting("SLUICE_STALL_TIMEOUT_S", 600.0,
                                     "Last resort: a tier with no chunk progress for this long is re-dispatched.")
    # Worker liveness (shared/engine/liveness.py) and the recovery sweep (shared/engine/recovery.py).
    worker_heartbeat_s: float = setting("SLUICE_WORKER_HEARTBEAT_S", 2.0,
                                        "How often each worker records that it is alive and which chunks it holds.")
    worker_dead_after_s: float = setting("SLUICE_WORKER_DEAD_AFTER_S", 10.0,
                                         "A worker silent this long is dead: its unfinished chunks are sent "
                                         "again at once.")
    recovery_grace_s: float = setting("SLUICE_RECOVERY_GRACE_S", 15.0,
                                      "How long without progress before a lost tier callback, unheld unqueued "
                                      "chunks or an unsent start are sent again.")
    idempotency_ttl_s: int = setting("SLUICE_IDEMPOTENCY_TTL_S", 24 * 3600,
                                     "How long an Idempotency-Key is remembered.")
    log_level: str = setting("SLUICE_LOG_LEVEL", "INFO", "Log level.")
    fail_fast_after: int = setting(
        "SLUICE_FAIL_FAST_AFTER", 5,
        "After this many consecutive records of one chunk (batch or pipeline run) fail with the same `JS_TIMEOUT`, "
        "`JS_MEMORY` or `JS_STACK` error, the rest of the chunk fails at once with that code and a message saying "
        "so (0 disables).")
    # Web console (/ui/).
    flower_url: str = setting("SLUICE_FLOWER_URL", "",
                              "Flower's URL, linked from the web console's overview (`sluice up` sets it when it "
                              "starts Flower).")
    console_session_ttl_s: int = setting("SLUICE_CONSOLE_SESSION_TTL_S", 12 * 3600,
                                         "How long a web console sign-in lasts; sign-out or revoking the key ends "
                                         "it sooner.")
    dead_letters_per_run: int = setting(
        "SLUICE_DEAD_LETTERS_PER_RUN", 10000,
        "Most failed records a pipeline run keeps, with their input record, as dead letters for replay "
        "(later failures are still counted and grouped in the run's errors).")
    dead_letter_ttl_s: int = setting("SLUICE_DEAD_LETTER_TTL_S", 7 * 24 * 3600,
                                     "How long dead letters are kept before MongoDB removes them.")
    metrics_token: str = setting("SLUICE_METRICS_TOKEN", "",
                                 "Bearer token that may read `GET /metrics` (the admin key may too). Unset: only "
                                 "the admin key. See [Metrics, health, logs](operations.md#metrics-health-logs).", secret=True)
    rate_key_rps: float = setting("SLUICE_RATE_LIMIT_KEY_RPS", 50.0,
                                  "Requests per second one API key may make, on average (the admin key is not "
                                  "limited). Per key: `PATCH /v1/api-keys/{id}`.", positive=True)
    rate_key_burst: int = setting("SLUICE_RATE_LIMIT_KEY_BURST", 200,
                                  "Requests one API key may make at once above its rate.", positive=True)
    rate_namespace_rps: float = setting("SLUICE_RATE_LIMIT_NAMESPACE_RPS", 200.0,
                                        "Requests per second all keys together may make in one namespace. Per "
                                        "namespace: `PATCH /v1/namespaces/{id}` with `limits`.", positive=True)
    rate_namespace_burst: int = setting("SLUICE_RATE_LIMIT_NAMESPACE_BURST", 600,
                                        "Requests all keys may make at once in one namespace above its rate.",
                                        positive=True)
    scheduler: str = setting("SLUICE_SCHEDULER", "fair",
                             "How chunks of different batches and runs share the worker pool: `fair` (fair share "
                             "between namespaces, then between one namespace's jobs, by priority) or `fifo` (in "
                             "the order they were enqueued). Pause and namespace caps hold in both. See "
                             "[Sharing the pool](operations.md#sharing-the-pool).", parse=_parse_mode)
    chunk_lanes: int = setting("SLUICE_CHUNK_LANES", 8,
                               "Chunk queues (lanes) under the fair scheduler: each active namespace's chunks go to "
                               "a lane of their own while lanes last, and workers that consume `default` consume "
                               "them all (kombu's Redis transport alternates between them).", positive=True)
    priority_aging_s: float = setting("SLUICE_PRIORITY_AGING_S", 30.0,
                                      "Work that has started no chunk for this long moves up one priority level "
                                      "(low → normal → high), so low priority never starves.", positive=True)
    max_requeues: int = setting("SLUICE_MAX_REQUEUES", 50,
                                "A chunk put back at the tail of its queue this often runs anyway (bounds the "
                                "cost of a stale view of the pool).", positive=True)
    streaming: StreamingSettings = field(default_factory=StreamingSettings,
                                         metadata={"nested": StreamingSettings})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        return _from_env(cls, os.environ if environ is None else environ).validated()

    def validated(self) -> "Settings":
        if self.task_time_limit_s >= self.visibility_timeout_s:
            raise ValueError(
                "SLUICE_TASK_TIME_LIMIT_S must be below SLUICE_VISIBILITY_TIMEOUT_S, "
                "otherwise a long task is redelivered while still running"
            )
        if self.task_soft_time_limit_s >= self.task_time_limit_s:
            raise ValueError("SLUICE_TASK_SOFT_TIME_LIMIT_S must be below SLUICE_TASK_TIME_LIMIT_S")
        if self.worker_dead_after_s < 3 * self.worker_heartbeat_s:
            raise ValueError("SLUICE_WORKER_DEAD_AFTER_S must be at least 3 x SLUICE_WORKER_HEARTBEAT_S, "
                             "or a worker that misses one beat is taken for dead")
        if self.chunk_size < 1:
            raise ValueError("SLUICE_CHUNK_SIZE must be at least 1")
        if self.console_session_ttl_s < 60:
            raise ValueError("SLUICE_CONSOLE_SESSION_TTL_S must be at least 60")
        if self.fail_fast_after < 0:
            raise ValueError("SLUICE_FAIL_FAST_AFTER must be 0 (off) or more")
        for i, key in enumerate(self.secret_keys, 1):
            if (problem := key_problem(key)) is not None:
                # The key itself is never echoed: only its position in the list.
                raise ValueError(f"SLUICE_SECRET_KEY: key {i} {problem}; {GENERATE_HINT}")
        return self

    @property
    def broker(self) -> str:
        """The Celery broker URL: BROKER_URL, else Redis."""
        return self.broker_url or self.redis_url

    @property
    def broker_is_amqp(self) -> bool:
        return self.broker.startswith(("amqp://", "amqps://", "pyamqp://"))

    def with_(self, **changes: Any) -> "Settings":
        return replace(self, **changes).validated()


# Variables read by other programs than the server's processes; documented with the rest.
OTHER_ENV_DOCS: dict[str, str] = {
    "PROMETHEUS_MULTIPROC_DIR": "Set for gunicorn with several workers: prometheus-client's multiprocess mode "
                                "for the API's HTTP metrics.",
    "SLUICE_MONGOD_CACHE_GB": "WiredTiger cache of the embedded mongod (tests 0.25; `sluice up`/`demo` 1).",
    "SLUICE_URL`, `SLUICE_API_KEY`, `SLUICE_NAMESPACE": "Defaults for the `sluice` command line.",
}


def declared(cls: type = Settings) -> list[tuple[str, Any, str]]:
    """(variable, default, doc) of every declared setting, nested ones included, in order."""
    out: list[tuple[str, Any, str]] = []
    for f in fields(cls):
        if "nested" in f.metadata:
            out += declared(f.metadata["nested"])
        else:
            out.append((f.metadata["env"], f.default, f.metadata["doc"]))
    return out


def _shown(env: str, default: Any) -> str:
    if env in ("MONGO_URL", "REDIS_URL") or default in ("", ()):
        return "—"
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def markdown_table() -> str:
    """The README's configuration table, produced from the declarations."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{env}` | {_shown(env, default)} | {doc} |" for env, default, doc in declared()]
    rows += [f"| `{env}` | — | {doc} |" for env, doc in OTHER_ENV_DOCS.items()]
    return "\n".join(rows)


# Every server variable and its documentation, for callers that list them.
ENV_DOCS: dict[str, str] = {env: doc for env, _, doc in declared()}

if __name__ == "__main__":  # python -m shared.settings: print the table for the README
    print(markdown_table())
