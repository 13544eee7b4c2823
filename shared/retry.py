"""Retry versus give up, declared once: what counts as transient. Workers retry these with
backoff and the API answers them with 503; user errors (bad JS, bad filters, bad data) are
never retried. (Broker client errors are kombu's, which shared/ does not import: the API's
task sender turns them into ServiceUnavailable at its boundary.)"""
from __future__ import annotations

import pymongo.errors
import redis.exceptions

from shared.errors import TransientError

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    # AutoReconnect, NetworkTimeout, NotPrimaryError and ServerSelectionTimeoutError are
    # ConnectionFailures.
    pymongo.errors.ConnectionFailure,
    pymongo.errors.WTimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
