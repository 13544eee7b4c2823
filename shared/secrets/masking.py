"""Secrets in connection configs: which names are sensitive, masking them for the API,
finding them in URLs (to scrub error messages). Pure functions; see config.py for the rules
a PATCH follows when it sends a masked value back."""
from __future__ import annotations

import re
from urllib.parse import unquote_plus, urlsplit

MASK = "****"

_SENSITIVE_PARTS = ("authorization", "password", "passwd", "secret", "token", "key", "signature",
                    "credential", "cookie")
_SENSITIVE_EXACT = frozenset({"auth", "sig", "pwd", "authmechanismproperties"})


def is_sensitive_name(name: str) -> bool:
    """Header or query-parameter names whose values are masked: `authorization`,
    `x-api-key`, anything containing token/secret/key/password/signature/credential/cookie."""
    n = name.lower()
    return n in _SENSITIVE_EXACT or any(p in n for p in _SENSITIVE_PARTS)


# -- URLs and URIs ---------------------------------------------------------------------------
def _split_authority(url: str) -> tuple[str, str, str] | None:
    """(scheme://, authority, rest) of a URL/URI, or None without a scheme. The userinfo
    ends at the last '@' before any '?'/'#', so an unescaped '/' in a password still
    counts as userinfo (masking errs on the side of hiding more)."""
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*://)(.*)$", url, re.S)
    if not m:
        return None
    scheme, tail = m.groups()
    pre = re.split(r"[?#]", tail, maxsplit=1)[0]
    at = pre.rfind("@")
    start = at + 1 if at >= 0 else 0
    slash = tail.find("/", start)
    cut = len(pre) if slash < 0 or slash > len(pre) else slash
    return scheme, tail[:cut], tail[cut:]


def _mask_query(query: str) -> str:
    out = []
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        out.append(f"{name}={MASK}" if eq and value and is_sensitive_name(name) else part)
    return "&".join(out)


def mask_url(url: str) -> str:
    """`scheme://user:pass@host/p?token=x` → `scheme://user:****@host/p?token=****`."""
    if not isinstance(url, str):
        return url
    parts = _split_authority(url)
    if parts is None:
        return url
    scheme, authority, rest = parts
    if "@" in authority:
        userinfo, _, hosts = authority.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        authority = f"{user}:{MASK}@{hosts}" if colon else f"{userinfo}@{hosts}"
    path, q, query = rest.partition("?")
    if q:
        query, h, frag = query.partition("#")
        rest = f"{path}?{_mask_query(query)}{h}{frag}"
    return scheme + authority + rest


def url_secrets(url: str) -> list[str]:
    """The raw secret substrings of a URL (password, sensitive query values), to scrub
    from error messages; both as written and percent-decoded."""
    found: list[str] = []
    parts = _split_authority(url) if isinstance(url, str) else None
    if parts is None:
        return found
    _, authority, rest = parts
    if "@" in authority:
        userinfo = authority.rpartition("@")[0]
        if ":" in userinfo:
            found.append(userinfo.partition(":")[2])
    query = rest.partition("?")[2].partition("#")[0]
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        if eq and value and is_sensitive_name(name):
            found.append(value)
    found += [unquote_plus(s) for s in found]
    return [s for s in dict.fromkeys(found) if s and s != MASK]


def has_masked_parts(url: str) -> bool:
    parts = _split_authority(url) if isinstance(url, str) else None
    if parts is None:
        return False
    _, authority, rest = parts
    if "@" in authority and authority.rpartition("@")[0].partition(":")[2] == MASK:
        return True
    query = rest.partition("?")[2].partition("#")[0]
    return any(p.partition("=")[2] == MASK and is_sensitive_name(p.partition("=")[0])
               for p in query.split("&"))


def scrub(text: str, secrets: list[str]) -> str:
    """Replace every secret (longest first) in `text` with ****."""
    for s in sorted(set(secrets), key=len, reverse=True):
        if len(s) >= 4:
            text = text.replace(s, MASK)
        elif s:  # too short to replace everywhere: only where it sits in a URL
            text = text.replace(f":{s}@", f":{MASK}@").replace(f"={s}", f"={MASK}")
    return text


def config_secrets(conn_type: str, config: dict) -> list[str]:
    """Every secret string of a stored config, for scrubbing messages."""
    if conn_type == "mongodb":
        return url_secrets(config.get("uri") or "")
    if conn_type == "webhook":
        out = url_secrets(config.get("url") or "")
        if config.get("secret"):
            out.append(config["secret"])
        out += [v for k, v in (config.get("headers") or {}).items() if is_sensitive_name(k) and v]
        return out
    return []


def url_origin(url: str) -> tuple[str, str | None, int | None] | None:
    try:
        p = urlsplit(url)
        return p.scheme.lower(), (p.hostname or "").lower(), p.port
    except ValueError:
        return None


# -- masking for the API -------------------------------------------------------------------
def mask_config(conn_type: str, config: dict) -> dict:
    out = dict(config or {})
    if conn_type == "mongodb" and "uri" in out:
        out["uri"] = mask_url(out["uri"])
    elif conn_type == "webhook":
        if "url" in out:
            out["url"] = mask_url(out["url"])
        out["has_secret"] = bool(out.get("secret"))
        out["secret"] = MASK if out.get("secret") else None
        out["headers"] = {k: (MASK if is_sensitive_name(k) else v)
                          for k, v in (out.get("headers") or {}).items()}
    return out
