"""The city wall in headless Chromium at 1920x1080, over a real uvicorn, a LiveState the test
feeds, and schools' names and areas read from a real SQLite database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.live import LiveState
from hub.services.people.manage import put_school
from hub.web.directory import SchoolDirectory

from .conftest import WallServer, make_app

LHP, TDN, TB, NEW = "thpt-le-hong-phong", "thpt-tran-dai-nghia", "thcs-tan-binh", "thcs-ben-thanh"
SCHOOLS = [
    (LHP, "THPT Chuyên Lê Hồng Phong", "Quận 5"),
    (TDN, "THPT Chuyên Trần Đại Nghĩa", "Q.1"),
    (TB, "THCS Tân Bình", "Quận Tân Bình"),
    # An area the map of former districts does not have: it must land in "other".
    (NEW, "THCS Bến Thành", "Phường Bến Thành"),
]
# (school, edge, room, CO2 ppm): one room of Lê Hồng Phong is over the 1500 ppm limit.
ROOMS = [
    (LHP, "p-10a1", "10A1", 820.0),
    (LHP, "lab-hoa", "Phòng Lab Hoá", 1720.0),
    (TDN, "p-11c3", "11C3", 1100.0),
    (TB, "p-6a1", "6A1", 690.0),
]
#: Figures must reach the page within this (the issue's bound), not the default 5 s.
WITHIN_MS = 2_000
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


def today() -> str:
    """Today in the city, as the ingest counts days."""
    from hub.ingest.service import CITY_TIMEZONE

    return datetime.now(CITY_TIMEZONE).date().isoformat()


def feed(live: LiveState) -> None:
    """Every room online with a reading, 12 arrivals and 1.234.000 đ of lunches."""
    now = datetime.now(UTC)
    for school, edge, room, co2 in ROOMS:
        live.update_edge(school, edge, state="online", ts=now)
        live.update_reading(school, edge, "co2-1", "co2", room, now, {"co2_ppm": co2})
    for i in range(12):
        live.record_decision(LHP if i % 2 else TDN, today(), "tap", arrival=True)
    for amount in (500_000, 434_000, 300_000):
        live.record_decision(LHP, today(), "pay", amount=amount)


@pytest.fixture
def city_server(live: LiveState, sqlite_url: str) -> Iterator[WallServer]:
    """The wall's router over ``live``, with schools' names and areas from a seeded database."""
    upgrade_to_head(sqlite_url)
    engine = make_engine(sqlite_url)
    with Session(engine) as session, session.begin():
        for school, name, area in SCHOOLS:
            put_school(session, school, name=name, area=area)
    app = make_app(live)
    app.state.school_directory = SchoolDirectory(engine)
    feed(live)
    server = WallServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        engine.dispose()


def open_city(page: Page, url: str) -> list[str]:
    """Open the city wall at 1920x1080; return a list that collects the page's script errors."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{url}/wall/city")
    expect(page.get_by_test_id("conn-state")).to_have_attribute("data-state", "live",
                                                                 timeout=10_000)
    expect(page.get_by_test_id("fig-students-present")).to_have_text("12", timeout=10_000)
    return errors


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def test_city_wall_shows_every_area_and_the_city_figures(page: Page,
                                                         city_server: WallServer) -> None:
    errors = open_city(page, city_server.url)
    expect(page.get_by_test_id("title")).to_have_text("Trung tâm điều hành — Toàn thành phố")
    assert page.evaluate("document.documentElement.lang") == "vi"
    # Every former district has its tile, plus "other"; none is fetched from the internet.
    assert page.locator("[data-testid^='area-'][data-area]").count() == 23
    expect(page.get_by_test_id("area-quan-5")).to_have_attribute("data-health", "good")
    expect(page.get_by_test_id("area-quan-5")).to_contain_text("Quận 5")
    expect(page.get_by_test_id("area-schools-quan-5")).to_have_text("1 trường")
    expect(page.get_by_test_id("area-online-quan-5")).to_have_text("2 / 2 trực tuyến")
    # "Q.1" and "Quận Tân Bình" are other spellings of tiles the map has.
    expect(page.get_by_test_id("area-schools-quan-1")).to_have_text("1 trường")
    expect(page.get_by_test_id("area-schools-tan-binh")).to_have_text("1 trường")
    # A school whose area is not on the map is counted in "other", never dropped.
    expect(page.get_by_test_id("area-schools-other")).to_have_text("1 trường")
    expect(page.get_by_test_id("area-go-vap")).to_have_attribute("data-health", "none")
    expect(page.get_by_test_id("fig-devices-online")).to_have_text("4 / 4")
    expect(page.get_by_test_id("fig-dong-today")).to_have_text("1.234.000 ₫")
    expect(page.get_by_test_id("fig-payments-per-min")).to_have_text("3")
    expect(page.get_by_test_id("fig-taps-per-min")).to_have_text("12")
    expect(page.get_by_test_id("fig-rooms-over-co2")).to_have_text("1")
    expect(page.get_by_test_id("fig-loans-today")).to_have_text("0")
    expect(page.get_by_test_id("fig-alerts-open")).to_have_text("0")
    expect(page.get_by_test_id("subtitle")).to_have_text("4 trường · 4 khu vực")
    expect(page.get_by_test_id(f"attention-{LHP}")).to_contain_text("1 phòng CO₂ cao")
    # One screen: nothing to scroll on the wall.
    assert page.evaluate("document.documentElement.scrollHeight") <= 1080
    assert page.evaluate("document.documentElement.scrollWidth") <= 1920
    screenshot(page, "city-wall.png")
    assert errors == []


def test_an_edge_going_offline_changes_its_areas_colour(page: Page, live: LiveState,
                                                        city_server: WallServer) -> None:
    open_city(page, city_server.url)
    area = page.get_by_test_id("area-quan-5")
    expect(area).to_have_attribute("data-health", "good")
    live.update_edge(LHP, "lab-hoa", state="offline", ts=datetime.now(UTC))
    # Half of District 5's edges are down: trouble, within the wall's two seconds.
    expect(area).to_have_attribute("data-health", "bad", timeout=WITHIN_MS)
    expect(page.get_by_test_id("area-online-quan-5")).to_have_text("1 / 2 trực tuyến")
    expect(page.get_by_test_id("fig-devices-online")).to_have_text("3 / 4")
    # The offline room's old reading no longer counts as a room over the limit now.
    expect(page.get_by_test_id("fig-rooms-over-co2")).to_have_text("0")
    expect(page.get_by_test_id(f"attention-{LHP}")).to_have_attribute("data-health", "bad")
    expect(page.get_by_test_id("area-quan-1")).to_have_attribute("data-health", "good")
    screenshot(page, "city-wall-offline.png")
    live.update_edge(LHP, "lab-hoa", state="online", ts=datetime.now(UTC))
    expect(area).to_have_attribute("data-health", "good", timeout=WITHIN_MS)


def test_a_tap_a_payment_a_loan_and_an_alert_move_the_figures(page: Page, live: LiveState,
                                                              city_server: WallServer) -> None:
    open_city(page, city_server.url)
    live.record_decision(TB, today(), "tap", arrival=True)
    expect(page.get_by_test_id("fig-students-present")).to_have_text("13", timeout=WITHIN_MS)
    expect(page.get_by_test_id("fig-taps-per-min")).to_have_text("13", timeout=WITHIN_MS)
    live.record_decision(TB, today(), "pay", amount=25_000)
    expect(page.get_by_test_id("fig-dong-today")).to_have_text("1.259.000 ₫", timeout=WITHIN_MS)
    expect(page.get_by_test_id("fig-payments-per-min")).to_have_text("4")
    # A tap that is not an arrival (a duplicate) is a tap, not one more student present.
    live.record_decision(TB, today(), "tap", arrival=False)
    expect(page.get_by_test_id("fig-taps-per-min")).to_have_text("14", timeout=WITHIN_MS)
    expect(page.get_by_test_id("fig-students-present")).to_have_text("13")
    live.record_decision(TB, today(), "loan")
    expect(page.get_by_test_id("fig-loans-today")).to_have_text("1", timeout=WITHIN_MS)
    live.set_open_alerts(TB, 1)
    expect(page.get_by_test_id("fig-alerts-open")).to_have_text("1", timeout=WITHIN_MS)
    expect(page.get_by_test_id("area-tan-binh")).to_have_attribute("data-health", "warn")
    expect(page.get_by_test_id("area-alerts-tan-binh")).to_have_text("⚠ 1")
    live.set_open_alerts(TB, 0)
    expect(page.get_by_test_id("area-tan-binh")).to_have_attribute("data-health", "good",
                                                                   timeout=WITHIN_MS)


def test_the_english_switch_changes_the_labels_and_is_remembered(
    page: Page, city_server: WallServer
) -> None:
    errors = open_city(page, city_server.url)
    students = page.locator("[data-i18n='studentsPresent']")
    expect(students).to_have_text("Học sinh có mặt hôm nay")
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("title")).to_have_text("Operations centre — City")
    expect(students).to_have_text("Students present today")
    expect(page.get_by_test_id("area-quan-5")).to_contain_text("District 5")
    expect(page.get_by_test_id("area-schools-quan-5")).to_have_text("1 school")
    expect(page.get_by_test_id("fig-dong-today")).to_have_text("1,234,000 ₫")
    expect(page.get_by_test_id("conn-state")).to_have_text("Live")
    expect(page.get_by_test_id("lang-toggle")).to_have_text("VI")
    assert page.evaluate("document.documentElement.lang") == "en"
    screenshot(page, "city-wall-en.png")
    # The wall PC keeps its language across a reload (a restart of the browser).
    page.reload()
    expect(page.get_by_test_id("title")).to_have_text("Operations centre — City")
    expect(page.get_by_test_id("fig-dong-today")).to_have_text("1,234,000 ₫", timeout=10_000)
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("title")).to_have_text("Trung tâm điều hành — Toàn thành phố")
    assert errors == []


def test_the_room_wall_and_the_city_wall_link_to_each_other(page: Page,
                                                            city_server: WallServer) -> None:
    open_city(page, city_server.url)
    page.get_by_test_id("link-rooms").click()
    expect(page).to_have_url(re.compile(r"/wall$"))
    expect(page.get_by_test_id(f"school-{LHP}")).to_be_visible(timeout=10_000)
    page.get_by_test_id("link-city").click()
    expect(page).to_have_url(re.compile(r"/wall/city$"))
    expect(page.get_by_test_id("fig-students-present")).to_have_text("12", timeout=10_000)
