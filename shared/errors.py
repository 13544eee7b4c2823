"""One error tree. Every domain error has a stable `code` and an HTTP `status`.

The API renders all of them in one envelope:
    {"error": {"code", "message", "status", "details": [{"path", "message"}]}}
"""
from __future__ import annotations

from typing import Any, Iterable


class SluiceError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None,
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


class BadRequest(SluiceError):
    status, code = 400, "bad_request"


class ValidationFailed(BadRequest):
    """A request (or user code, or a filter) is invalid; `details` lists every problem with its path."""
    code = "validation_error"

    @classmethod
    def at(cls, path: str, message: str, *, code: str | None = None) -> "ValidationFailed":
        return cls(f"{path}: {message}" if path else message, code=code,
                   details=[{"path": path, "message": message}])


class Unauthorized(SluiceError):
    status, code = 401, "unauthorized"


class Forbidden(SluiceError):
    status, code = 403, "forbidden"


class NotFound(SluiceError):
    status, code = 404, "not_found"


class NamespaceNotFound(NotFound):
    code = "namespace_not_found"

    def __init__(self, message: str = "workspace does not exist", **kw: Any):
        super().__init__(message, **kw)


class Conflict(SluiceError):
    status, code = 409, "conflict"


class Unprocessable(SluiceError):
    status, code = 422, "unprocessable"


class PayloadTooLarge(SluiceError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(SluiceError):
    status, code = 415, "unsupported_media_type"


class ServiceUnavailable(SluiceError):
    """MongoDB or Redis cannot be reached."""
    status, code = 503, "service_unavailable"
