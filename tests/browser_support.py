"""What the page tests share: Debian's Chromium, driven headless by Playwright over CDP."""

from __future__ import annotations

import os
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Chromium's command-line flags for a test: headless, no sandbox (root in a container), no network of its own."""


def playwright_or_skip() -> Any:
    """Playwright's ``async_playwright``, for a module of page tests: skips the module when Chromium or
    Playwright is missing on a developer's machine.

    :raises RuntimeError: under CI (``CI`` set) when Chromium is missing (``.ci/run`` installs it)
    """
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
    return pytest.importorskip("playwright.async_api").async_playwright
