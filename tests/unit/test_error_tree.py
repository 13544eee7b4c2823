"""One error tree: every exception the server's code defines is a SluiceError in exactly one
of the two branches, and what is retried is declared once."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import pymongo.errors
import redis.exceptions

import shared
from shared.errors import SluiceError, TransientError, UserError
from shared.retry import TRANSIENT_ERRORS

# The command line's own errors are not the server's (it has its own package's conventions).
NOT_SERVER = ("shared.cli", "shared.localservices")


def _server_exceptions() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(shared.__path__, "shared."):
        if info.name.startswith(NOT_SERVER):
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                found.append(obj)
    return found


def test_every_server_exception_is_rooted_in_one_branch():
    classes = _server_exceptions()
    assert len(classes) > 15
    unrooted = [c.__qualname__ for c in classes if not issubclass(c, SluiceError)]
    assert unrooted == []
    both = [c.__qualname__ for c in classes if issubclass(c, UserError) and issubclass(c, TransientError)]
    assert both == []
    neither = [c.__qualname__ for c in classes if c not in (SluiceError, UserError, TransientError)
               and not issubclass(c, (UserError, TransientError))]
    assert neither == []


def test_user_errors_are_never_retried_and_transient_ones_are():
    from shared.connectors.streaming_targets import TargetUnavailable
    from shared.connectors.webhook import HttpStatusError, RetryableStatus
    from shared.extractors import RecordError
    from shared.jsbox.errors import JsError

    assert not issubclass(JsError, TRANSIENT_ERRORS) and not issubclass(RecordError, TRANSIENT_ERRORS)
    assert not issubclass(HttpStatusError, TRANSIENT_ERRORS)
    for cls in (RetryableStatus, TargetUnavailable, pymongo.errors.AutoReconnect,
                pymongo.errors.ServerSelectionTimeoutError, redis.exceptions.ConnectionError):
        assert issubclass(cls, TRANSIENT_ERRORS), cls
    # A receiver's answer keeps its own HTTP status, whichever branch it is in.
    assert RetryableStatus(503, "busy").status == 503 and HttpStatusError(404, "no").status == 404
