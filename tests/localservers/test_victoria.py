"""The private VictoriaMetrics: takes line protocol on /api/v2/write, exports it back."""

from __future__ import annotations

import urllib3

from smartschool_cli.localservers.victoria import VictoriaMetrics


def test_health(victoria: VictoriaMetrics) -> None:
    resp = urllib3.request("GET", f"{victoria.url}/health")
    assert resp.status == 200


def test_v2_write_then_export(victoria: VictoriaMetrics) -> None:
    assert victoria.sample_count("env_co2_ppm") == 0
    body = (
        "env,school=thpt-nguyen-hien,room=10A1 co2_ppm=612,temp_c=29.5 1700000000000000000\n"
        "env,school=thpt-nguyen-hien,room=10A1 co2_ppm=640 1700000010000000000\n"
        "env,school=thcs-tan-binh,room=6A2 co2_ppm=701 1700000000000000000\n"
    )
    resp = urllib3.request("POST", f"{victoria.url}/api/v2/write", body=body.encode())
    assert resp.status == 204
    assert victoria.wait_samples("env_co2_ppm", 3) == 3
    assert victoria.series_count("env_co2_ppm") == 2
    assert victoria.sample_count("env_temp_c") == 1
    labels = {s["metric"]["school"]: s["metric"] for s in victoria.export("env_co2_ppm")}
    assert labels["thcs-tan-binh"] == {
        "__name__": "env_co2_ppm",
        "school": "thcs-tan-binh",
        "room": "6A2",
    }


def test_write_helper_uses_current_time(victoria: VictoriaMetrics) -> None:
    victoria.write(["heartbeat,edge=e1 uptime_s=5", "heartbeat,edge=e2 uptime_s=9"])
    assert victoria.wait_samples("heartbeat_uptime_s", 2) == 2
