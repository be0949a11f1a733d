"""The README's demo, run as a user runs it: a live wall whose values change, and a clean stop."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from smartschool_cli.demo_school import SCHOOL_ID, demo_rooms
from smartschool_cli.localservers.base import free_port
from tests.e2e.procs import ROOT


def _read_lines(stream: object, sink: list[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sink.append(line)


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
            match = re.search(r"(http://127\.0\.0\.1:\d+/wall)", "".join(output))
            wall = match.group(1) if match else None
            time.sleep(0.1)
        assert wall, f"the demo printed no live-wall URL:\n{''.join(output)}"
        assert f"mqtt://127.0.0.1:{mqtt_port}" in "".join(output)

        page.goto(wall)
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
        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.screenshot(path=str(artifacts / "demo-wall.png"))
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(60)
        reader.join(5)
    text = "".join(output)
    assert code == 0, text
    assert "Stopped cleanly" in text
    assert "Traceback" not in text, text
