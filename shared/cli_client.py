"""The CLI's HTTP client: our headers, our error envelope, and the exit codes they map to.

Exit codes used by every `sluice` command that talks to the API:
    0  success (a batch or run that finished COMPLETED or COMPLETED_WITH_ERRORS)
    1  the batch or run ended FAILED or CANCELED
    2  the API refused the request (4xx), the spec or arguments are invalid
    3  the API is unreachable or answered 5xx
    4  gave up waiting (--timeout)
"""
from __future__ import annotations

import json
import os
import re
import time
from typing import Any, Mapping

import requests

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_NAMESPACE = "default"

EXIT_OK, EXIT_FAILED, EXIT_CLIENT_ERROR, EXIT_SERVER_ERROR, EXIT_TIMEOUT = 0, 1, 2, 3, 4


class ApiError(Exception):
    """A request that did not succeed: an envelope from the API, or no answer at all (status 0)."""

    def __init__(self, status: int, code: str, message: str, details: list[dict] | None = None,
                 method: str = "", path: str = ""):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.method, self.path = method, path

    def __str__(self) -> str:
        return self.message

    @property
    def exit_code(self) -> int:
        return exit_code_for_http(self.status)

    def render(self) -> str:
        return format_error(self)


MAX_RATE_RETRIES = 5
MAX_RATE_WAIT_S = 60.0


def retry_after(status: int, header: str | None, waited: float) -> float | None:
    """Seconds to wait before sending a request the API refused with 429 again, or None
    (not a 429, or waiting would pass MAX_RATE_WAIT_S in all)."""
    if status != 429:
        return None
    try:
        pause = max(0.0, float(header)) if header else 1.0
    except ValueError:
        pause = 1.0
    return pause if waited + pause <= MAX_RATE_WAIT_S else None


def exit_code_for_http(status: int) -> int:
    """2 for a 4xx (the request is wrong), 3 for no answer or a 5xx (the server is)."""
    return EXIT_CLIENT_ERROR if 400 <= status < 500 else EXIT_SERVER_ERROR


def error_from_response(status: int, text: str, method: str = "", path: str = "") -> ApiError:
    """Parse our envelope {"error": {"code", "message", "status", "details": [{path, message}]}};
    anything else (a proxy's HTML page, an empty body) becomes a generic error."""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        details = [d for d in err.get("details") or [] if isinstance(d, dict)]
        return ApiError(int(err.get("status") or status), str(err.get("code") or "error"),
                        str(err.get("message") or ""), details, method, path)
    snippet = " ".join((text or "").split())[:200]
    return ApiError(status, "http_error", snippet or f"HTTP {status}", [], method, path)


def format_error(err: ApiError) -> str:
    """One headline, then one line per detail:

        error: 400 validation_error: invalid request: 2 problem(s)  (POST /v1/collections)
          source.filters.AND.0.operator: unknown operator 'equals'
          bogus: unknown field
    """
    where = f"  ({err.method} {err.path})" if err.method and err.path else ""
    status = f"{err.status} " if err.status and err.method else ""  # local checks have no HTTP status
    lines = [f"error: {status}{err.code}: {err.message}{where}"]
    for d in err.details:
        path, msg = d.get("path") or "", d.get("message") or ""
        lines.append(f"  {path}: {msg}" if path else f"  {msg}")
    return "\n".join(lines)


def _reason(exc: Exception) -> str:
    """'connection refused' rather than urllib3's nested repr."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    if m:
        return m.group(1).strip().lower()
    return type(exc).__name__


class ApiClient:
    """requests over our API: `Authorization: Bearer <key>`, `X-Namespace: <namespace>`, JSON in
    and out. Every failure raises ApiError."""

    def __init__(self, url: str = DEFAULT_URL, key: str | None = None, namespace: str | None = DEFAULT_NAMESPACE,
                 timeout: float = 30.0, session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.key, self.namespace, self.timeout = key, namespace, timeout
        self.session = session or requests.Session()

    @classmethod
    def from_env(cls, url: str | None = None, key: str | None = None, namespace: str | None = None,
                 env: Mapping[str, str] | None = None) -> "ApiClient":
        env = os.environ if env is None else env
        return cls(url or env.get("SLUICE_URL") or DEFAULT_URL, key or env.get("SLUICE_API_KEY") or None,
                   namespace or env.get("SLUICE_NAMESPACE") or DEFAULT_NAMESPACE)

    def in_namespace(self, namespace: str) -> "ApiClient":
        return ApiClient(self.url, self.key, namespace, self.timeout, self.session)

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        h = {"Accept": "application/json"}
        if self.key:
            h["Authorization"] = f"Bearer {self.key}"
        if self.namespace:
            h["X-Namespace"] = self.namespace
        return h | dict(extra or {})

    def request(self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None) -> Any:
        waited = 0.0
        for _ in range(MAX_RATE_RETRIES + 1):
            try:
                resp = self.session.request(method, self.url + path, json=body, params=params,
                                            headers=self.headers(headers), timeout=self.timeout)
            except requests.RequestException as exc:
                raise ApiError(0, "connection_error", f"cannot reach the API at {self.url}: {_reason(exc)}",
                               method=method, path=path) from exc
            pause = retry_after(resp.status_code, resp.headers.get("Retry-After"), waited)
            if pause is None:
                break
            time.sleep(pause)     # over the request budget: wait as long as the API says
            waited += pause
        if resp.status_code >= 400:
            raise error_from_response(resp.status_code, resp.text, method, path)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise ApiError(resp.status_code, "bad_response", "the API answered with something that is not JSON",
                           method=method, path=path) from exc

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, headers: Mapping[str, str] | None = None) -> Any:
        return self.request("POST", path, {} if body is None else body, headers=headers)

    def put(self, path: str, body: Any = None) -> Any:
        return self.request("PUT", path, {} if body is None else body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.request("PATCH", path, {} if body is None else body)

    def find(self, path: str) -> Any:
        """GET, but None for a 404."""
        try:
            return self.get(path)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def get_list(self, path: str, key: str = "results", limit: int = 1000) -> list[dict]:
        """Every item of a GET list, following `next_cursor`."""
        out: list[dict] = []
        cursor = None
        while True:
            page = self.get(path, {"limit": limit, **({"cursor": cursor} if cursor else {})})
            out.extend(page.get(key) or [])
            cursor = (page.get("pagination") or {}).get("next_cursor")
            if not cursor:
                return out
