"""The README's demo, run as a user runs it: a live wall whose values change, students whose
taps and payments count up, the till's own screen, and a clean stop."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from smartschool_cli.demo_school import SCHOOL_ID, TILL, demo_rooms
from smartschool_cli.localservers.base import free_port
from tests.e2e.procs import ROOT, wait_until


def _read_lines(stream: object, sink: list[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sink.append(line)


def _last_answer(screen: str) -> dict[str, Any] | None:
    with urllib.request.urlopen(f"{screen}/api/last?device={TILL}", timeout=5) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def _count(text: str) -> int:
    return int(re.sub(r"\D", "", text) or 0)


def test_demo_school_live_wall_updates_and_stops_cleanly(page: Page, tmp_path: Path) -> None:
    http_port, mqtt_port = free_port(), free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "smartschool_cli.main", "demo", "--http-port", str(http_port),
         "--mqtt-port", str(mqtt_port), "--data-dir", str(tmp_path / "demo"), "--speed", "600"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
    )
    output: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(demo.stdout, output), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 90
        wall = None
        while wall is None and time.monotonic() < deadline and demo.poll() is None:
            # The sign-in link the banner prints for the wall (its token kept in a cookie).
            match = re.search(r"(http://127\.0\.0\.1:\d+/wall/login\?token=[\w.-]+&next=wall)",
                              "".join(output))
            wall = match.group(1) if match else None
            time.sleep(0.1)
        assert wall, f"the demo printed no live-wall URL:\n{''.join(output)}"
        assert f"mqtt://127.0.0.1:{mqtt_port}" in "".join(output)

        page.goto(wall)
        expect(page).to_have_url(re.compile(r"/wall$"))
        room = demo_rooms(3)[0]
        co2 = page.get_by_test_id(f"value-{SCHOOL_ID}-{room.edge}-co2-1-co2_ppm")
        expect(co2).to_have_text(re.compile(r"\d"), timeout=30_000)
        first = co2.inner_text()
        expect(co2).not_to_have_text(first, timeout=30_000)
        pm25 = page.get_by_test_id(f"value-{SCHOOL_ID}-{room.edge}-pm-1-pm25_ugm3")
        expect(pm25).to_have_text(re.compile(r"\d"), timeout=30_000)
        for other in demo_rooms(3)[1:]:
            expect(page.get_by_test_id(f"edge-state-{SCHOOL_ID}-{other.edge}")).to_have_attribute(
                "data-state", "online", timeout=15_000
            )
        # Simulated students tap in at the gate and the doors and pay at the canteen.
        taps = page.get_by_test_id("count-taps-today")
        expect(taps).not_to_have_text(re.compile(r"^0$"), timeout=20_000)
        seen = _count(taps.inner_text())
        expect(taps).not_to_have_text(taps.inner_text(), timeout=15_000)
        assert _count(taps.inner_text()) > seen
        dong = page.get_by_test_id("count-dong-today")
        expect(dong).to_have_text(re.compile(r"[1-9]"), timeout=30_000)
        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.screenshot(path=str(artifacts / "demo-wall.png"))

        match = re.search(r"Till screen[^\n]*?(http://127\.0\.0\.1:\d+)/device/" + TILL,
                          "".join(output))
        assert match, f"the demo printed no till screen URL:\n{''.join(output)}"
        screen = match.group(1)
        paid: dict[str, Any] = {}

        def approved() -> bool:
            last = _last_answer(screen)
            if last is not None and last["code"] == "approved":
                paid.update(last)
            return bool(paid)

        wait_until(approved, 30, "an approved payment on the till's screen")
        assert paid["data"]["name"] and paid["data"]["amount"] > 0, paid
        page.goto(f"{screen}/device/{TILL}")
        expect(page.get_by_test_id("answer-name")).not_to_have_text("", timeout=30_000)
        expect(page.get_by_test_id("answer-amount")).to_have_text(re.compile(r"\d"))
        page.screenshot(path=str(artifacts / "demo-till.png"))
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(60)
        reader.join(5)
    text = "".join(output)
    assert code == 0, text
    assert "Stopped cleanly" in text
    assert "Traceback" not in text, text


def test_demo_school_is_seeded_through_the_importer_once(tmp_path: Path) -> None:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from hub.db.engine import make_engine
    from hub.db.ledger import AccountRow, TransactionRow
    from hub.db.migrate import upgrade_to_head
    from hub.db.people import CardRow, ClassRow, StudentRow, TimetableRow
    from smartschool_cli.demo_seed import seed_demo_school

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    rooms = demo_rooms(4)  # 10A1, 11C3, the lab, 12A2

    def counts() -> dict[str, int]:
        with Session(engine) as session:
            return {row.__name__: session.scalar(select(func.count()).select_from(row)) or 0
                    for row in (StudentRow, CardRow, ClassRow, TimetableRow, TransactionRow)} | {
                "money": session.scalar(select(func.sum(AccountRow.balance))
                                        .where(AccountRow.kind == "wallet")) or 0}

    try:
        first = seed_demo_school(engine, rooms, tmp_path / "files")
        after_first = counts()
        again = seed_demo_school(engine, rooms, tmp_path / "files")
        assert counts() == after_first
    finally:
        engine.dispose()
    assert [r.created for r in first.reports] == [r.created + r.unchanged for r in again.reports]
    assert all(r.created == 0 and r.updated == 0 for r in again.reports)
    classes = {s.class_name for s in first.students}
    assert classes == {"10A1", "11C3", "12A2"}  # one class per classroom, the lab is none
    assert after_first["ClassRow"] == 3
    assert 28 * 3 <= after_first["StudentRow"] <= 32 * 3
    assert after_first["TransactionRow"] == after_first["StudentRow"]  # one top-up each
    assert 100_000 * after_first["StudentRow"] <= after_first["money"]
    assert after_first["money"] <= 300_000 * after_first["StudentRow"]
    assert any(s.full_name.startswith("Nguyễn ") for s in first.students)
    header = (tmp_path / "files" / "hoc-sinh.csv").read_text(encoding="utf-8-sig")
    assert "Mã học sinh,Họ và tên" in header
    timetable = (tmp_path / "files" / "thoi-khoa-bieu.csv").read_text(encoding="utf-8-sig")
    assert "10A1,Thứ 2,1,07:00,07:45" in timetable and "13:00" in timetable
