"""Headless Chromium for checking that a dashboard really renders (TensorBoard, Visdom, Netron).

Playwright drives the system's Chromium (Debian package `chromium`); Playwright's own browser
download is neither needed nor possible offline. Screenshots are kept as test artifacts.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ENV = "WATCHTRAIN_CHROMIUM"
ARTIFACTS_ENV = "WATCHTRAIN_TEST_ARTIFACTS"
# Without these, Chromium keeps trying to reach Google's services, which a closed network refuses.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage"]


class BrowserUnavailable(Exception):
    """No usable Chromium; the message says how to install one."""


def chromium_path() -> str:
    for candidate in (os.environ.get(CHROMIUM_ENV), "chromium", "chromium-browser", "google-chrome"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    raise BrowserUnavailable("no Chromium found: install it with `sudo apt-get install chromium` "
                             f"(or `make setup` as root), or point {CHROMIUM_ENV} at a Chrome/Chromium binary")


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
