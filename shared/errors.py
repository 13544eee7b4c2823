"""One error tree. Every error Sluice raises is a `SluiceError` with a stable `code` and an
HTTP `status`, in one of two branches (as dagster separates user-code errors from framework
errors):

    SluiceError
    ├── UserError       the user's request, code, data or configuration is wrong:
    │                   reported (a 4xx, or a record counted as failed), never retried
    └── TransientError  infrastructure that may recover (MongoDB, Redis, the broker, a
                        destination): retried with backoff, a 503 at the API

`shared.retry.TRANSIENT_ERRORS` adds the client libraries' own connection errors to
`TransientError`. The API renders every error in one envelope:
    {"error": {"code", "message", "status", "details": [{"path", "message"}]}}
"""
from __future__ import annotations

from typing import Any, Iterable


class SluiceError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str = "", *, code: str | None = None,
                 details: Iterable[dict[str, Any]] | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details: list[dict[str, Any]] = list(details or [])

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "status": self.status,
                "details": self.details}


class UserError(SluiceError):
    """The user's request, code, data or configuration is wrong; retrying cannot help."""
    status, code = 400, "user_error"


class TransientError(SluiceError):
    """Infrastructure that may recover by itself; retried with backoff."""
    status, code = 503, "service_unavailable"


class BadRequest(UserError):
    status, code = 400, "bad_request"


class ValidationFailed(BadRequest):
    """A request (or user code, or a filter) is invalid; `details` lists every problem with its path."""
    code = "validation_error"

    @classmethod
    def at(cls, path: str, message: str, *, code: str | None = None) -> "ValidationFailed":
        return cls(f"{path}: {message}" if path else message, code=code,
                   details=[{"path": path, "message": message}])


class Unauthorized(UserError):
    status, code = 401, "unauthorized"


class Forbidden(UserError):
    status, code = 403, "forbidden"


class NotFound(UserError):
    status, code = 404, "not_found"


class NamespaceNotFound(NotFound):
    code = "namespace_not_found"

    def __init__(self, message: str = "workspace does not exist", **kw: Any):
        super().__init__(message, **kw)


class Conflict(UserError):
    status, code = 409, "conflict"


class Unprocessable(UserError):
    status, code = 422, "unprocessable"


class TooManyRequests(UserError):
    """Over a request budget; the response carries Retry-After and RateLimit-* headers."""
    status, code = 429, "rate_limited"


class PayloadTooLarge(UserError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(UserError):
    status, code = 415, "unsupported_media_type"


class ServiceUnavailable(TransientError):
    """MongoDB or Redis cannot be reached."""
    status, code = 503, "service_unavailable"
