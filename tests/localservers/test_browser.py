"""Headless Chromium renders pages, and async tests still run after sync browser tests."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from playwright.sync_api import Page

HTML = """<!doctype html><meta charset="utf-8">
<h1>Trường THPT Chuyên Lê Hồng Phong</h1>
<p id="n"></p>
<script>document.getElementById("n").textContent = String(6 * 7);</script>
"""


def test_renders_a_data_url(page: Page) -> None:
    page.goto("data:text/html;charset=utf-8," + quote(HTML))
    assert page.inner_text("h1") == "Trường THPT Chuyên Lê Hồng Phong"
    # The script ran: the page is really rendered, not just parsed.
    assert page.inner_text("#n") == "42"


async def test_async_test_runs_after_a_browser_test() -> None:
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, lambda: 6 * 7) == 42


def test_browser_again_after_an_async_test(page: Page) -> None:
    page.set_content("<title>Thư viện</title><p>ok</p>")
    assert page.title() == "Thư viện"
