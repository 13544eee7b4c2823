"""Connection configs: per-type validation and PATCH merging (masking: masking.py). Pure functions.

Secrets never leave the API: a mongodb URI shows its password as `****`, a webhook shows
`secret: "****"` (plus `has_secret`), header values and URL query values whose *names* look
sensitive (see `is_sensitive_name`) show as `****`. A PATCH that sends a masked value back
keeps the stored one, but only where it cannot redirect the secret somewhere new:

- a URI/URL is kept when the sent text equals the masked stored text exactly (change the host,
  user or options and you must send the real password again);
- a masked header value is kept when the stored config has that header and the URL's origin
  (scheme, host, port) is unchanged — it is sent to the same receiver as before;
- a masked webhook `secret` is always kept (it signs bodies; it is never transmitted).
A masked placeholder that cannot be restored is a 400, never stored as a literal "****".
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable
from urllib.parse import urlsplit

# Masking lives in masking.py; re-exported because callers know these names from here.
from shared.secrets.masking import (MASK, config_secrets, has_masked_parts, is_sensitive_name,  # noqa: F401
                                       mask_config, mask_url, scrub, url_origin, url_secrets)
from shared.connectors.mongouri import mongo_name_problem, parse_mongo_uri

CONNECTION_TYPES = ("bucket", "collection", "mongodb", "webhook")
ROLES: dict[str, tuple[str, ...]] = {
    "bucket": ("source",),
    "collection": ("source", "destination"),
    "mongodb": ("source", "destination"),
    "webhook": ("destination",),
}
MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")
# Headers we set ourselves; configured headers may not override them.
RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "transfer-encoding",
                              "x-sluice-signature", "x-sluice-timestamp", "idempotency-key"})
WEBHOOK_DEFAULTS = {"batch_size": 100, "timeout_s": 10, "max_attempts": 5}
WEBHOOK_LIMITS = {"batch_size": (1, 1000), "timeout_s": (0.1, 120), "max_attempts": (1, 10)}
READ_ONLY_KEYS = frozenset({"has_secret"})  # shown by GET, ignored when sent back

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")

Resolver = Callable[[str, str], "str | None"]  # (kind, id or name) -> id, or None if absent


def supports(conn_type: str, role: str) -> bool:
    return role in ROLES.get(conn_type, ())


# -- PATCH merging ---------------------------------------------------------------------------
def merge_config(conn_type: str, stored: dict, patch: dict) -> tuple[dict, list[dict]]:
    """Shallow JSON merge-patch of `patch` over the stored config (a key set to null is
    removed), restoring masked values the caller sent back. Returns (merged, problems)."""
    problems: list[dict] = []
    merged = {k: v for k, v in stored.items()}
    for key, value in patch.items():
        if key in READ_ONLY_KEYS:
            continue
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if conn_type == "mongodb":
        uri = patch.get("uri")
        if isinstance(uri, str) and stored.get("uri") and uri == mask_url(stored["uri"]):
            merged["uri"] = stored["uri"]
    elif conn_type == "webhook":
        url = patch.get("url")
        if isinstance(url, str) and stored.get("url") and url == mask_url(stored["url"]):
            merged["url"] = stored["url"]
        if patch.get("secret") == MASK:
            if stored.get("secret"):
                merged["secret"] = stored["secret"]
            else:
                problems.append({"path": "config.secret",
                                 "message": "is the masked placeholder '****' but no secret is stored; "
                                            "send the real secret"})
                merged.pop("secret", None)
        headers = patch.get("headers")
        if isinstance(headers, dict):
            merged["headers"] = _restore_headers(stored, merged, headers, problems)
    return merged, problems


def _restore_headers(stored: dict, merged: dict, headers: dict, problems: list[dict]) -> dict:
    old = {k.lower(): v for k, v in (stored.get("headers") or {}).items()}
    same_place = url_origin(str(merged.get("url", ""))) == url_origin(str(stored.get("url", "")))
    out = {}
    for name, value in headers.items():
        if value == MASK and isinstance(name, str) and is_sensitive_name(name):
            if name.lower() in old and same_place:
                out[name] = old[name.lower()]
                continue
            why = ("the URL's origin changed, so send the real value again" if name.lower() in old
                   else "no value is stored for this header; send the real value")
            problems.append({"path": f"config.headers.{name}", "message": f"is masked ('****'): {why}"})
            continue
        out[name] = value
    return out


# -- validation -----------------------------------------------------------------------------
def validate_config(conn_type: str, config: Any, resolve: Resolver | None = None,
                    *, path: str = "config", allow_private: bool = True) -> tuple[dict, list[dict]]:
    """Validate and normalise a config: (clean config, [{path, message}, ...]).
    `resolve(kind, ref)` turns a bucket/collection id or name into its id (None: absent).
    `allow_private` is SLUICE_WEBHOOK_ALLOW_PRIVATE: a webhook URL whose host is a literal
    IP webhooks may not reach is refused here already (host names are checked when sending)."""
    if not isinstance(config, dict):
        return {}, [{"path": path, "message": "must be an object"}]
    checker = _CHECKERS.get(conn_type)
    if checker is None:
        return {}, [{"path": "type", "message": f"must be one of: {', '.join(CONNECTION_TYPES)}"}]
    problems: list[dict] = []
    config = {k: v for k, v in config.items() if k not in READ_ONLY_KEYS}
    clean = checker(config, resolve, path, problems)
    if conn_type == "webhook" and not any(p["path"] == f"{path}.url" for p in problems):
        from shared.netguard import url_problem  # requests/urllib3 live there

        if (refused := url_problem(clean["url"], allow_private=allow_private)) is not None:
            problems.append({"path": f"{path}.url", "message": refused})
    return clean, problems


def _unknown(config: dict, allowed: set[str], path: str, problems: list[dict]) -> None:
    for key in config:
        if key not in allowed:
            problems.append({"path": f"{path}.{key}", "message": "unknown field"})


def _ref(config: dict, field: str, kind: str, resolve: Resolver | None, path: str,
         problems: list[dict], *, required: bool) -> str | None:
    value = config.get(field)
    if value is None:
        if required:
            problems.append({"path": f"{path}.{field}", "message": "is required"})
        return None
    if not isinstance(value, str) or not value:
        problems.append({"path": f"{path}.{field}", "message": f"must be a {kind} id or name"})
        return None
    if resolve is None:
        return value
    found = resolve(kind, value)
    if found is None:
        problems.append({"path": f"{path}.{field}",
                         "message": f"{kind} '{value}' does not exist in this namespace"})
    return found


def _check_bucket(config: dict, resolve: Resolver | None, path: str, problems: list[dict]) -> dict:
    _unknown(config, {"bucket_id"}, path, problems)
    return {"bucket_id": _ref(config, "bucket_id", "bucket", resolve, path, problems, required=True)}


def _check_collection(config: dict, resolve: Resolver | None, path: str, problems: list[dict]) -> dict:
    _unknown(config, {"collection_id"}, path, problems)
    return {"collection_id": _ref(config, "collection_id", "collection", resolve, path, problems,
                                  required=False)}


def _check_mongodb(config: dict, resolve: Resolver | None, path: str, problems: list[dict]) -> dict:
    _unknown(config, {"uri", "database", "collection"}, path, problems)
    uri = config.get("uri")
    uri_db = None
    if uri is None:
        problems.append({"path": f"{path}.uri", "message": "is required"})
    elif not isinstance(uri, str) or not uri.startswith(MONGO_SCHEMES):
        problems.append({"path": f"{path}.uri", "message": "must start with mongodb:// or mongodb+srv://"})
    elif has_masked_parts(uri):
        problems.append({"path": f"{path}.uri", "message": "contains a masked value ('****'); send the "
                                                           "full URI with the real password"})
    else:
        try:
            uri_db = parse_mongo_uri(uri).get("database")
        except ValueError as exc:
            problems.append({"path": f"{path}.uri", "message": f"is not a valid MongoDB URI: "
                                                               f"{scrub(str(exc), url_secrets(uri))}"})
    database = config.get("database", uri_db)
    uri_failed = any(p["path"] == f"{path}.uri" for p in problems)
    if database is None:
        if not uri_failed:  # a broken URI may well have named it
            problems.append({"path": f"{path}.database", "message": "is required (or name it in the URI path)"})
    elif (msg := mongo_name_problem(database, "database")) is not None:
        problems.append({"path": f"{path}.database", "message": msg})
    collection = config.get("collection")
    if collection is not None and (msg := mongo_name_problem(collection, "collection")) is not None:
        problems.append({"path": f"{path}.collection", "message": msg})
    return {"uri": uri, "database": database, "collection": collection}


def _number(config: dict, field: str, path: str, problems: list[dict], *, integer: bool) -> Any:
    value = config.get(field, WEBHOOK_DEFAULTS[field])
    lo, hi = WEBHOOK_LIMITS[field]
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (isinstance(value, float) and not math.isfinite(value)):
        problems.append({"path": f"{path}.{field}", "message": "must be an integer" if integer else "must be a number"})
        return WEBHOOK_DEFAULTS[field]
    if not lo <= value <= hi:
        problems.append({"path": f"{path}.{field}", "message": f"must be between {lo} and {hi}"})
    return value


def _check_url(url: Any, path: str, problems: list[dict]) -> None:
    if url is None:
        problems.append({"path": path, "message": "is required"})
        return
    if not isinstance(url, str) or len(url) > 2048:
        problems.append({"path": path, "message": "must be an http(s) URL of at most 2048 characters"})
        return
    if has_masked_parts(url):
        problems.append({"path": path, "message": "contains a masked value ('****'); send the full URL"})
        return
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        problems.append({"path": path, "message": f"is not a valid URL: {scrub(str(exc), url_secrets(url))}"})
        return
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        problems.append({"path": path, "message": "must be an http:// or https:// URL with a host"})
    elif any(c in url for c in "\r\n\t "):
        problems.append({"path": path, "message": "must not contain whitespace"})


def _check_headers(headers: Any, path: str, problems: list[dict]) -> dict:
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        problems.append({"path": path, "message": "must be an object of header name → string value"})
        return {}
    if len(headers) > 50:
        problems.append({"path": path, "message": "at most 50 headers"})
    seen: set[str] = set()
    for name, value in headers.items():
        p = f"{path}.{name}"
        if not _HEADER_NAME.match(name):
            problems.append({"path": p, "message": "is not a valid HTTP header name"})
        elif name.lower() in RESERVED_HEADERS:
            problems.append({"path": p, "message": "is set by Sluice and cannot be configured"})
        elif name.lower() in seen:
            problems.append({"path": p, "message": "is repeated (header names are case-insensitive)"})
        seen.add(name.lower())
        if not isinstance(value, str) or any(c in value for c in "\r\n\x00") or len(value) > 8192:
            problems.append({"path": p, "message": "must be a string of at most 8192 characters "
                                                   "without line breaks"})
        elif value == MASK and is_sensitive_name(name):
            problems.append({"path": p, "message": "is the masked placeholder '****'; send the real value"})
    return dict(headers)


def _check_webhook(config: dict, resolve: Resolver | None, path: str, problems: list[dict]) -> dict:
    _unknown(config, {"url", "secret", "headers", "batch_size", "timeout_s", "max_attempts"}, path, problems)
    url = config.get("url")
    _check_url(url, f"{path}.url", problems)
    secret = config.get("secret")
    if secret is not None:
        if not isinstance(secret, str) or not 1 <= len(secret) <= 1024:
            problems.append({"path": f"{path}.secret", "message": "must be a string of 1-1024 characters"})
        elif secret == MASK:
            problems.append({"path": f"{path}.secret",
                             "message": "is the masked placeholder '****'; send the real secret"})
    return {"url": url, "secret": secret,
            "headers": _check_headers(config.get("headers"), f"{path}.headers", problems),
            "batch_size": _number(config, "batch_size", path, problems, integer=True),
            "timeout_s": _number(config, "timeout_s", path, problems, integer=False),
            "max_attempts": _number(config, "max_attempts", path, problems, integer=True)}


_CHECKERS = {"bucket": _check_bucket, "collection": _check_collection,
             "mongodb": _check_mongodb, "webhook": _check_webhook}

__all__ = ["MASK", "CONNECTION_TYPES", "ROLES", "supports", "is_sensitive_name", "mask_url",
           "mask_config", "merge_config", "validate_config", "config_secrets", "scrub"]
