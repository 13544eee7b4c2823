"""The README is the manual: its configuration table is the one the declarations produce."""
from pathlib import Path

from shared.settings import ENV_DOCS, Settings, declared, markdown_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_configuration_table_is_generated_from_the_declarations():
    readme = (ROOT / "README.md").read_text()
    begin, end = "<!-- settings-table", "<!-- /settings-table -->"
    block = readme[readme.index(begin):readme.index(end)]
    table = block[block.index("\n") + 1:].rstrip("\n")
    assert table == markdown_table(), "README table is stale: paste the output of `python -m shared.settings`"
    assert len(ENV_DOCS) > 20


def test_every_declared_variable_is_read_by_from_env():
    env = {name: "" for name, _, _ in declared()}
    defaults = Settings.from_env({})
    # Each variable changes its own field: from_env reads exactly what is declared.
    for name, default, _ in declared():
        if isinstance(default, bool):
            raw = "false" if default else "true"
        elif isinstance(default, (int, float)):
            raw = str(default + 1)
        else:
            continue
        changed = Settings.from_env({**env, name: raw})
        assert changed != defaults, name
