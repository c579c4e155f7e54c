"""Fixtures shared by the browser tests of this folder (the helpers themselves are in ``browser_testkit``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_testkit import launch


@pytest.fixture(scope="module")
def chromium(server: Any) -> Iterator[Any]:
    """One Chromium per test module, started after that module's own ``server`` fixture."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()
