"""Secrets at rest: symmetric encryption of single string values before they reach MongoDB.

Fernet (AES-128-CBC + HMAC-SHA256, from the audited `cryptography` package) rather than
anything hand-made; MultiFernet gives key rotation: the first key encrypts, every key
decrypts. A stored value reads `enc:v1:<fernet token>`, so encrypted and legacy plain-text
values can sit side by side: `open` passes a value without the prefix through unchanged
(no migration) and the next write of that field stores it encrypted.

Keys come from SLUICE_SECRET_KEY (comma-separated Fernet keys). Without it, a key is derived
from SLUICE_ADMIN_KEY so local development works out of the box; that is logged as a warning,
because rotating the admin key would then make every stored secret unreadable.
"""
from __future__ import annotations

import base64
import logging
from typing import Any, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from shared.errors import UserError

PREFIX = "enc:v1:"
GENERATE_HINT = ('generate one with: python -c "from cryptography.fernet import Fernet; '
                 'print(Fernet.generate_key().decode())"')
log = logging.getLogger("sluice.secretbox")


class UndecryptableSecret(UserError):
    """A stored value carries the prefix but none of the configured keys opens it."""


def parse_keys(raw: str | None) -> tuple[str, ...]:
    """SLUICE_SECRET_KEY → keys, first one first (it encrypts); blanks ignored."""
    return tuple(k.strip() for k in (raw or "").split(",") if k.strip())


def key_problem(key: str) -> str | None:
    """Why `key` is not a usable Fernet key (32 url-safe base64 bytes), or None."""
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        return "is not a Fernet key (32 url-safe base64-encoded bytes)"
    return None


def generate_key() -> str:
    return Fernet.generate_key().decode()


def derive_dev_key(admin_key: str) -> str:
    """A Fernet key derived from the admin key (HKDF-SHA256, a label of its own so the
    derived key says nothing about the admin key). Only for set-ups without SLUICE_SECRET_KEY."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"sluice-secretbox",
                info=b"sluice dev secret key v1")
    return base64.urlsafe_b64encode(hkdf.derive(admin_key.encode())).decode()


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


class SecretBox:
    """Seals and opens single string values with a fixed list of keys."""

    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise ValueError("SecretBox needs at least one key")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, plain: str) -> str:
        """Always encrypts, even a value that already looks sealed: what the caller hands in
        is plain text by contract, so a secret that happens to start with the prefix survives."""
        return PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def open(self, value: Any) -> Any:
        """The plain text of a sealed value; anything else (legacy plain text, None) as is."""
        if not is_sealed(value):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX):].encode()).decode()
        except InvalidToken:
            raise UndecryptableSecret("a stored secret cannot be decrypted with the configured "
                                      "SLUICE_SECRET_KEY (was the key changed or removed?)") from None


def box_for(settings: Any) -> SecretBox:
    """The box a process uses: SLUICE_SECRET_KEY's keys, else the admin-key-derived dev key
    with a warning (said at every start, so a production deployment without a key hears it)."""
    keys = tuple(getattr(settings, "secret_keys", ()) or ())
    if keys:
        return SecretBox(keys)
    admin_key = getattr(settings, "admin_key", "") or ""
    if admin_key:
        log.warning("SLUICE_SECRET_KEY is not set: connection and webhook secrets are encrypted with a "
                    "key derived from SLUICE_ADMIN_KEY, so changing the admin key makes them unreadable. "
                    "Set SLUICE_SECRET_KEY in production; %s", GENERATE_HINT)
    else:
        log.error("SLUICE_SECRET_KEY and SLUICE_ADMIN_KEY are both unset: secrets are encrypted with a "
                  "fixed, publicly known key. Set SLUICE_SECRET_KEY; %s", GENERATE_HINT)
    return SecretBox((derive_dev_key(admin_key),))


__all__ = ["PREFIX", "SecretBox", "UndecryptableSecret", "box_for", "derive_dev_key", "generate_key",
           "is_sealed", "key_problem", "parse_keys"]
