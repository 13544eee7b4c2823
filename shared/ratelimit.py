"""Request budgets: token buckets kept in Redis, so every API process spends from the same
one. A bucket holds up to `burst` tokens and refills at `rate` per second; a request takes
one token. One Lua script reads, refills and takes atomically, on the Redis server's clock
(so processes on different hosts agree)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# KEYS[1] bucket; ARGV rate, burst. Returns {allowed, tokens left (string: Lua numbers are
# truncated to integers on the way out)}.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(b[1]) or burst, tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


@dataclass(frozen=True)
class Budget:
    """The outcome of taking one token: the RateLimit-* header values."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int          # seconds until the bucket is full again
    retry_after_s: int    # seconds until one token is back (0 when allowed)

    def headers(self) -> dict[str, str]:
        out = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
               "RateLimit-Reset": str(self.reset_s)}
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after_s)
        return out


def budget(allowed: bool, tokens: float, rate: float, burst: int) -> Budget:
    """Header values from a bucket's state after a take (pure)."""
    return Budget(allowed, burst, max(0, int(tokens)), math.ceil((burst - tokens) / rate),
                  0 if allowed else max(1, math.ceil((1 - tokens) / rate)))


class RateLimiter:
    """Buckets in one Redis; the client is made on first use (never at import)."""

    def __init__(self, redis_url: str):
        self._url = redis_url
        self._client: Any = None
        self._script: Any = None

    def take(self, bucket: str, rate: float, burst: int) -> Budget:
        if self._client is None:
            import redis  # the API process's first limited request connects

            self._client = redis.Redis.from_url(self._url, socket_timeout=1, socket_connect_timeout=1)
            self._script = self._client.register_script(_TAKE)
        allowed, tokens = self._script(keys=[f"sluice:rl:{bucket}"], args=[rate, burst])
        return budget(bool(allowed), float(tokens), rate, burst)
