"""Registry of feature extractors.

Adding an extractor is one module in `shared/extractors/builtin/` defining a subclass of
`Extractor` decorated with `@register`; modules there are imported on first lookup.
"""
from __future__ import annotations

import importlib
import pkgutil
import threading
from typing import TypeVar

from shared.extractors.base import Extractor

_REGISTRY: dict[tuple[str, str], Extractor] = {}
_LOADED = False
_LOCK = threading.Lock()

E = TypeVar("E", bound=type)


def register(cls: E) -> E:
    """Class decorator: instantiate and register an Extractor subclass under (name, version)."""
    inst = cls()
    key = (inst.spec.name, inst.spec.version)
    existing = _REGISTRY.get(key)
    if existing is not None and type(existing) is not cls:
        raise ValueError(f"extractor {key[0]} v{key[1]} is registered twice")
    _REGISTRY[key] = inst
    return cls


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in version.split("."))


def _ensure_loaded() -> None:
    global _LOADED
    if _LOADED:
        return
    with _LOCK:
        if _LOADED:
            return
        from shared.extractors import builtin  # the built-ins register themselves when first needed
        for mod in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda m: m.name):
            if not mod.name.startswith("_"):
                importlib.import_module(f"{builtin.__name__}.{mod.name}")
        _LOADED = True


def get_extractor(name: str, version: str | None = None) -> Extractor:
    """The extractor `name` at `version` (default: the highest version). KeyError if unknown."""
    _ensure_loaded()
    if version is not None:
        try:
            # "v1" and "1" name the same version: users write both.
            return _REGISTRY[(name, str(version).removeprefix("v"))]
        except KeyError:
            raise KeyError(f"unknown feature extractor {name!r} version {version!r}") from None
    versions = [v for (n, v) in _REGISTRY if n == name]
    if not versions:
        raise KeyError(f"unknown feature extractor {name!r}")
    return _REGISTRY[(name, max(versions, key=_version_key))]


def list_extractors() -> list[Extractor]:
    """Every registered extractor version, sorted by name then version."""
    _ensure_loaded()
    return [_REGISTRY[k] for k in sorted(_REGISTRY, key=lambda k: (k[0], _version_key(k[1])))]
