"""Settings, built from an environment mapping by a function — never read at import."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from shared.secretbox import GENERATE_HINT, key_problem, parse_keys


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Every tunable of Sluice. `ENV_DOCS` below documents each one for the README."""

    mongo_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_db: str = "sluice"
    redis_url: str = "redis://127.0.0.1:6379/0"
    admin_key: str = ""
    max_body_bytes: int = 10 * 1024 * 1024
    max_batch_objects: int = 1000
    chunk_size: int = 500
    # JavaScript sandbox caps (server-wide). Per-extractor/pipeline values must fit inside.
    js_time_limit_ms: int = 1000
    js_memory_limit_mb: int = 64
    js_stack_limit_kb: int = 512
    # Celery reliability knobs. The hard time limit must stay below the visibility timeout
    # or a long chunk is delivered twice.
    visibility_timeout_s: int = 3600
    unacked_restore_interval_s: int = 10
    task_soft_time_limit_s: int = 300
    task_time_limit_s: int = 360
    result_expires_s: int = 3600
    schedule_tick_s: float = 30.0
    watchdog_interval_s: float = 60.0
    webhook_sweep_s: float = 5.0
    stall_timeout_s: float = 600.0
    idempotency_ttl_s: int = 24 * 3600
    log_level: str = "INFO"
    # Fernet keys for secrets at rest: the first encrypts, all decrypt (rotation). Empty: a
    # key derived from admin_key (see shared/secretbox.py). Kept out of repr so logs never show it.
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    # Webhooks may reach loopback and private networks (self-hosted receivers usually live
    # there); link-local/metadata, multicast, unspecified and reserved are refused regardless.
    webhook_allow_private: bool = True
    # Web console (/ui/): a link to Flower on the overview when set; how long a sign-in lasts.
    flower_url: str = ""
    console_session_ttl_s: int = 12 * 3600

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        d = cls()
        return cls(
            mongo_url=env.get("MONGO_URL") or d.mongo_url,
            mongo_db=env.get("SLUICE_DB") or d.mongo_db,
            redis_url=env.get("REDIS_URL") or d.redis_url,
            admin_key=env.get("SLUICE_ADMIN_KEY", d.admin_key),
            max_body_bytes=_int(env, "SLUICE_MAX_BODY_BYTES", d.max_body_bytes),
            max_batch_objects=_int(env, "SLUICE_MAX_BATCH_OBJECTS", d.max_batch_objects),
            chunk_size=_int(env, "SLUICE_CHUNK_SIZE", d.chunk_size),
            js_time_limit_ms=_int(env, "SLUICE_JS_TIME_LIMIT_MS", d.js_time_limit_ms),
            js_memory_limit_mb=_int(env, "SLUICE_JS_MEMORY_LIMIT_MB", d.js_memory_limit_mb),
            js_stack_limit_kb=_int(env, "SLUICE_JS_STACK_LIMIT_KB", d.js_stack_limit_kb),
            visibility_timeout_s=_int(env, "SLUICE_VISIBILITY_TIMEOUT_S", d.visibility_timeout_s),
            unacked_restore_interval_s=_int(env, "SLUICE_UNACKED_RESTORE_INTERVAL_S",
                                            d.unacked_restore_interval_s),
            task_soft_time_limit_s=_int(env, "SLUICE_TASK_SOFT_TIME_LIMIT_S", d.task_soft_time_limit_s),
            task_time_limit_s=_int(env, "SLUICE_TASK_TIME_LIMIT_S", d.task_time_limit_s),
            result_expires_s=_int(env, "SLUICE_RESULT_EXPIRES_S", d.result_expires_s),
            schedule_tick_s=_float(env, "SLUICE_SCHEDULE_TICK_S", d.schedule_tick_s),
            watchdog_interval_s=_float(env, "SLUICE_WATCHDOG_INTERVAL_S", d.watchdog_interval_s),
            webhook_sweep_s=_float(env, "SLUICE_WEBHOOK_SWEEP_S", d.webhook_sweep_s),
            stall_timeout_s=_float(env, "SLUICE_STALL_TIMEOUT_S", d.stall_timeout_s),
            idempotency_ttl_s=_int(env, "SLUICE_IDEMPOTENCY_TTL_S", d.idempotency_ttl_s),
            log_level=env.get("SLUICE_LOG_LEVEL") or d.log_level,
            secret_keys=parse_keys(env.get("SLUICE_SECRET_KEY")),
            webhook_allow_private=_bool(env, "SLUICE_WEBHOOK_ALLOW_PRIVATE", d.webhook_allow_private),
            flower_url=env.get("SLUICE_FLOWER_URL") or d.flower_url,
            console_session_ttl_s=_int(env, "SLUICE_CONSOLE_SESSION_TTL_S", d.console_session_ttl_s),
        ).validated()

    def validated(self) -> "Settings":
        if self.task_time_limit_s >= self.visibility_timeout_s:
            raise ValueError(
                "SLUICE_TASK_TIME_LIMIT_S must be below SLUICE_VISIBILITY_TIMEOUT_S, "
                "otherwise a long task is redelivered while still running"
            )
        if self.task_soft_time_limit_s >= self.task_time_limit_s:
            raise ValueError("SLUICE_TASK_SOFT_TIME_LIMIT_S must be below SLUICE_TASK_TIME_LIMIT_S")
        if self.console_session_ttl_s < 60:
            raise ValueError("SLUICE_CONSOLE_SESSION_TTL_S must be at least 60")
        if self.chunk_size < 1:
            raise ValueError("SLUICE_CHUNK_SIZE must be at least 1")
        for i, key in enumerate(self.secret_keys, 1):
            if (problem := key_problem(key)) is not None:
                # The key itself is never echoed: only its position in the list.
                raise ValueError(f"SLUICE_SECRET_KEY: key {i} {problem}; {GENERATE_HINT}")
        return self

    def with_(self, **changes: Any) -> "Settings":
        return replace(self, **changes).validated()


ENV_DOCS: dict[str, str] = {
    "MONGO_URL": "MongoDB connection string. Unset: `sluice up` and the tests start a private mongod.",
    "SLUICE_DB": "MongoDB database name (default `sluice`).",
    "REDIS_URL": "Redis URL used as Celery broker and result backend. Unset: a private redis-server is started.",
    "SLUICE_ADMIN_KEY": "Admin API key that may create namespaces and API keys. `sluice up` generates one.",
    "SLUICE_MAX_BODY_BYTES": "Largest accepted request body (default 10 MiB); larger gets 413.",
    "SLUICE_MAX_BATCH_OBJECTS": "Most objects in one batch write (default 1000).",
    "SLUICE_CHUNK_SIZE": "Records per chunk task (default 500). A chunk still working after half the soft task limit hands its remaining records to a continuation chunk.",
    "SLUICE_JS_TIME_LIMIT_MS": "Server-wide cap on JavaScript CPU time per record (default 1000).",
    "SLUICE_JS_MEMORY_LIMIT_MB": "Server-wide cap on JavaScript heap per context (default 64).",
    "SLUICE_JS_STACK_LIMIT_KB": "Server-wide cap on JavaScript stack (default 512).",
    "SLUICE_VISIBILITY_TIMEOUT_S": "Redis visibility timeout: unacked work of a dead worker is redelivered after it (default 3600).",
    "SLUICE_UNACKED_RESTORE_INTERVAL_S": "How often workers sweep for unacked messages past the visibility timeout (default 10).",
    "SLUICE_TASK_SOFT_TIME_LIMIT_S": "Soft time limit per task (default 300).",
    "SLUICE_TASK_TIME_LIMIT_S": "Hard time limit per task, below the visibility timeout (default 360).",
    "SLUICE_RESULT_EXPIRES_S": "Celery results expire from Redis after this (default 3600).",
    "SLUICE_SCHEDULE_TICK_S": "How often beat fires the scheduling tick (default 30).",
    "SLUICE_WATCHDOG_INTERVAL_S": "How often the watchdog looks for stalled tiers (default 60).",
    "SLUICE_WEBHOOK_SWEEP_S": "How often pending completion-webhook deliveries are picked up (default 5).",
    "SLUICE_STALL_TIMEOUT_S": "A tier with no chunk progress for this long is re-dispatched (default 600).",
    "SLUICE_IDEMPOTENCY_TTL_S": "How long an Idempotency-Key is remembered (default 86400).",
    "SLUICE_LOG_LEVEL": "Log level (default INFO).",
    "SLUICE_SECRET_KEY": "Fernet key(s) that encrypt connection and webhook secrets in MongoDB; comma-separated "
                         "for rotation (the first encrypts, all decrypt). Unset: derived from `SLUICE_ADMIN_KEY` "
                         "with a warning at every start; `sluice up` with its private mongod generates one.",
    "SLUICE_WEBHOOK_ALLOW_PRIVATE": "Whether webhooks may post to loopback and private-network addresses (default "
                                    "true: receivers of a self-hosted install usually live there; set false when "
                                    "API keys go to people who must not reach your network). Link-local (cloud "
                                    "metadata), multicast, unspecified and reserved addresses are always refused.",
    "SLUICE_FLOWER_URL": "Flower's URL, linked from the web console's overview (`sluice up` sets it when it starts Flower).",
    "SLUICE_CONSOLE_SESSION_TTL_S": "How long a web console sign-in lasts (default 43200, 12 h); sign-out or revoking the key ends it sooner.",
}
