"""A real browser for the portal's tests: Debian's chromium driven by Playwright.

Never a downloaded browser: `executable_path` is the system's chromium
(`make test` installs it through APT_PACKAGES). A browser that cannot start
FAILS the tests (the portal is part of the product), it never skips them.

`check_page` saves a screenshot of the page into tests/artifacts/portal/ and
runs axe-core (vendored in support/axe/, MPL-2.0) against WCAG 2.1 A and AA:
a serious or critical violation fails the test. axe is evaluated through the
DevTools protocol, which the pages' Content-Security-Policy does not govern,
so the pages are checked with their real CSP on.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from support import kivy_env

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SIZES = {"390x844": PHONE, "1280x800": DESKTOP}
AXE = Path(__file__).resolve().parent / "axe" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WAIT_MS = 15_000  # generous for a busy 2-core machine


def launch(playwright: Any) -> Any:
    path = shutil.which("chromium") or CHROMIUM
    try:
        return playwright.chromium.launch(executable_path=path, args=ARGS, headless=True)
    except Exception as exc:  # the browser is part of the product's tests: fail loudly
        pytest.fail(f"chromium could not start ({path}): {exc}", pytrace=False)


def artifacts() -> Path:
    path = kivy_env.artifacts_dir() / "portal"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of WCAG 2.1 A/AA on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate("(src) => { (0, eval)(src); }", AXE.read_text(encoding="utf-8"))
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
                           ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
                           " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))", AXE_TAGS)
    return [v for v in result if v["impact"] in ("serious", "critical")]


def check_page(page: Any, name: str) -> Path:
    """Screenshot (full page) into the artifacts, then the accessibility check; returns the file."""
    size = page.viewport_size
    safe = re.sub(r"[^a-z0-9_-]+", "-", name.lower())
    shot = artifacts() / f"{safe}-{size['width']}x{size['height']}.png"
    page.screenshot(path=str(shot), full_page=True)
    problems = run_axe(page)
    assert not problems, f"{name}: accessibility violations\n{json.dumps(problems, indent=1)}"
    return shot
