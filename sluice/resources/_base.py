"""What every resource group shares: the transport and a way to write bodies."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sluice._http import Transport


def seg(ref: str) -> str:
    """A path segment: ids and names are quoted so a name with '/' cannot change the route."""
    return quote(str(ref), safe="")


def body(**fields: Any) -> dict:
    """A request body of the arguments given (None: leave the server's default)."""
    return {k: v for k, v in fields.items() if v is not None}


class Resource:
    def __init__(self, http: Transport):
        self._http = http
