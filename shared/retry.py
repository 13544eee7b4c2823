"""Retry versus give up, declared once. Transient MongoDB/Redis errors are retried with
backoff; user errors (bad JS, bad filters) never are."""
from __future__ import annotations

import pymongo.errors
import redis.exceptions
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    pymongo.errors.AutoReconnect,
    pymongo.errors.NetworkTimeout,
    pymongo.errors.ServerSelectionTimeoutError,
    pymongo.errors.WTimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

# For store calls made outside Celery's own retry (e.g. a final status write).
retry_transient = retry(retry=retry_if_exception_type(TRANSIENT_ERRORS),
                        wait=wait_exponential(multiplier=0.2, max=5), stop=stop_after_attempt(5),
                        reraise=True)
