"""The one dependency rule, checked by walking imports: api never imports workers,
workers never import Flask or api, shared imports neither Flask, Celery, api nor workers,
none of the server's layers imports the CLI (which imports neither Flask nor Celery), the
sluice SDK imports nothing of the server, and pymongo collections are only touched inside
shared/stores."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "api": {"workers", "cli"},
    "workers": {"flask", "api", "werkzeug", "cli"},
    "shared": {"flask", "celery", "api", "workers", "werkzeug", "kombu", "cli"},
    "cli": {"flask", "celery", "api", "workers", "werkzeug", "kombu"},
}
# The SDK ships on its own: the standard library, requests, and rich (optional, imported lazily).
SDK_MAY_IMPORT = {"sluice", "requests", "rich"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    mods: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.add(node.module.split(".")[0])
    return mods


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_do_not_reach_where_they_must_not(layer):
    bad = {}
    for path in (ROOT / layer).rglob("*.py"):
        hits = imported_modules(path) & FORBIDDEN[layer]
        if hits:
            bad[str(path.relative_to(ROOT))] = sorted(hits)
    assert bad == {}


def test_the_sdk_imports_only_the_stdlib_requests_and_rich():
    bad = {}
    for path in (ROOT / "sluice").rglob("*.py"):
        hits = {m for m in imported_modules(path) if m not in sys.stdlib_module_names} - SDK_MAY_IMPORT
        if hits:
            bad[str(path.relative_to(ROOT))] = sorted(hits)
    assert bad == {}
    assert list((ROOT / "sluice").rglob("*.py"))


def test_pymongo_only_in_stores_and_infrastructure():
    allowed = {"shared/stores", "cli/localservices.py", "shared/retry.py", "api/errors.py",
               "shared/connectors/mongodb.py"}  # an external MongoDB is that connector's whole job
    bad = []
    for layer in ("api", "workers", "shared", "cli"):
        for path in (ROOT / layer).rglob("*.py"):
            rel = str(path.relative_to(ROOT))
            if any(rel.startswith(a) for a in allowed):
                continue
            if "pymongo" in imported_modules(path):
                bad.append(rel)
    assert bad == []


def test_importing_the_app_modules_has_no_side_effects():
    # Settings are never read at import: no module-level Settings.from_env() in api/ or shared/.
    offenders = []
    for layer in ("api", "shared"):
        for path in (ROOT / layer).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in tree.body:
                if isinstance(node, (ast.Assign, ast.Expr)) and "from_env" in ast.dump(node):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
