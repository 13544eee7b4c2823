"""Request budgets per API key and per namespace (shared.ratelimit's Redis token buckets),
checked after authentication. A request over either budget gets 429 in the one error
envelope with Retry-After; every limited response carries RateLimit-Limit/-Remaining/-Reset
for the tighter of the two. The admin key is never limited. If Redis cannot be reached the
request goes through (a limiter outage must not become an API outage)."""
from __future__ import annotations

import logging

from flask import Flask, Response, g, request

from api.auth import current_namespace, principal
from api.context import settings
from shared.engine.admission import limits_of
from shared.errors import SluiceError, TooManyRequests
from shared.ratelimit import Budget, RateLimiter
from shared.retry import TRANSIENT_ERRORS

log = logging.getLogger("sluice.api")


def _budgets() -> list[tuple[str, str, float, int]]:
    """(bucket, header naming it, rate, burst) for this request."""
    p, s = principal(), settings()
    own = p.rate_limit or {}
    out = [(f"key:{p.key_id}", "Authorization", own.get("requests_per_second") or s.rate_key_rps,
            own.get("burst") or s.rate_key_burst)]
    if request.headers.get("X-Namespace") or request.args.get("namespace"):
        try:
            ns = current_namespace()
        except SluiceError:
            return out        # the route reports the bad namespace itself
        lim = limits_of(ns)
        out.append((f"ns:{ns['_id']}", "X-Namespace", lim["requests_per_second"] or s.rate_namespace_rps,
                    lim["burst"] or s.rate_namespace_burst))
    return out


def install_rate_limits(app: Flask) -> None:
    limiter = RateLimiter(app.config["SLUICE_SETTINGS"].redis_url)
    app.extensions["sluice.ratelimit"] = limiter

    @app.before_request
    def _limit() -> None:
        if g.get("principal") is None or principal().is_admin:
            return
        tightest: Budget | None = None
        for bucket, path, rate, burst in _budgets():
            try:
                b = limiter.take(bucket, rate, burst)
            except TRANSIENT_ERRORS as exc:
                log.warning("rate limiter unavailable, not limiting: %s", exc)
                return
            if tightest is None or not b.allowed or (tightest.allowed and b.remaining < tightest.remaining):
                tightest = b
            if not b.allowed:
                g.rate_budget = b
                raise TooManyRequests(f"request budget exceeded; retry in {b.retry_after_s} s",
                                      details=[{"path": path, "message": f"over {rate:g} requests/s "
                                                                        f"(burst {burst})"}])
        g.rate_budget = tightest

    @app.after_request
    def _headers(resp: Response) -> Response:
        b = g.get("rate_budget")
        if b is not None:
            resp.headers.update(b.headers())
        return resp
