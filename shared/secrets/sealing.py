"""Which values of a stored config are encrypted at rest. Pure functions over a SecretBox.

Exactly the values the masking rule hides (config.py): a mongodb `uri` and a webhook `url`
when they carry a password or a sensitive query value, a webhook `secret`, and header values
whose names look sensitive. Everything else stays readable in MongoDB (a plain URL helps
operators; ids and sizes are not secret).

`open_*` with `lenient=True` is for display: a value no configured key opens becomes the
mask, so the API can still list the connection (and a PATCH sending the mask back is told to
send the real secret) instead of failing. Workers open strictly and get UndecryptableSecret.
"""
from __future__ import annotations

from typing import Any, Callable

from shared.secrets.box import SecretBox, UndecryptableSecret
from shared.secrets.masking import MASK, is_sensitive_name, url_secrets

URL_FIELDS = {"mongodb": ("uri",), "webhook": ("url",)}


def _has_secret(value: Any) -> bool:
    return isinstance(value, str) and bool(url_secrets(value))


def _map_secrets(conn_type: str, config: dict, fn: Callable[[str], str], *, sealing: bool) -> dict:
    """A copy of `config` with `fn` applied to each secret-bearing value. When sealing, a URL
    is touched only if it holds a secret; when opening, any sealed value found is opened."""
    out = dict(config or {})
    for name in URL_FIELDS.get(conn_type, ()):
        value = out.get(name)
        if isinstance(value, str) and (not sealing or _has_secret(value)):
            out[name] = fn(value)
    if conn_type != "webhook":
        return out
    if isinstance(out.get("secret"), str) and out["secret"]:
        out["secret"] = fn(out["secret"])
    headers = out.get("headers")
    if isinstance(headers, dict):
        # Only sensitive names are ever sealed, so only they are opened: a harmless header
        # whose value happens to start with the prefix is never mistaken for ciphertext.
        out["headers"] = {k: fn(v) if is_sensitive_name(k) and isinstance(v, str) and v else v
                          for k, v in headers.items()}
    return out


def _opener(box: SecretBox, lenient: bool) -> Callable[[str], str]:
    def open_(value: str) -> str:
        try:
            return box.open(value)
        except UndecryptableSecret:
            if lenient:
                return MASK
            raise
    return open_


def seal_config(conn_type: str, config: dict, box: SecretBox) -> dict:
    """The config as stored: secret values encrypted. `config` holds plain values."""
    return _map_secrets(conn_type, config, box.seal, sealing=True)


def open_config(conn_type: str, config: dict, box: SecretBox, *, lenient: bool = False) -> dict:
    """The config with real values; legacy plain-text values pass through unchanged."""
    return _map_secrets(conn_type, config, _opener(box, lenient), sealing=False)


def seal_webhook(doc: dict, box: SecretBox) -> dict:
    """A completion-webhook subscription as stored (`url` and `secret` like a webhook config)."""
    sealed = seal_config("webhook", {"url": doc.get("url"), "secret": doc.get("secret")}, box)
    return {**doc, "url": sealed["url"], "secret": sealed["secret"]}


def open_webhook(doc: dict, box: SecretBox, *, lenient: bool = False) -> dict:
    opened = open_config("webhook", {"url": doc.get("url"), "secret": doc.get("secret")}, box, lenient=lenient)
    return {**doc, "url": opened["url"], "secret": opened["secret"]}


__all__ = ["seal_config", "open_config", "seal_webhook", "open_webhook"]
