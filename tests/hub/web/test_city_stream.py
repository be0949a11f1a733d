"""The city wall's API over a real uvicorn: JSON figures, the map, and the SSE stream that sends
the city again within the wall's two seconds of a change, and only when a figure moved."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from hub.live import LiveState
from hub.settings import load_settings
from hub.web.routes import city_view, live_streams

from .conftest import WallServer, make_app
from .test_live_stream import SseReader

TIMEOUT = httpx.Timeout(5.0)
LHP = "thpt-le-hong-phong"


def today() -> str:
    from hub.ingest.service import CITY_TIMEZONE

    return datetime.now(CITY_TIMEZONE).date().isoformat()


def test_json_figures_and_the_default_map(live: LiveState, wall_server: WallServer) -> None:
    live.update_edge(LHP, "p-10a1", state="online", ts=datetime.now(UTC))
    live.record_decision(LHP, today(), "pay", amount=30_000)
    city = httpx.get(f"{wall_server.url}/api/v1/live/city", timeout=TIMEOUT).json()
    assert city["version"] == live.version
    assert city["totals"]["dong_today"] == 30_000
    assert city["totals"]["edges_online"] == 1
    # No database behind a bare live state: the school shows by id, in "other".
    assert city["schools"][0] == {**city["schools"][0], "name": LHP, "tile": "other"}
    area_map = httpx.get(f"{wall_server.url}/api/v1/live/city/map", timeout=TIMEOUT).json()
    assert area_map["id"] == "areas-hcmc" and len(area_map["areas"]) == 22
    assert area_map["other"]["id"] == "other"
    page = httpx.get(f"{wall_server.url}/wall/city", timeout=TIMEOUT)
    assert page.status_code == 200 and 'data-testid="city-map"' in page.text
    for name in ("city.js", "city.css"):
        assert httpx.get(f"{wall_server.url}/wall/static/{name}", timeout=TIMEOUT).status_code == 200


def test_the_map_follows_the_setting(live: LiveState, tmp_path: Path) -> None:
    path = tmp_path / "wards.json"
    path.write_text(json.dumps({
        "id": "wards-test", "title": {"vi": "Phường", "en": "Wards"}, "columns": 2, "rows": 1,
        "other": {"id": "other", "vi": "Khác", "en": "Other", "col": 1, "row": 0},
        "areas": [{"id": "ben-thanh", "vi": "Phường Bến Thành", "en": "Ben Thanh Ward",
                   "col": 0, "row": 0}]}), encoding="utf-8")
    app = make_app(live)
    app.state.settings = load_settings(wall_area_map=str(path))
    server = WallServer(app)
    server.start()
    try:
        area_map = httpx.get(f"{server.url}/api/v1/live/city/map", timeout=TIMEOUT).json()
        assert area_map["id"] == "wards-test"
        city = httpx.get(f"{server.url}/api/v1/live/city", timeout=TIMEOUT).json()
        assert [a["id"] for a in city["areas"]] == ["ben-thanh", "other"]
        assert city_view(app).area_map.id == "wards-test"
    finally:
        server.stop()


def test_stream_sends_the_city_then_again_when_a_figure_moves(
    live: LiveState, wall_server: WallServer
) -> None:
    now = datetime.now(UTC)
    live.update_edge(LHP, "p-10a1", state="online", ts=now)
    live.update_reading(LHP, "p-10a1", "co2-1", "co2", "10A1", now, {"co2_ppm": 900.0,
                                                                     "temp_c": 29.0})
    url = f"{wall_server.url}/api/v1/live/city/stream"
    with httpx.stream("GET", url, timeout=TIMEOUT) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        sse = SseReader(response)
        first = sse.next_event()
        assert first.event == "city" and first.data is not None
        assert first.data["totals"]["edges_online"] == 1 and "now" in first.data
        # A reading that moves no figure of the city (temperature) sends nothing...
        live.update_reading(LHP, "p-10a1", "co2-1", "co2", "10A1", datetime.now(UTC),
                            {"temp_c": 29.5})
        # ...a tap does, within the wall's two seconds; the next event is the tap's.
        tapped = time.monotonic()
        live.record_decision(LHP, today(), "tap", arrival=True)
        event = sse.next_event()
        assert time.monotonic() - tapped < 2.0
        assert event.data is not None and event.data["totals"]["students_present"] == 1
        assert event.data["version"] == live.version
        # The room crossing the CO2 limit is a figure too.
        live.update_reading(LHP, "p-10a1", "co2-1", "co2", "10A1", datetime.now(UTC),
                            {"co2_ppm": 1650.0})
        event = sse.next_event()
        assert event.data is not None and event.data["totals"]["rooms_over_co2"] == 1
        assert event.data["attention"][0]["co2_max_ppm"] == 1650.0
        assert "schools" not in event.data  # the JSON snapshot has every school, not the stream


def test_city_streams_share_the_wall_cap(live: LiveState, wall_server: WallServer) -> None:
    live_streams(wall_server.app).max_streams = 1
    url = f"{wall_server.url}/api/v1/live/city/stream"
    with httpx.stream("GET", url, timeout=TIMEOUT) as first:
        sse = SseReader(first)  # kept: dropping the reader would close the response early
        assert sse.next_event().event == "city"
        second = httpx.get(url, timeout=TIMEOUT)
        assert second.status_code == 503 and second.headers["retry-after"] == "5"
        rooms = httpx.get(f"{wall_server.url}/api/v1/live/stream", timeout=TIMEOUT)
        assert rooms.status_code == 503


def test_server_stops_promptly_with_a_city_wall_connected(
    live: LiveState, wall_server: WallServer
) -> None:
    with httpx.stream("GET", f"{wall_server.url}/api/v1/live/city/stream",
                      timeout=TIMEOUT) as response:
        sse = SseReader(response)
        assert sse.next_event().event == "city"
        assert wall_server.stop() < 3.0
        with pytest.raises(EOFError):
            sse.next_event()
