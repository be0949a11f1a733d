"""The live wall in headless Chromium, over a real uvicorn and a LiveState that keeps changing."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser, Page, expect

from hub.live import LiveState

from .conftest import WallServer, make_app

if TYPE_CHECKING:
    from .conftest import Feeder

LHP = "thpt-le-hong-phong"
CO2_10A1 = f"value-{LHP}-p10a1-env1-co2_ppm"


def open_wall(page: Page, url: str) -> list[str]:
    """Open the wall and return a list that collects the page's script errors."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(url)
    expect(page.get_by_test_id(CO2_10A1)).to_contain_text("ppm", timeout=10_000)
    return errors


def test_values_appear_then_change(page: Page, wall_server: WallServer, feeder: Feeder) -> None:
    errors = open_wall(page, f"{wall_server.url}/wall")
    co2 = page.get_by_test_id(CO2_10A1)
    before = co2.inner_text()
    assert re.search(r"CO₂\s*\d+\s*ppm", before), before
    expect(co2).not_to_have_text(before, timeout=5_000)  # a later reading replaced it
    expect(page.get_by_test_id("conn-state")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("count-rooms")).to_have_text("4")
    expect(page.get_by_test_id("count-schools")).to_have_text("3")
    expect(page.get_by_test_id("count-devices-online")).to_have_text("8 / 8")
    expect(page.get_by_test_id(f"room-{LHP}-thu-vien")).to_have_text("Thư viện")
    expect(page.get_by_test_id(f"edge-state-{LHP}-p10a1")).to_have_text("Trực tuyến")
    expect(page.get_by_test_id(f"age-{LHP}-p10a1-env1")).to_have_text(re.compile(r"^\d+ s trước$"))
    expect(page.get_by_test_id("last-update")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
    assert errors == []


@pytest.mark.parametrize(
    ("edge", "device", "name", "level"),
    [
        ("p10a1", "env1", "co2_ppm", "good"),
        ("thu-vien", "env1", "co2_ppm", "warn"),
        ("p10a1", "pm1", "pm25_ugm3", "good"),
        ("thu-vien", "pm1", "pm25_ugm3", "warn"),
    ],
)
def test_values_are_coloured_by_threshold(
    page: Page,
    wall_server: WallServer,
    feeder: Feeder,
    edge: str,
    device: str,
    name: str,
    level: str,
) -> None:
    open_wall(page, f"{wall_server.url}/wall")
    value = page.get_by_test_id(f"value-{LHP}-{edge}-{device}-{name}")
    expect(value).to_have_attribute("data-level", level)
    bad = page.get_by_test_id(f"value-thpt-tran-dai-nghia-lab-hoa-{device}-{name}")
    expect(bad).to_have_attribute("data-level", "bad")
    assert "µg/m³" in page.get_by_test_id(f"value-{LHP}-p10a1-pm1-pm25_ugm3").inner_text()


def test_edge_going_offline_shows_offline(
    page: Page, wall_server: WallServer, feeder: Feeder
) -> None:
    open_wall(page, f"{wall_server.url}/wall")
    state = page.get_by_test_id(f"edge-state-{LHP}-thu-vien")
    expect(state).to_have_attribute("data-state", "online")
    feeder.set_edge_state(LHP, "thu-vien", "offline")
    expect(state).to_have_attribute("data-state", "offline")
    expect(state).to_have_text("Mất kết nối")
    expect(page.get_by_test_id(f"tile-{LHP}-thu-vien")).to_have_attribute("data-state", "offline")
    expect(page.get_by_test_id("count-edges-offline")).to_have_text("1")
    expect(page.get_by_test_id("count-devices-online")).to_have_text("6 / 8")


def test_english_switch_changes_the_labels(
    page: Page, wall_server: WallServer, feeder: Feeder
) -> None:
    open_wall(page, f"{wall_server.url}/wall")
    expect(page.get_by_test_id("title")).to_have_text("Trung tâm điều hành — Live wall")
    assert page.evaluate("document.documentElement.lang") == "vi"
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("title")).to_have_text("Operations centre — Live wall")
    expect(page.get_by_test_id(f"edge-state-{LHP}-p10a1")).to_have_text("Online")
    expect(page.get_by_test_id(f"age-{LHP}-p10a1-env1")).to_have_text(re.compile(r"^\d+ s ago$"))
    expect(page.get_by_test_id("conn-state")).to_have_text("Live")
    expect(page.get_by_test_id(f"value-{LHP}-p10a1-env1-temp_c")).to_contain_text("Temperature")
    assert "lang=en" in page.url
    assert page.title() == "Operations centre — Live wall"
    # A wall PC set up with ?lang=en starts in English.
    page.goto(f"{wall_server.url}/wall?lang=en")
    expect(page.get_by_test_id("title")).to_have_text("Operations centre — Live wall")
    expect(page.get_by_test_id("lang-toggle")).to_have_text("VI")


def test_wall_shows_reconnecting_then_recovers(
    page: Page, live: LiveState, wall_server: WallServer, feeder: Feeder
) -> None:
    open_wall(page, f"{wall_server.url}/wall")
    conn = page.get_by_test_id("conn-state")
    expect(conn).to_have_attribute("data-state", "live")
    wall_server.stop()
    expect(conn).to_have_attribute("data-state", "reconnecting", timeout=10_000)
    expect(conn).to_have_text("Đang kết nối lại")
    # The hub comes back (a new process: a new app) on the same address; the page reconnects
    # by itself and goes on.
    again = WallServer(make_app(live), port=wall_server.port)
    again.start()
    try:
        expect(conn).to_have_attribute("data-state", "live", timeout=10_000)
        co2 = page.get_by_test_id(CO2_10A1)
        before = co2.inner_text()
        expect(co2).not_to_have_text(before, timeout=5_000)
    finally:
        again.stop()


def test_wall_screenshot_at_1920x1080(
    browser: Browser, wall_server: WallServer, feeder: Feeder, request: pytest.FixtureRequest
) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN")
    try:
        page = context.new_page()
        feeder.set_edge_state("thcs-tan-binh", "can-tin", "offline")
        errors = open_wall(page, f"{wall_server.url}/wall")
        expect(page.get_by_test_id("edge-state-thcs-tan-binh-can-tin")).to_have_attribute(
            "data-state", "offline"
        )
        # Everything fits on the wall's one screen: nothing to scroll.
        assert page.evaluate("document.documentElement.scrollHeight") <= 1080
        artifacts = request.config.rootpath / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "wall.png"))
        assert errors == []
    finally:
        context.close()
