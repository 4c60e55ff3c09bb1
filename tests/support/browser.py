"""Headless Chromium for tests of static HTML (the fairness report): the system's browser, driven by Playwright.

    with browser.launch() as chromium:                 # skips (locally) / fails (CI) without chromium
        page = browser.open_page(chromium, "report.html", fragment="threshold=0.75")
        page.errors, page.requests, page.failures      # console errors + uncaught exceptions; URLs requested;
                                                       # {url: reason} of requests that failed (e.g. "csp")

Nothing is installed here: `.ci/run` installs chromium (tests.support.system_tools), and Playwright's own browser
downloads are never used (executable_path is the system's Chromium).
"""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
from typing import Any

import pytest

from tests.support.system_tools import require

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def launch():
    path = require("chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: make install (the "
                                   "[dev] extra)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, headless=True, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclasses.dataclass
class OpenPage:
    page: Any  # playwright.sync_api.Page
    errors: list[str]
    requests: list[str]
    failures: dict[str, str]


def open_page(chromium, path, *, fragment: str = "", query: str = "", javascript: bool = True,
              width: int = 1280, height: int = 1000) -> OpenPage:
    """`path` loaded from file:// in a fresh context (JavaScript on or off), with its console errors, uncaught
    exceptions, requested URLs and failed requests recorded from the start."""
    context = chromium.new_context(java_script_enabled=javascript, viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    failures: dict[str, str] = {}
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: failures.__setitem__(request.url, request.failure))
    url = pathlib.Path(path).resolve().as_uri() + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")
    page.goto(url, wait_until="load")
    return OpenPage(page, errors, requests, failures)
