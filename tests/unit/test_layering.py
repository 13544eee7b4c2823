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
               # an external MongoDB is that connector's whole job; its URIs are parsed by pymongo
               "shared/connectors/mongodb.py", "shared/connectors/mongouri.py"}
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


def _project_modules() -> dict[str, Path]:
    mods = {}
    for layer in ("api", "shared", "workers", "cli", "sluice"):
        for path in (ROOT / layer).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


def _project_imports(path: Path, mods: dict[str, Path], tree: ast.AST | None = None) -> list[tuple[str, ast.AST]]:
    """(module, node) for every import of a project module, at any depth. `from pkg import sub`
    of a submodule depends on `pkg.sub` only (Python imports it even while `pkg` is loading)."""
    found = []
    for node in ast.walk(tree or ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, node) for a in node.names if a.name in mods]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in mods]
            targets = subs if subs and len(subs) == len(node.names) else [node.module, *subs]
            found += [(t, node) for t in targets if t in mods]
    return found


def _imports_inside_functions(path: Path, mods: dict[str, Path]) -> list[ast.AST]:
    tree = ast.parse(path.read_text(), filename=str(path))
    inner = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f)}
    return [node for _, node in _project_imports(path, mods, tree) if id(node) in inner]


def test_no_import_cycles():
    mods = _project_modules()
    graph = {name: {t for t, _ in _project_imports(path, mods) if t != name} for name, path in mods.items()}
    cycles = []

    def visit(node: str, trail: list[str], done: set[str]) -> None:
        if node in trail:
            cycles.append(trail[trail.index(node):] + [node])
            return
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, trail + [node], done)
        done.add(node)

    done: set[str] = set()
    for name in sorted(graph):
        visit(name, [], done)
    assert cycles == []


def test_function_level_imports_say_why():
    """An import inside a function is deliberate (a heavy or optional dependency, a plugin
    loaded on first use) and carries a comment saying so; everything else sits at the top."""
    mods = _project_modules()
    silent = []
    for name, path in mods.items():
        if name.startswith(("cli.", "sluice.", "workers.")):
            continue  # the command line and the SDK load commands and `rich` lazily for start-up time
        lines = path.read_text().splitlines()
        for node in _imports_inside_functions(path, mods):
            here, above = lines[node.lineno - 1], lines[node.lineno - 2] if node.lineno > 1 else ""
            if "#" not in here and not above.strip().startswith("#"):
                silent.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert silent == []


def test_only_stores_touch_a_stores_collection():
    """Nothing outside shared/stores reaches a store's pymongo collection (`stores.x.coll`):
    stores offer intent-named methods instead. (A connector to an external MongoDB has
    collections of its own, `self.coll`.)"""
    bad = []
    for layer in ("api", "workers", "shared"):
        for path in (ROOT / layer).rglob("*.py"):
            rel = str(path.relative_to(ROOT))
            if rel.startswith("shared/stores"):
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
                if isinstance(node, ast.Attribute) and node.attr == "coll" and not (
                        isinstance(node.value, ast.Name) and node.value.id == "self"):
                    bad.append(f"{rel}:{node.lineno}")
    assert bad == []


def test_stores_sit_below_the_engine_and_the_connectors():
    """Stores own the data; the engine and connectors use them, never the other way round."""
    bad = {}
    for path in (ROOT / "shared" / "stores").rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        hits = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                and n.module.startswith(("shared.engine", "shared.connectors"))}
        if hits:
            bad[str(path.relative_to(ROOT))] = sorted(hits)
    assert bad == {}
