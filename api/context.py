"""What a request handler reaches: settings, stores and the task sender of this app."""
from __future__ import annotations

from typing import Any

from flask import current_app

from shared.settings import Settings
from shared.stores import Stores


def settings() -> Settings:
    return current_app.config["SLUICE_SETTINGS"]


def stores() -> Stores:
    return current_app.extensions["sluice.stores"]


def tasks() -> Any:
    """The TaskSender (enqueue by task name); see api/queue.py."""
    return current_app.extensions["sluice.tasks"]
