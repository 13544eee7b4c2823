"""Typed errors of the Sluice API: one class per family, each carrying the envelope's
`status`, `code`, `message` and `details` ([{"path", "message"}, …], every problem at once).

    try:
        client.collections.create(collection_name="x", source={"type": "bucket"})
    except ValidationError as err:
        for d in err.details:
            print(d["path"], d["message"])
"""
from __future__ import annotations

import json
from typing import Any


class SluiceError(Exception):
    """A request that did not succeed: an error envelope from the API, or no answer at all
    (`status` 0). `method` and `path` say which request it was."""

    def __init__(self, status: int, code: str, message: str, details: list[dict] | None = None,
                 method: str = "", path: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details: list[dict] = list(details or [])
        self.method, self.path = method, path
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method and self.path else ""
        head = f"{self.status} {self.code}: {self.message}" if self.status else f"{self.code}: {self.message}"
        extra = "".join(f"\n  {d.get('path') or ''}: {d.get('message') or ''}" if d.get("path")
                        else f"\n  {d.get('message') or ''}" for d in self.details)
        return head + where + extra


class ValidationError(SluiceError):
    """400: the request is invalid; `details` lists every problem with its field path."""


class AuthError(SluiceError):
    """401 (missing, invalid or revoked key) or 403 (the key may not do this)."""


class NotFoundError(SluiceError):
    """404: no such resource, or one the key may not see."""


class ConflictError(SluiceError):
    """409: the resource's state forbids it now (name taken, already running, …)."""


class UnprocessableError(SluiceError):
    """422: well-formed but cannot be done (collection disabled, pipeline disabled, …)."""


class RateLimitedError(SluiceError):
    """429: too many requests; `retry_after` is the server's Retry-After in seconds, if sent."""


class UnavailableError(SluiceError):
    """503 or any 5xx, or the API could not be reached (`status` 0): worth retrying later."""


class TimeoutExpired(SluiceError):
    """`wait(..., timeout=…)` gave up before the batch, task or run finished."""


class JobFailed(SluiceError):
    """`wait(..., raise_on_failure=True)` saw FAILED or CANCELED; `view` is the final view."""

    def __init__(self, view: dict, kind: str):
        ident = view.get("batch_id") or view.get("task_id") or view.get("id") or ""
        super().__init__(0, f"{kind}_{str(view.get('status', '')).lower()}",
                         f"{kind} {ident} ended {view.get('status')}")
        self.view = view


_BY_STATUS: dict[int, type[SluiceError]] = {400: ValidationError, 401: AuthError, 403: AuthError,
                                            404: NotFoundError, 409: ConflictError,
                                            422: UnprocessableError, 429: RateLimitedError}


def error_class(status: int) -> type[SluiceError]:
    """The family of an HTTP status (0: no answer at all)."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status == 0 or status >= 500:
        return UnavailableError
    return ValidationError if 400 <= status < 500 else SluiceError


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After in seconds (an HTTP date is not worth parsing for an API: None)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def error_from_response(status: int, text: str, method: str = "", path: str = "",
                        retry_after: str | None = None) -> SluiceError:
    """Parse the envelope {"error": {"code", "message", "status", "details"}}; anything else (a
    proxy's HTML page, an empty body) becomes an error of the status's family."""
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    wait = retry_after_seconds(retry_after)
    if isinstance(err, dict):
        details = [d for d in err.get("details") or [] if isinstance(d, dict)]
        code = int(err.get("status") or status)
        return error_class(code)(code, str(err.get("code") or "error"), str(err.get("message") or ""),
                                 details, method, path, wait)
    snippet = " ".join((text or "").split())[:200]
    return error_class(status)(status, "http_error", snippet or f"HTTP {status}", [], method, path, wait)
