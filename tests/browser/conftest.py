"""Playwright driving Debian's Chromium, with axe-core from npm for accessibility checks.

Without Chromium or axe-core these tests skip with the reason printed, unless
TANDEM_REQUIRE_BROWSER=1 (as in CI), when they fail instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("TANDEM_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if not AXE.exists():
        return f"axe-core not found at {AXE} (npm ci)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _missing()
    if reason:
        if os.environ.get("TANDEM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required but {reason}")
        print(f"\nSkipping browser tests: {reason}")
        pytest.skip(reason)
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield instance
        instance.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def live_world(transactional_db, live_server):
    from tests.conftest import build_world

    return build_world()


class Visit:
    """A signed-in browser tab with helpers to check accessibility and take screenshots."""

    def __init__(self, page, base_url):
        self.page = page
        self.base = base_url

    def go(self, path):
        response = self.page.goto(self.base + path)
        return response

    def sign_in(self, username, password):
        self.go("/accounts/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("main button[type=submit]")

    def tab_to(self, element_id, limit=500):
        """Press Tab until the element with this id has focus (keyboard-only journeys)."""
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            if self.page.evaluate("document.activeElement.id") == element_id:
                return
        raise AssertionError(f"could not reach #{element_id} with Tab")

    def axe(self):
        self.page.add_script_tag(path=str(AXE))
        result = self.page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
        )
        problems = [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(n["target"]) for n in v["nodes"][:3])
            for v in result["violations"]
        ]
        assert problems == [], f"axe violations on {self.page.url}:\n" + "\n".join(problems)

    def screenshot(self, name):
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def visit(browser, live_server):
    def open_tab(viewport=(1280, 900), javascript=True):
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            bypass_csp=True,  # only so the test can inject axe-core; the app's CSP stays on
            java_script_enabled=javascript,
        )
        contexts.append(context)
        return Visit(context.new_page(), live_server.url)

    contexts = []
    yield open_tab
    for context in contexts:
        context.close()
