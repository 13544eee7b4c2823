"""A webhook as a pipeline destination: records are POSTed as signed JSON batches.

Each batch body is `{"pipeline_id", "run_id", "chunk_id", "records": [{"key", "record"}, ...]}`
with headers `Content-Type: application/json`, `X-Sluice-Timestamp` (unix seconds),
`X-Sluice-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>` when a secret is set,
`Idempotency-Key: <chunk_id>:<batch index>` and the configured headers. A redelivered chunk
sends the same batches with the same keys, so a receiver that dedupes on Idempotency-Key
applies each batch once.

Retry policy (`retry_policy`): connection errors, timeouts, HTTP 5xx and 429 are retried with
exponential backoff (0.2 s, 0.4 s, 0.8 s, … capped at 10 s, plus up to 0.2 s jitter; a 429/503
`Retry-After` is honoured up to the cap) for at most `max_attempts` attempts and 120 s per
batch. Any other non-2xx answer (3xx — redirects are not followed — and 4xx but 429) fails
that batch's records at once. A batch that still fails after the last attempt fails its
records; both come back from `write` as {key: message}. The secret is never logged.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Any, Callable

import requests
from tenacity import (Retrying, RetryCallState, retry_if_exception_type, stop_after_attempt,
                      stop_after_delay, wait_exponential, wait_random)

from shared.connectors.base import Destination, jsonable
from shared.connectors.config import config_secrets, mask_url, scrub

log = logging.getLogger("sluice.connectors.webhook")

BACKOFF_BASE_S = 0.2
BACKOFF_MAX_S = 10.0
BATCH_DEADLINE_S = 120.0
PROBE_TIMEOUT_CAP_S = 10.0
TEST_EVENT = {"type": "sluice.connection.test"}


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of body keyed with secret>` — the X-Sluice-Signature value."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body` under `secret` (constant-time)."""
    if not secret or not isinstance(header, str):
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


class HttpStatusError(Exception):
    def __init__(self, status: int, body: str, retry_after: float | None = None):
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status, self.body, self.retry_after = status, body, retry_after


class RetryableStatus(HttpStatusError):
    """5xx or 429: the receiver may accept the batch later."""


TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
             RetryableStatus)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff


def retry_policy(max_attempts: int, *, base_s: float = BACKOFF_BASE_S, max_wait_s: float = BACKOFF_MAX_S,
                 deadline_s: float = BATCH_DEADLINE_S,
                 sleep: Callable[[float], None] = time.sleep) -> Retrying:
    """The one place webhook delivery decides retry versus give up."""
    backoff = wait_exponential(multiplier=base_s, max=max_wait_s) + wait_random(0, base_s)

    def wait(state: RetryCallState) -> float:
        delay = backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableStatus) and exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, max_wait_s))
        return delay

    return Retrying(retry=retry_if_exception_type(TRANSIENT), wait=wait,
                    stop=stop_after_attempt(max_attempts) | stop_after_delay(deadline_s),
                    reraise=True, sleep=sleep)


def _headers(config: dict, body: bytes, idempotency_key: str) -> dict[str, str]:
    headers = dict(config.get("headers") or {})
    headers.update({"Content-Type": "application/json", "X-Sluice-Timestamp": str(int(time.time())),
                    "Idempotency-Key": idempotency_key})
    if config.get("secret"):
        headers["X-Sluice-Signature"] = sign(config["secret"], body)
    return headers


def _safe_url(url: str) -> str:
    return mask_url(url).split("?", 1)[0]


class WebhookDestination(Destination):
    kind = "webhook"

    def __init__(self, connection: dict, dest_spec: dict | None = None, settings: Any = None, *,
                 sleep: Callable[[float], None] = time.sleep):
        self.config = connection.get("config") or {}
        self.url = self.config["url"]
        self.batch_size = int(self.config.get("batch_size") or 100)
        self.timeout_s = float(self.config.get("timeout_s") or 10)
        self.max_attempts = int(self.config.get("max_attempts") or 5)
        self.secrets = config_secrets("webhook", self.config)
        self._sleep = sleep
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def _post(self, body: bytes, headers: dict[str, str]) -> None:
        with self.session.post(self.url, data=body, headers=headers, timeout=self.timeout_s,
                               allow_redirects=False) as resp:
            status, text = resp.status_code, resp.text
            retry_after = _retry_after(resp.headers.get("Retry-After"))
        if 200 <= status < 300:
            return
        if status == 429 or status >= 500:
            raise RetryableStatus(status, text, retry_after)
        raise HttpStatusError(status, text)

    def deliver(self, body: bytes, idempotency_key: str) -> str | None:
        """None on success, else why the batch failed (secrets scrubbed)."""
        headers = _headers(self.config, body, idempotency_key)
        policy = retry_policy(self.max_attempts, sleep=self._sleep)
        try:
            policy(self._post, body, headers)
            return None
        except RetryableStatus as exc:
            attempts = policy.statistics.get("attempt_number", self.max_attempts)
            message = f"HTTP {exc.status} after {attempts} attempt(s): {exc.body[:200]}"
        except HttpStatusError as exc:
            message = f"HTTP {exc.status}: {exc.body[:200]}"
        except requests.RequestException as exc:
            attempts = policy.statistics.get("attempt_number", self.max_attempts)
            message = f"delivery failed after {attempts} attempt(s): {type(exc).__name__}: {exc}"
        message = scrub(message, self.secrets)
        log.warning("webhook batch %s to %s failed: %s", idempotency_key, _safe_url(self.url), message)
        return message

    def write(self, items: list[tuple[str, dict]], context: dict) -> dict[str, str]:
        failed: dict[str, str] = {}
        for index, start in enumerate(range(0, len(items), self.batch_size)):
            batch = items[start:start + self.batch_size]
            body = json.dumps({"pipeline_id": context.get("pipeline_id"), "run_id": context.get("run_id"),
                               "chunk_id": context.get("chunk_id"),
                               "records": [{"key": k, "record": jsonable(r)} for k, r in batch]},
                              separators=(",", ":"), ensure_ascii=False).encode()
            error = self.deliver(body, f"{context.get('chunk_id')}:{index}")
            if error is not None:
                failed.update({k: error for k, _ in batch})
        return failed

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def probe(connection: dict) -> str | None:
    """Reachability rule: POST a signed `{"type": "sluice.connection.test"}`; any answer
    2xx, 3xx (not followed) or 4xx other than 401/403 means the endpoint is there and accepts
    our credentials. 401/403, 5xx, connection errors and timeouts are failures."""
    config = connection.get("config") or {}
    body = json.dumps(TEST_EVENT, separators=(",", ":")).encode()
    headers = _headers(config, body, f"test:{secrets.token_hex(8)}")
    timeout = min(float(config.get("timeout_s") or PROBE_TIMEOUT_CAP_S), PROBE_TIMEOUT_CAP_S)
    try:
        with requests.Session() as session:
            with session.post(config["url"], data=body, headers=headers, timeout=timeout,
                              allow_redirects=False) as resp:
                status, text = resp.status_code, resp.text[:200]
    except requests.RequestException as exc:
        return scrub(f"{type(exc).__name__}: {exc}", config_secrets("webhook", config))[:500]
    if status in (401, 403):
        return scrub(f"HTTP {status}: the endpoint rejected our credentials: {text}",
                     config_secrets("webhook", config))
    if status >= 500:
        return scrub(f"HTTP {status}: the endpoint answered with a server error: {text}",
                     config_secrets("webhook", config))
    return None
