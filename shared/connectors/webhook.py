"""A webhook as a pipeline destination: records are POSTed as signed JSON batches.

Each batch body is `{"pipeline_id", "run_id", "chunk_id", "records": [{"key", "record"}, ...]}`
with headers `Content-Type: application/json`, `X-Sluice-Timestamp: <unix seconds>`,
`X-Sluice-Signature: t=<the same seconds>,v1=<hex HMAC-SHA256 of f"{t}." + body>` when a secret
is set, `Idempotency-Key: <chunk_id>:<batch index>` and the configured headers. Signing the
timestamp with the body lets a receiver refuse a captured delivery replayed later (`verify`
rejects timestamps more than 5 minutes away); every attempt is stamped afresh. A redelivered
chunk sends the same batches with the same keys, so a receiver that dedupes on
Idempotency-Key applies each batch once.

Where a webhook may connect is decided by shared/netguard.py (SLUICE_WEBHOOK_ALLOW_PRIVATE):
a refused address fails the batch at once with the reason, without retries.

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
from shared.errors import TransientError, UserError
from shared.netguard import AddressRefused, guarded_session
from shared.secrets.masking import config_secrets, mask_url, scrub
from shared.settings import Settings

log = logging.getLogger("sluice.connectors.webhook")

BACKOFF_BASE_S = 0.2
BACKOFF_MAX_S = 10.0
BATCH_DEADLINE_S = 120.0
PROBE_TIMEOUT_CAP_S = 10.0
TEST_EVENT = {"type": "sluice.connection.test"}
SIGNATURE_SCHEME = "v1"
SIGNATURE_TOLERANCE_S = 300.0


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The X-Sluice-Signature value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},{SIGNATURE_SCHEME}={_digest(secret, ts, body)}"


def _parse_signature(header: str) -> tuple[int | None, list[str]]:
    """(timestamp, v1 signatures) of a header; several v1 entries are allowed, so a sender
    could sign with an old and a new secret while receivers switch over."""
    ts, sigs = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit():
            ts = int(value)
        elif name == SIGNATURE_SCHEME and value:
            sigs.append(value)
    return ts, sigs


def verify(secret: str, body: bytes, header: str | None, *, tolerance_s: float = SIGNATURE_TOLERANCE_S,
           now: float | None = None) -> bool:
    """True when `header` signs `body` under `secret` (constant-time compare) with a timestamp
    at most `tolerance_s` away from `now`: a replayed old delivery fails."""
    if not secret or not isinstance(header, str):
        return False
    ts, sigs = _parse_signature(header)
    if ts is None or not sigs:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    expected = _digest(secret, ts, body).encode()
    return any(hmac.compare_digest(expected, sig.encode()) for sig in sigs)


class _ReceiverAnswer:
    """A receiver answered outside 2xx; `status` is the receiver's HTTP status."""

    def __init__(self, status: int, body: str, retry_after: float | None = None):
        super().__init__(f"HTTP {status}: {body[:200]}")  # type: ignore[call-arg]
        self.status, self.body, self.retry_after = status, body, retry_after


class HttpStatusError(_ReceiverAnswer, UserError):
    """4xx: the receiver refused the batch; sending it again cannot help."""


class RetryableStatus(_ReceiverAnswer, TransientError):
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


def _headers(config: dict, idempotency_key: str) -> dict[str, str]:
    headers = dict(config.get("headers") or {})
    headers.update({"Content-Type": "application/json", "Idempotency-Key": idempotency_key})
    return headers


def _stamped(config: dict, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    """`headers` plus this attempt's timestamp and signature: stamped per attempt, so a retry
    late in the backoff still carries a fresh time a receiver's tolerance accepts."""
    ts = int(time.time())
    out = {**headers, "X-Sluice-Timestamp": str(ts)}
    if config.get("secret"):
        out["X-Sluice-Signature"] = sign(config["secret"], body, ts)
    return out


def _allows_private(settings: Any) -> bool:
    """SLUICE_WEBHOOK_ALLOW_PRIVATE of `settings`; callers without settings get its default."""
    return Settings().webhook_allow_private if settings is None else settings.webhook_allow_private


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
        self.allow_private = _allows_private(settings)
        self._sleep = sleep
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = guarded_session(self.allow_private)
        return self._session

    def _post(self, body: bytes, headers: dict[str, str]) -> None:
        headers = _stamped(self.config, body, headers)
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
        headers = _headers(self.config, idempotency_key)
        policy = retry_policy(self.max_attempts, sleep=self._sleep)
        try:
            policy(self._post, body, headers)
            return None
        except RetryableStatus as exc:
            attempts = policy.statistics.get("attempt_number", self.max_attempts)
            message = f"HTTP {exc.status} after {attempts} attempt(s): {exc.body[:200]}"
        except HttpStatusError as exc:
            message = f"HTTP {exc.status}: {exc.body[:200]}"
        except AddressRefused as exc:  # not transient: the policy did not retry it
            message = str(exc)
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


def probe(connection: dict, settings: Any = None) -> str | None:
    """Reachability rule: POST a signed `{"type": "sluice.connection.test"}`; any answer
    2xx, 3xx (not followed) or 4xx other than 401/403 means the endpoint is there and accepts
    our credentials. 401/403, 5xx, refused addresses, connection errors and timeouts are failures."""
    config = connection.get("config") or {}
    body = json.dumps(TEST_EVENT, separators=(",", ":")).encode()
    headers = _stamped(config, body, _headers(config, f"test:{secrets.token_hex(8)}"))
    timeout = min(float(config.get("timeout_s") or PROBE_TIMEOUT_CAP_S), PROBE_TIMEOUT_CAP_S)
    try:
        with guarded_session(_allows_private(settings)) as session:
            with session.post(config["url"], data=body, headers=headers, timeout=timeout,
                              allow_redirects=False) as resp:
                status, text = resp.status_code, resp.text[:200]
    except AddressRefused as exc:
        return str(exc)
    except requests.RequestException as exc:
        return scrub(f"{type(exc).__name__}: {exc}", config_secrets("webhook", config))[:500]
    if status in (401, 403):
        return scrub(f"HTTP {status}: the endpoint rejected our credentials: {text}",
                     config_secrets("webhook", config))
    if status >= 500:
        return scrub(f"HTTP {status}: the endpoint answered with a server error: {text}",
                     config_secrets("webhook", config))
    return None
