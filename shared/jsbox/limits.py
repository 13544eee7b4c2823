"""Resource limits of one sandbox, and their validation against the server-wide caps.

Semantics measured with quickjs-ng 0.17:
- `time_ms` is **CPU time per record** (C `clock()`, restarted at every call into the context).
  `clock()` counts the CPU time of the whole *process*, so in a multi-threaded worker other busy
  threads make the limit fire early; sleeping does not count. Celery's hard `time_limit` stays
  the wall-clock backstop.
- `memory_mb` caps the heap of the context's runtime (all records of a chunk share it, garbage
  is collected between them).
- `stack_kb` caps the native stack used by JavaScript (deep recursion → JS_STACK).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from shared.errors import ValidationFailed

# (field, settings attribute with the server cap, human unit)
_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("time_ms", "js_time_limit_ms", "ms"),
    ("memory_mb", "js_memory_limit_mb", "MB"),
    ("stack_kb", "js_stack_limit_kb", "KB"),
)
# Smallest values accepted from users: below 32 KB of stack QuickJS cannot run the sandbox's
# own runner (JSON.parse of the record); a context needs ~0.3 MB of heap before any user code.
MINIMUMS = {"time_ms": 1, "memory_mb": 1, "stack_kb": 32}
LIMIT_KEYS = tuple(f for f, _, _ in _FIELDS)


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass(frozen=True)
class JsLimits:
    time_ms: int = 1000
    memory_mb: int = 64
    stack_kb: int = 512

    def __post_init__(self) -> None:
        for name in LIMIT_KEYS:
            if not _is_positive_int(getattr(self, name)):
                raise ValueError(f"JsLimits.{name} must be a positive integer")

    @classmethod
    def from_settings(cls, settings: Any) -> "JsLimits":
        """The server caps themselves (the default when nothing is requested)."""
        return cls(**{f: int(getattr(settings, attr)) for f, attr, _ in _FIELDS})

    @classmethod
    def capped(cls, requested: Mapping[str, Any] | None, settings: Any,
               path: str = "limits") -> "JsLimits":
        """Requested limits, each clamped to the server cap; missing values take the cap.

        Values above the cap are clamped rather than refused, so a stored definition keeps
        running when an operator lowers a cap later (API input is checked with
        `validate_limits`, which does refuse them). Malformed input raises ValidationFailed.
        """
        requested = requested or {}
        details = _shape_errors(requested, path)
        if details:
            raise ValidationFailed(f"{details[0]['path']}: {details[0]['message']}", details=details)
        caps = cls.from_settings(settings)
        return cls(**{f: min(int(requested.get(f, getattr(caps, f))), getattr(caps, f))
                      for f in LIMIT_KEYS})

    def to_dict(self) -> dict[str, int]:
        return {"time_ms": self.time_ms, "memory_mb": self.memory_mb, "stack_kb": self.stack_kb}


def _shape_errors(raw: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(raw, Mapping):
        return [{"path": path, "message": "must be an object with time_ms, memory_mb and/or stack_kb"}]
    details = []
    for key in raw:
        if key not in LIMIT_KEYS:
            details.append({"path": f"{path}.{key}",
                            "message": f"unknown limit; allowed: {', '.join(LIMIT_KEYS)}"})
    for key in LIMIT_KEYS:
        if key in raw and not _is_positive_int(raw[key]):
            details.append({"path": f"{path}.{key}", "message": "must be a positive integer"})
    return details


def validate_limits(raw: Any, path: str, settings: Any) -> list[dict[str, Any]]:
    """Error details for requested limits (None is fine): shape, type, and each value <= cap."""
    if raw is None:
        return []
    details = _shape_errors(raw, path)
    if details:
        return details
    for key, attr, unit in _FIELDS:
        cap = int(getattr(settings, attr))
        if key in raw and raw[key] > cap:
            details.append({"path": f"{path}.{key}",
                            "message": f"must be at most {cap} {unit} (server cap)"})
        elif key in raw and raw[key] < MINIMUMS[key]:
            details.append({"path": f"{path}.{key}",
                            "message": f"must be at least {MINIMUMS[key]} {unit}"})
    return details
