"""Headless Chromium for the web tests and bench/web.py: Debian's ``chromium`` driven by Playwright.

``playwright install`` is never needed: the browser is the system's (``apt-get install chromium``). Where it or
Playwright is missing, :func:`require` skips with the reason, except under ``RESNETDSL_REQUIRE_BROWSER=1``
(what ``.ci/run`` sets), where it fails: in CI the browser tests never silently skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRED = "RESNETDSL_REQUIRE_BROWSER"


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; it is in the test extra)"
    if chromium() is None:
        return "no chromium on PATH (apt-get install -y chromium)"
    return None


def require() -> None:
    """Skip (or, under RESNETDSL_REQUIRE_BROWSER=1, fail) when the browser cannot run."""
    import pytest

    why = missing()
    if why is None:
        return
    if os.environ.get(REQUIRED) == "1":
        pytest.fail(f"{REQUIRED}=1 but the browser tests cannot run: {why}")
    pytest.skip(why)


@contextmanager
def launched() -> Iterator[Any]:
    """One headless Chromium (a Playwright ``Browser``) for the block."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class Console:
    """Everything a page says on its console, and its uncaught errors."""

    def __init__(self, page: Any) -> None:
        self.messages: list[tuple[str, str]] = []
        page.on("console", lambda m: self.messages.append((m.type, m.text)))
        page.on("pageerror", lambda e: self.messages.append(("pageerror", str(e))))

    def errors(self) -> list[tuple[str, str]]:
        return [(kind, text) for kind, text in self.messages if kind in ("error", "pageerror", "warning")]


def drawn_count(page: Any) -> int:
    return int(page.get_attribute("#rd-root", "data-drawn") or 0)


def wait_redrawn(page: Any, before: int, timeout_ms: int = 20_000) -> None:
    """Wait until the viewer has drawn again since it had drawn ``before`` times."""
    page.wait_for_selector(f"#rd-root:not([data-drawn='{before}'])", timeout=timeout_ms)


def centre_of(page: Any, selector: str) -> tuple[float, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def not_blank(path: Path) -> bool:
    """A screenshot that shows something: more than 1 % of its pixels differ from its most common colour."""
    from PIL import Image

    with Image.open(path) as im:
        small = im.convert("RGB").resize((200, 200))
        counts = small.getcolors(200 * 200) or []
    top = max(n for n, _ in counts)
    return len(counts) > 16 and top < 0.99 * 200 * 200
