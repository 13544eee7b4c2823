"""The README is the front door and docs/ the manual: every page is linked, every link and
anchor resolves, and the configuration table is the one the declarations produce."""
import re
from pathlib import Path

from shared.settings import ENV_DOCS, Settings, declared, markdown_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_configuration_table_is_generated_from_the_declarations():
    readme = (ROOT / "docs" / "configuration.md").read_text()
    begin, end = "<!-- settings-table", "<!-- /settings-table -->"
    block = readme[readme.index(begin):readme.index(end)]
    table = block[block.index("\n") + 1:].rstrip("\n")
    assert table == markdown_table(), "docs/configuration.md is stale: paste the output of `python -m shared.settings`"
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


def _anchors(text: str) -> set[str]:
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_every_doc_page_is_linked_from_the_readme_and_every_link_resolves():
    readme = (ROOT / "README.md").read_text()
    pages = sorted((ROOT / "docs").glob("*.md"))
    assert len(pages) >= 8 and len(readme.splitlines()) < 200
    unlinked = [p.name for p in pages if f"docs/{p.name}" not in readme]
    assert unlinked == []
    broken = []
    for page in [ROOT / "README.md", *pages]:
        text = page.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest.read_text()):
                broken.append(f"{page.name}: {target}")
    assert broken == []
