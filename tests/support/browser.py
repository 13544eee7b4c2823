"""Steps the console's browser tests take in chromium (the stack they run against is the
`stack` fixture in tests/browser/conftest.py)."""
from __future__ import annotations

from tests.support.processes import REPO

SCREENSHOTS = REPO / "docs" / "screenshots"


def sign_in(page, stack, key: str, path: str = "/ui/") -> None:
    page.goto(stack.base + path)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/ui/login" not in url)


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
