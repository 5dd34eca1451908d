"""Headless Chromium for the project's tests that a dashboard really renders (TensorBoard, Visdom,
Netron), and for tools/screenshot_failure_runs.py. Test code: it is not part of the package.

Playwright drives the system's Chromium (Debian package `chromium`, found by `watchtrain doctor`);
Playwright's own browser download is neither needed nor possible offline. Screenshots are kept as
test artifacts.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from watchtrain.doctor import BrowserUnavailable, chromium_path

ARTIFACTS_ENV = "WATCHTRAIN_TEST_ARTIFACTS"
# Without these, Chromium keeps trying to reach Google's services, which a closed network refuses.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage"]


@contextmanager
def headless_page(width: int = 1400, height: int = 900) -> Iterator["playwright.sync_api.Page"]:
    """A fresh page in a fresh headless Chromium profile."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BrowserUnavailable("the Python package playwright is missing: `pip install playwright` "
                                 "(no `playwright install` needed; the system Chromium is used)") from None
    executable = chromium_path()
    with tempfile.TemporaryDirectory(prefix="watchtrain-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height})
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def artifacts_dir() -> Path:
    """Where browser checks keep their screenshots: $WATCHTRAIN_TEST_ARTIFACTS or ./test-artifacts."""
    path = Path(os.environ.get(ARTIFACTS_ENV, "test-artifacts")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def record_requests_leaving(page, origin: str) -> list[str]:
    """Every request the page makes anywhere but `origin` (the local server), recorded and cut off:
    the list a test asserts empty to show that nothing leaves the machine."""
    outside: list[str] = []

    def route(route) -> None:
        if route.request.url.startswith(origin.rstrip("/")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return outside


def require_chromium() -> None:
    """A browser check needs Chromium: skipped on a laptop without it, failed in CI (which must run it)."""
    import pytest

    try:
        chromium_path()
    except BrowserUnavailable as err:
        if os.environ.get("CI"):
            pytest.fail(f"{err} (CI must run this check)")
        pytest.skip(str(err))
