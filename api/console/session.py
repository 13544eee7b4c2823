"""Console sign-in: an API key exchanged for a server-side session (shared/stores/sessions.py).

The browser keeps only the session token, in an HttpOnly, SameSite=Strict cookie (Secure
over https); pages get the session's CSRF token in a <meta> tag, and every state-changing
request must send it back (header `X-CSRF-Token`, or the `csrf_token` form field of the
console's own forms). The same cookie authenticates the JSON API (see api/auth.py), so the
console's live parts call /v1 exactly as any client does, scoped exactly as the key is."""
from __future__ import annotations

import hmac
import secrets

from flask import Response, g, request

from api.auth import Principal, principal_for_key, principal_for_secret
from api.context import settings, stores
from shared.errors import Forbidden
from shared.stores.api_keys import hash_secret

COOKIE = "sluice_session"
LOGIN_COOKIE = "sluice_login"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_UNSET = object()


def _principal_of(row: dict) -> Principal | None:
    """The session's key as it is now: revoked keys and a changed admin key end the session."""
    if row.get("admin_hash"):
        admin_key = settings().admin_key
        ok = bool(admin_key) and hmac.compare_digest(hash_secret(admin_key), row["admin_hash"])
        return Principal("admin", True, None) if ok else None
    key = stores().api_keys.active(row["key_id"])
    return None if key is None else principal_for_key(key)


def current() -> tuple[dict | None, Principal | None]:
    """(session row, principal) of this request's cookie, looked up once per request."""
    cached = g.get("console_session", _UNSET)
    if cached is not _UNSET:
        return cached
    row = stores().sessions.get(request.cookies.get(COOKIE, ""))
    found = (row, _principal_of(row)) if row else (None, None)
    if found[0] is not None and found[1] is None:
        found = (None, None)
    g.console_session = found
    return found


def check_csrf(row: dict, *, form: bool = False) -> None:
    sent = request.headers.get(CSRF_HEADER) or (request.form.get("csrf_token") if form else None)
    if not sent or not hmac.compare_digest(sent.encode(), row["csrf_token"].encode()):
        raise Forbidden("missing or wrong CSRF token: send the console's X-CSRF-Token with every "
                        "request that changes state", code="csrf_failed")


def session_principal() -> Principal | None:
    """For a /v1 request that carries the console cookie instead of an Authorization header."""
    row, principal = current()
    if principal is not None and request.method not in SAFE_METHODS:
        check_csrf(row)
    return principal


def sign_in(secret: str) -> str | None:
    """A new session token for this key, or None when the key is unknown or revoked."""
    principal = principal_for_secret(secret.strip()) if secret.strip() else None
    if principal is None:
        return None
    token, _ = stores().sessions.create(principal.key_id, settings().console_session_ttl_s,
                                        hash_secret(secret.strip()) if principal.is_admin else None)
    return token


def sign_out() -> None:
    stores().sessions.delete(request.cookies.get(COOKIE, ""))


def _cookie(resp: Response, name: str, value: str, max_age: int) -> None:
    resp.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Strict",
                    secure=request.is_secure)


def set_session_cookie(resp: Response, token: str) -> None:
    _cookie(resp, COOKIE, token, settings().console_session_ttl_s)
    resp.delete_cookie(LOGIN_COOKIE, path="/ui/")


def clear_session_cookie(resp: Response) -> None:
    resp.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=request.is_secure)


def login_token(resp: Response) -> str:
    """A double-submit token for the sign-in form (there is no session yet to hold one)."""
    token = secrets.token_urlsafe(24)
    resp.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/ui/", httponly=True, samesite="Strict",
                    secure=request.is_secure)
    return token


def check_login_token() -> None:
    sent, kept = request.form.get("csrf_token", ""), request.cookies.get(LOGIN_COOKIE, "")
    if not sent or not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
        raise Forbidden("the sign-in form expired or was not sent from this console; reload the page",
                        code="csrf_failed")
