"""The technicians' console in headless Chromium, against a real Mosquitto, a real hub process
(``python -m hub`` on SQLite) and a real edge agent process reading simulated sensors over
pseudo-terminals.

One technician's session: a refused token says why in Vietnamese; the edge shows online with its
devices' values; SIGKILL on the edge turns its row offline within seconds and opens an
"edge offline" alert (the city wall's area, devices-online and open-alert figures follow); the
restarted edge comes back and the alert resolves; a second outage's alert is acknowledged from
the page; ``identify`` is sent from the page and the edge's acknowledgement is shown. A 1920x1080
screenshot of each step goes to test-artifacts/ (or $SS_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy.orm import Session

from firmware_sim import make_simulator
from hub.auth import Role, TokenSigner
from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.services.people.manage import put_school
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.e2e.procs import ROOT, Child, edge_process, wait_until, write_toml
from tests.e2e.school import SECRET, Hub

SCHOOL, EDGE, ROOM = "thcs-tan-binh", "p-6a1", "6A1"
AREA_TILE = "tan-binh"  # the city wall's tile of "Quận Tân Bình"
TECHNICIAN = "kythuat.nguyen-van-an"
#: "Edge offline longer than N" with N of a few seconds: offline for 0 whole minutes, held for
#: 3 s before the alert opens (longer than a heartbeat, so a box's first heartbeat, sent before
#: its sensors' first reading, cannot open a device alert), and resolved 1 s after it clears.
#: Disk and CPU-temperature rules are off: they would judge the machine running the test.
OPEN_AFTER_S = 3
RULES = {
    "edge_offline_min": 0,
    "open_after_s": OPEN_AFTER_S,
    "clear_after_s": 1,
    "disabled": ["disk_full", "cpu_hot"],
}
OFFLINE_WITHIN_MS = 5_000
#: The rule's hold, one tick of the health monitor (1 s), one poll of the page (2 s), and 2 s of
#: slack for a busy machine.
ALERT_WITHIN_S = OPEN_AFTER_S + 5
BACK_WITHIN_MS = 25_000


def artifacts_dir() -> Path:
    """Where the step screenshots go."""
    path = Path(os.environ.get("SS_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def seed(db_url: str) -> None:
    """The school, with its area, as the department's registry would have it."""
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            put_school(session, SCHOOL, name="THCS Tân Bình", area="Quận Tân Bình")
    finally:
        engine.dispose()


class Api:
    """The hub's API with the technician's token, for checks beside the page."""

    def __init__(self, hub: Hub, token: str) -> None:
        self.client = httpx.Client(
            base_url=hub.url, timeout=5, headers={"Authorization": f"Bearer {token}"}
        )

    def edge(self) -> dict[str, Any] | None:
        """The test edge's summary in the health API, or None."""
        try:
            edges = self.client.get("/api/v1/health/edges").json()["edges"]
        except (httpx.HTTPError, KeyError):
            return None
        return next((e for e in edges if e["edge"] == EDGE), None)

    def alert(self, alert_id: int) -> dict[str, Any]:
        """One alert, as the API lists it."""
        alerts = self.client.get("/api/v1/health/alerts", params={"school": SCHOOL}).json()
        return next(a for a in alerts["alerts"] if a["id"] == alert_id)


@pytest.fixture
def rig(mosquitto: Mosquitto, sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Hub, Child, Api]]:
    """Hub and edge processes; the edge (CO2 and PM sensors on pseudo-terminals) is online."""
    seed(sqlite_url)
    hub = Hub(mosquitto.url, sqlite_url, tmp_path).start_ready()
    api = Api(hub, TokenSigner(SECRET).issue(TECHNICIAN, Role.TECHNICIAN, school=SCHOOL))
    saved = api.client.put(f"/api/v1/health/schools/{SCHOOL}/rules", json=RULES)
    assert saved.status_code == 200, saved.text
    config = write_toml(
        tmp_path / "edge.toml",
        {
            "school": SCHOOL,
            "edge": EDGE,
            "room": ROOM,
            "heartbeat_s": 1.5,
            "mqtt": {"url": mosquitto.url, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
            "outbox": {"path": str(tmp_path / "outbox.sqlite")},
            "devices": [
                {
                    "id": "co2-1",
                    "driver": "mhz19",
                    "port": str(tmp_path / "ttyCO2"),
                    "interval_s": 1,
                },
                {
                    "id": "pm-1",
                    "driver": "pms5003",
                    "port": str(tmp_path / "ttyPM"),
                    "interval_s": 1,
                },
            ],
        },
    )
    edge = edge_process(config, tmp_path)
    with (
        make_simulator("mhz19", tmp_path / "ttyCO2", seed=6),
        make_simulator("pms5003", tmp_path / "ttyPM", seed=6),
    ):
        edge.start()
        try:
            wait_until(
                lambda: (
                    (e := api.edge()) is not None
                    and e["state"] == "online"
                    and e["disk_pct"] is not None
                    and e["devices_total"] == 2
                ),
                30,
                "the edge online at the hub with a heartbeat",
            )
            yield hub, edge, api
        finally:
            if edge.alive():
                edge.terminate()
            api.client.close()
            assert hub.terminate() == 0, hub.log()[-3000:]


def shoot(page: Page, name: str) -> None:
    """A 1920x1080 screenshot of the page as it is now."""
    page.screenshot(path=str(artifacts_dir() / f"console-{name}.png"))


def open_alert(page: Page, rule: str, other_than: set[int]) -> int:
    """Wait for an open alert of ``rule`` not in ``other_than`` on the page; its id."""
    found: list[int] = []

    def appeared() -> bool:
        rows = page.locator(f'tr[data-rule="{rule}"][data-state="open"]')
        ids = [
            int(str(t).removeprefix("alert-"))
            for t in rows.evaluate_all("rows => rows.map(r => r.dataset.testid)")
        ]
        found[:] = [i for i in ids if i not in other_than]
        return bool(found)

    wait_until(appeared, ALERT_WITHIN_S, f"an open {rule} alert on the console")
    return found[0]


def fits(page: Page) -> bool:
    """Whether nothing sticks out sideways (no horizontal scroll bar)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_console_follows_an_edge_through_a_crash_alerts_and_a_command(
    page: Page, rig: tuple[Hub, Child, Api]
) -> None:
    hub, edge, api = rig
    # The page's policy keeps it on the hub's origin and out of frames; its static route
    # serves the console's own files and nothing else.
    served = httpx.get(f"{hub.url}/console", timeout=5)
    policy = served.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert (
        httpx.get(f"{hub.url}/console/static/console.js", timeout=5)
        .headers["content-type"]
        .startswith("text/javascript")
    )
    for name in ("console.html", "wall.js", "..%2Fconsole.py"):
        assert httpx.get(f"{hub.url}/console/static/{name}", timeout=5).status_code == 404, name
    requests: list[str] = []
    page_errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    # The refused tokens' 401/403 are logged by Chromium as failed loads; anything else (a
    # blocked script or style, say) is an error of the page.
    page.on(
        "console",
        lambda message: (
            page_errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.set_viewport_size({"width": 1920, "height": 1080})
    started = time.monotonic()

    # Sign-in: a bad token and a role that may not see devices are refused, in Vietnamese.
    page.goto(f"{hub.url}/console")
    expect(page.get_by_test_id("signin")).to_be_visible()
    page.get_by_test_id("signin-token").fill("khong-phai-ma")
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("signin-error")).to_contain_text(
        "Mã truy cập bị từ chối (401): Mã truy cập không hợp lệ"
    )
    cashier = TokenSigner(SECRET).issue("thu-ngan", Role.CASHIER, school=SCHOOL)
    page.get_by_test_id("signin-token").fill(cashier)
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("signin-error")).to_contain_text("không được xem thiết bị (403)")
    expect(page.get_by_test_id("console")).to_be_hidden()
    shoot(page, "0-signin-refused")
    token = TokenSigner(SECRET).issue(TECHNICIAN, Role.TECHNICIAN, school=SCHOOL)
    page.get_by_test_id("signin-token").fill(f"Bearer {token}\n")
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("whoami")).to_contain_text(f"{TECHNICIAN} · kỹ thuật viên")

    # 1. The edge is online, with its devices' latest values in the detail.
    row = page.get_by_test_id(f"edge-{SCHOOL}-{EDGE}")
    expect(row).to_have_attribute("data-state", "online")
    expect(page.get_by_test_id(f"edge-rooms-{SCHOOL}-{EDGE}")).to_have_text(ROOM)
    expect(page.get_by_test_id(f"edge-disk-{SCHOOL}-{EDGE}")).to_have_text(re.compile(r"^\d+ %$"))
    row.click()
    expect(page.get_by_test_id("detail-title")).to_have_text(f"{SCHOOL} / {EDGE}")
    expect(page.get_by_test_id("value-co2-1-co2_ppm")).to_have_text(re.compile(r"^\d[\d.]* ppm$"))
    expect(page.get_by_test_id("value-pm-1-pm25_ugm3")).to_have_text(re.compile(r"µg/m³$"))
    expect(page.get_by_test_id("device-health-co2-1")).to_have_text("Tốt")
    page.reload()  # the session and the chosen edge survive a reload of the tab
    expect(page.get_by_test_id("detail-title")).to_have_text(f"{SCHOOL} / {EDGE}")
    expect(page.get_by_test_id("count-online")).to_have_text("1")
    assert fits(page)
    shoot(page, "1-online")
    page.set_viewport_size({"width": 1366, "height": 768})
    expect(page.get_by_test_id("cmd-send")).to_be_visible()
    assert fits(page), "the console is wider than a 1366x768 screen"
    page.screenshot(path=str(artifacts_dir() / "console-1-online-1366x768.png"))
    page.set_viewport_size({"width": 1920, "height": 1080})

    city = page.context.new_page()
    city.set_viewport_size({"width": 1920, "height": 1080})
    # The operations centre's display, signed in with its own token: the technician's (one
    # school) does not open the city views.
    city.goto(hub.wall_login("city"))
    area = city.get_by_test_id(f"area-{AREA_TILE}")
    expect(area).to_have_attribute("data-health", "good", timeout=10_000)
    expect(city.get_by_test_id("fig-devices-online")).to_have_text("1 / 1")
    expect(city.get_by_test_id("fig-alerts-open")).to_have_text("0")
    shoot(city, "1-city")

    # 2. SIGKILL: the row turns offline within seconds and an "edge offline" alert opens.
    edge.kill()
    killed = time.monotonic()
    expect(row).to_have_attribute("data-state", "offline", timeout=OFFLINE_WITHIN_MS)
    offline_after = time.monotonic() - killed
    expect(page.get_by_test_id(f"edge-state-{SCHOOL}-{EDGE}")).to_have_text("Mất kết nối")
    expect(page.get_by_test_id(f"edge-since-{SCHOOL}-{EDGE}")).to_contain_text("từ")
    first = open_alert(page, "edge_offline", set())
    alert_after = time.monotonic() - killed
    expect(page.get_by_test_id(f"alert-message-{first}")).to_contain_text(f"Hộp {EDGE} mất kết nối")
    assert api.alert(first)["state"] == "open"
    expect(page.get_by_test_id("count-offline")).to_have_text("1")
    expect(page.get_by_test_id("devices-stale")).to_be_visible()
    shoot(page, "2-offline")
    city.bring_to_front()
    expect(area).to_have_attribute("data-health", "bad")
    expect(city.get_by_test_id("fig-devices-online")).to_have_text("0 / 1")
    expect(city.get_by_test_id("fig-alerts-open")).to_have_text("1")
    expect(city.get_by_test_id(f"area-alerts-{AREA_TILE}")).to_contain_text("1")
    shoot(city, "2-city")
    page.bring_to_front()

    # 3. Restarted: the row and the alert recover (the alert resolves by itself).
    edge.start()
    expect(row).to_have_attribute("data-state", "online", timeout=BACK_WITHIN_MS)
    page.get_by_test_id("alerts-filter").select_option("")  # every alert, resolved ones too
    expect(page.get_by_test_id(f"alert-state-{first}")).to_have_attribute(
        "data-state", "resolved", timeout=ALERT_WITHIN_S * 1000
    )
    expect(page.get_by_test_id(f"alert-ack-{first}")).to_be_hidden()
    expect(page.get_by_test_id("devices-stale")).to_be_hidden()
    assert api.alert(first)["resolved_at"] is not None
    shoot(page, "3-recovered")
    city.bring_to_front()
    expect(area).to_have_attribute("data-health", "good")
    expect(city.get_by_test_id("fig-devices-online")).to_have_text("1 / 1")
    expect(city.get_by_test_id("fig-alerts-open")).to_have_text("0")
    shoot(city, "3-city")
    page.bring_to_front()

    # 4. A second outage: its alert is acknowledged from the page.
    page.get_by_test_id("alerts-filter").select_option("active")
    edge.kill()
    second = open_alert(page, "edge_offline", {first})
    ack: Locator = page.get_by_test_id(f"alert-ack-{second}")
    expect(ack).to_have_text("Nhận xử lý")
    ack.click()
    expect(page.get_by_test_id(f"alert-state-{second}")).to_have_attribute("data-state", "acked")
    expect(page.get_by_test_id(f"alert-{second}")).to_contain_text(f"bởi {TECHNICIAN}")
    expect(ack).to_be_hidden()
    stored = api.alert(second)
    assert (stored["state"], stored["acked_by"]) == ("acked", TECHNICIAN)
    shoot(page, "4-acknowledged")
    edge.start()
    expect(row).to_have_attribute("data-state", "online", timeout=BACK_WITHIN_MS)

    # 5. identify, sent from the page: the edge's acknowledgement shows up, in both languages.
    page.get_by_test_id("cmd-select").select_option("identify")
    page.get_by_test_id("cmd-send").click()
    result = page.get_by_test_id("cmd-result")
    expect(result).to_have_attribute("data-state", "ok", timeout=10_000)
    expect(page.get_by_test_id("cmd-result-state")).to_have_text("Hộp đã thực hiện")
    expect(page.get_by_test_id("cmd-result-code")).to_have_text("cmd.ok")
    expect(page.get_by_test_id("cmd-result-msg")).to_have_text("Đã thực hiện lệnh")
    expect(page.get_by_test_id("cmd-result-data")).to_contain_text(f'"edge": "{EDGE}"')
    expect(page.get_by_test_id("cmd-result-meta")).to_contain_text(f"Gửi bởi {TECHNICIAN}")
    expect(page.get_by_test_id("cmd-history").locator("tr")).to_have_count(1)
    wait_until(
        lambda: "identify requested by command" in edge.log(),
        5,
        "the edge's log of the identify command",
    )
    shoot(page, "5-identify")
    page.get_by_test_id("lang-toggle").click()
    expect(page.get_by_test_id("cmd-result-msg")).to_have_text("Command done")
    expect(page.get_by_test_id("cmd-result-state")).to_have_text("Done by the box")
    expect(page.get_by_test_id(f"edge-state-{SCHOOL}-{EDGE}")).to_have_text("Online")
    shoot(page, "5-identify-en")
    # A box without an interactive board says so: the refusal shows as a failure, with its code.
    page.get_by_test_id("cmd-select").select_option("board.power")
    page.get_by_test_id("cmd-power").select_option("off")
    page.get_by_test_id("cmd-send").click()
    expect(result).to_have_attribute("data-state", "failed", timeout=10_000)
    expect(page.get_by_test_id("cmd-result-name")).to_have_text(
        f'board.power {{"on":false}} → {EDGE}'
    )
    expect(page.get_by_test_id("cmd-result-code")).to_have_text("cmd.unsupported")
    expect(page.get_by_test_id("cmd-result-msg")).to_have_text("Not supported by this edge")
    expect(page.get_by_test_id("cmd-history").locator("tr")).to_have_count(2)

    # Nothing came from anywhere but the hub, and the page raised no error.
    assert requests and all(url.startswith(hub.url) for url in requests), sorted(set(requests))
    assert page_errors == []
    print(
        f"offline shown after {offline_after:.1f} s, alert after {alert_after:.1f} s, "
        f"browser part {time.monotonic() - started:.1f} s"
    )
