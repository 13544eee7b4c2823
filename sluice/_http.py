"""The one HTTP client of the project: our headers, the error envelope, pagination cursors and
retries of transient failures.

Retried (with backoff, at most `retries` times): a 429 for every request, after at least its
Retry-After (the API refused it before doing anything, so sending it again cannot act twice);
connection errors and 503 for idempotent methods (GET, PUT, DELETE, HEAD), for requests
carrying an Idempotency-Key, and for the POST …/list routes, which only read. Any other POST or
PATCH that failed that way is not sent again: it may have acted."""
from __future__ import annotations

import random
import re
import time
from typing import Any, Callable, Iterator, Mapping

import requests

from sluice.errors import NotFoundError, SluiceError, UnavailableError, error_from_response

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_NAMESPACE = "default"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
TRANSIENT_STATUSES = frozenset({0, 429, 503})
_UNSET: Any = object()


def may_retry(method: str, headers: Mapping[str, str] | None, status: int, read_only: bool = False) -> bool:
    """Whether a failure with `status` (0: no answer) is retried for this request."""
    if status not in TRANSIENT_STATUSES:
        return False
    if status == 429:   # refused before anything was done (the rate limit is checked first)
        return True
    has_key = any(k.lower() == "idempotency-key" for k in (headers or {}))
    return read_only or method.upper() in IDEMPOTENT_METHODS or has_key


def backoff_delays(base: float = 0.25, factor: float = 2.0, cap: float = 8.0,
                   jitter: float = 0.1) -> Iterator[float]:
    """0.25, 0.5, 1, 2, … seconds up to `cap`, each ±`jitter` so clients do not retry in step."""
    delay = base
    while True:
        yield delay * (1 + random.uniform(-jitter, jitter))
        delay = min(cap, delay * factor)


def _reason(exc: Exception) -> str:
    """'connection refused' rather than urllib3's nested repr."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    return m.group(1).strip().lower() if m else type(exc).__name__


class Transport:
    """requests over the API: `Authorization: Bearer <key>`, `X-Namespace: <namespace>`, JSON in
    and out. Every failure raises a SluiceError subclass.

        http = Transport("http://127.0.0.1:8000", "sk_…", "default")
        http.get("/v1/batches/bat_…")
    """

    def __init__(self, url: str = DEFAULT_URL, key: str | None = None, namespace: str | None = DEFAULT_NAMESPACE,
                 *, timeout: float = 30.0, retries: int = 4, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.url = url.rstrip("/")
        self.key, self.namespace, self.timeout, self.retries = key, namespace, timeout, retries
        self.session = session or requests.Session()
        self.sleep = sleep

    def in_namespace(self, namespace: str | None) -> "Transport":
        """The same client (and connection pool) speaking for another namespace."""
        return Transport(self.url, self.key, namespace, timeout=self.timeout, retries=self.retries,
                         session=self.session, sleep=self.sleep)

    def headers(self, extra: Mapping[str, str] | None = None, namespace: Any = _UNSET) -> dict[str, str]:
        ns = self.namespace if namespace is _UNSET else namespace
        h = {"Accept": "application/json"}
        if self.key:
            h["Authorization"] = f"Bearer {self.key}"
        if ns:
            h["X-Namespace"] = ns
        return h | dict(extra or {})

    def request(self, method: str, path: str, body: Any = None, *, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, namespace: Any = _UNSET, read_only: bool = False) -> Any:
        """Send one request (retrying transient failures where that is safe; `read_only` marks a
        POST that only reads); the decoded JSON, or None for an empty answer."""
        delays = backoff_delays()
        for attempt in range(self.retries + 1):
            try:
                return self._once(method, path, body, params, headers, namespace)
            except SluiceError as err:
                if attempt >= self.retries or not may_retry(method, headers, err.status, read_only):
                    raise
                self.sleep(max(next(delays), err.retry_after or 0.0))
        raise AssertionError("unreachable")  # the loop returns or raises

    def _once(self, method: str, path: str, body: Any, params: Mapping[str, Any] | None,
              headers: Mapping[str, str] | None, namespace: Any) -> Any:
        try:
            resp = self.session.request(method, self.url + path, json=body, params=params,
                                        headers=self.headers(headers, namespace), timeout=self.timeout)
        except requests.RequestException as exc:
            raise UnavailableError(0, "connection_error", f"cannot reach the API at {self.url}: {_reason(exc)}",
                                   method=method, path=path) from exc
        if resp.status_code >= 400:
            raise error_from_response(resp.status_code, resp.text, method, path, resp.headers.get("Retry-After"))
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise SluiceError(resp.status_code, "bad_response", "the API answered with something that is not "
                              "JSON", method=method, path=path) from exc

    def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        return self.request("GET", path, params=params, **kw)

    def post(self, path: str, body: Any = None, headers: Mapping[str, str] | None = None, **kw: Any) -> Any:
        return self.request("POST", path, {} if body is None else body, headers=headers, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, {} if body is None else body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, {} if body is None else body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def find(self, path: str, **kw: Any) -> Any:
        """GET, but None for a 404."""
        try:
            return self.get(path, **kw)
        except NotFoundError:
            return None

    def pages(self, method: str, path: str, body: Mapping[str, Any] | None = None, *,
              params: Mapping[str, Any] | None = None, key: str = "results", limit: int | None = None,
              page_size: int = 100, **kw: Any) -> Iterator[dict]:
        """Every item of a list route, following `pagination.next_cursor`; at most `limit`
        items. GET lists take limit/cursor as query parameters, POST …/list in the body."""
        cursor, seen = None, 0
        while True:
            size = page_size if limit is None else max(1, min(page_size, limit - seen))
            paging = {"limit": size, **({"cursor": cursor} if cursor else {})}
            if method == "GET":
                page = self.get(path, {**(params or {}), **paging}, **kw)
            else:
                page = self.request(method, path, {**(body or {}), **paging}, params=params, read_only=True, **kw)
            for item in page.get(key) or []:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = (page.get("pagination") or {}).get("next_cursor")
            if not cursor:
                return
