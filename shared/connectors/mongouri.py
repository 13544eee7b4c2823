"""MongoDB URIs and names, checked without network I/O: what a connection's configuration
may say (used by connectors/config.py when a connection is saved, and by the MongoDB
connector and change streams at run time)."""
from __future__ import annotations

import re
from typing import Any

from pymongo.errors import PyMongoError
from pymongo.uri_parser import parse_uri

_SRV = "mongodb+srv://"
_SRV_ONLY_OPTIONS = {"srvservicename", "srvmaxhosts"}
_BAD_DB_CHARS = re.compile(r'[/\\. "$\x00]')


def parse_mongo_uri(uri: str) -> dict:
    """pymongo's parse of a MongoDB URI, without network I/O: a mongodb+srv:// URI is checked
    for structure (one host, no port, valid options) rather than resolved through DNS.
    Raises ValueError with pymongo's message."""
    srv = uri.startswith(_SRV)
    check = uri
    if srv:
        body, _, opts = uri[len(_SRV):].partition("?")
        kept = [p for p in opts.split("&") if p and p.partition("=")[0].lower() not in _SRV_ONLY_OPTIONS]
        check = "mongodb://" + body + ("?" + "&".join(kept) if kept else "")
    try:
        parsed = parse_uri(check, default_port=None if srv else 27017)
    except (PyMongoError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(str(exc)) from exc
    if srv:
        nodes = parsed["nodelist"]
        if len(nodes) != 1 or nodes[0][1] is not None:
            raise ValueError("mongodb+srv:// URIs must name exactly one host and no port")
        if parsed["options"].get("directConnection"):
            raise ValueError("directConnection=true is not allowed with mongodb+srv:// URIs")
    return parsed


def mongo_name_problem(value: Any, what: str) -> str | None:
    if not isinstance(value, str) or not value:
        return f"must be a non-empty string ({what} name)"
    if what == "database":
        if len(value) > 63 or _BAD_DB_CHARS.search(value):
            return "must be at most 63 characters without / \\ . space \" $"
    elif "$" in value or "\x00" in value or value.startswith("system.") or len(value) > 255:
        return "must not contain '$', start with 'system.' or exceed 255 characters"
    return None
