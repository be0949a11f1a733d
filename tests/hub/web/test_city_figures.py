"""The city wall's figures without a browser: health levels, grouping by area, the live state's
per-school summaries, the area map file and its setting, and the school directory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.live import FRESH_READING_S, LiveState
from hub.services.people.manage import put_school
from hub.settings import SettingsError, load_settings
from hub.web.areas import AreaMapError, load_area_map
from hub.web.city import ATTENTION_LIMIT, city_figures, health_level
from hub.web.directory import SchoolDirectory, SchoolInfo

TODAY, YESTERDAY = "2026-11-23", "2026-11-22"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 in the city


@pytest.mark.parametrize(
    ("online", "total", "alerts", "schools", "level"),
    [
        (0, 0, 0, 1, "none"),  # nothing known yet: no colour, not "good"
        (19, 20, 0, 1, "good"),  # 95 % online
        (18, 20, 0, 1, "warn"),  # 90 %
        (16, 20, 0, 1, "warn"),  # 80 %
        (15, 20, 0, 1, "bad"),  # 75 %
        (1, 2, 0, 1, "bad"),  # one of a school's two boxes down
        (20, 20, 1, 1, "warn"),  # all online, one alert open
        (20, 20, 2, 1, "bad"),  # two alerts for one school
        (20, 20, 3, 2, "warn"),  # three alerts over two schools
        (0, 0, 1, 1, "warn"),  # an alert about a school with no box seen yet
        (15, 20, 1, 1, "bad"),  # the worse of the two rules
    ],
)
def test_health_level(online: int, total: int, alerts: int, schools: int, level: str) -> None:
    assert health_level(online, total, alerts, schools) == level


def summary(**figures: Any) -> dict[str, Any]:
    base = {"day": TODAY, "edges_total": 0, "edges_online": 0, "rooms_over_co2": 0,
            "co2_max_ppm": None, "arrivals_today": 0, "taps_today": 0, "taps_per_min": 0,
            "payments_today": 0, "payments_per_min": 0, "dong_today": 0, "loans_today": 0}
    return {**base, **figures}


def test_schools_are_grouped_by_area_and_unknown_areas_go_to_other() -> None:
    area_map = load_area_map()
    summaries = {
        "lhp": summary(edges_total=2, edges_online=2, arrivals_today=30, dong_today=1_000_000,
                       alerts_open=1),
        "tdn": summary(edges_total=4, edges_online=1, rooms_over_co2=2, co2_max_ppm=1800.0),
        # Counts of yesterday are nothing today; its last minute's rate still stands.
        "old": summary(day=YESTERDAY, arrivals_today=500, taps_per_min=3, dong_today=9_000),
        "nameless": summary(edges_total=1, edges_online=1),  # live data, not in the database
    }
    schools = {
        "lhp": SchoolInfo("THPT Chuyên Lê Hồng Phong", "Quận 5"),
        "tdn": SchoolInfo("THPT Chuyên Trần Đại Nghĩa", "quan 1"),
        "old": SchoolInfo("THCS Cũ", "Quận 5"),
        "ward": SchoolInfo("THCS Bến Thành", "Phường Bến Thành"),  # today's ward: not on the map
    }
    city = city_figures(summaries, schools, area_map, TODAY)
    rows = {row["school"]: row for row in city["schools"]}
    assert set(rows) == {"lhp", "tdn", "old", "nameless", "ward"}
    assert rows["tdn"]["tile"] == "quan-1" and rows["tdn"]["health"] == "bad"
    assert rows["lhp"]["health"] == "warn"  # all online, an alert open
    assert rows["old"]["arrivals_today"] == 0 and rows["old"]["taps_per_min"] == 3
    assert rows["nameless"] == {**rows["nameless"], "name": "nameless", "tile": "other"}
    assert rows["ward"]["tile"] == "other" and rows["ward"]["health"] == "none"
    assert rows["tdn"]["alerts_open"] == 0  # a summary without the key: no alerts
    areas = {area["id"]: area for area in city["areas"]}
    assert len(areas) == len(area_map.areas) + 1
    assert areas["quan-5"]["schools"] == 2 and areas["quan-5"]["arrivals_today"] == 30
    assert areas["other"]["schools"] == 2 and areas["other"]["edges_total"] == 1
    assert areas["go-vap"] == {**areas["go-vap"], "schools": 0, "health": "none"}
    # Worst first: the school with most boxes down, then the one with an alert open.
    assert [row["school"] for row in city["attention"]] == ["tdn", "lhp"]
    totals = city["totals"]
    assert totals["schools"] == 5
    assert totals["students_present"] == 30
    assert (totals["edges_online"], totals["edges_total"]) == (4, 7)
    assert totals["dong_today"] == 1_000_000 and totals["rooms_over_co2"] == 2
    assert totals["alerts_open"] == 1 and totals["taps_per_min"] == 3


def test_live_summaries_count_rooms_over_the_co2_limit_from_memory() -> None:
    live = LiveState()
    school = "thpt-le-hong-phong"
    for edge, state in (("p-10a1", "online"), ("p-11c3", "online"), ("lab", "offline"),
                        ("p-12a2", "online")):
        live.update_edge(school, edge, state=state, ts=NOW)
    reading = live.update_reading
    reading(school, "p-10a1", "co2-1", "co2", "10A1", NOW, {"co2_ppm": 1600.0})
    reading(school, "p-10a1", "co2-2", "co2", "10A1", NOW, {"co2_ppm": 1700.0})  # same room
    reading(school, "p-11c3", "co2-1", "co2", "11C3", NOW, {"co2_ppm": 1500.0})  # at, not over
    reading(school, "lab", "co2-1", "co2", "Lab", NOW, {"co2_ppm": 2500.0})  # box offline
    old = NOW - timedelta(seconds=FRESH_READING_S + 1)
    reading(school, "p-12a2", "co2-1", "co2", "12A2", old, {"co2_ppm": 2100.0})  # stale
    reading(school, "p-12a2", "pm-1", "pm", "12A2", NOW, {"pm25_ugm3": 80.0})
    live.record_decision(school, TODAY, "loan")
    live.record_decision(school, TODAY, "loan")
    live.set_open_alerts("thcs-tan-binh", 2)  # a school known only by its alerts
    rows = live.school_summaries(now=NOW)
    row = rows[school]
    assert (row["edges_online"], row["edges_total"]) == (3, 4)
    assert row["rooms_over_co2"] == 1
    assert row["co2_max_ppm"] == 1700.0
    assert row["loans_today"] == 2
    assert rows["thcs-tan-binh"]["alerts_open"] == 2
    assert rows["thcs-tan-binh"]["edges_total"] == 0
    # A new day starts the loans again, as it does taps and payments.
    live.record_decision(school, "2026-11-24", "loan")
    assert live.school_summaries(now=NOW)[school]["loans_today"] == 1
    assert live.changes(0)["schools"][0]["loans_today"] == 1


@pytest.mark.parametrize("spelling", ["Quận 1", "quận 1", "Q.1", "Q1", "District 1", "quan-1"])
def test_a_district_is_found_however_it_is_spelt(spelling: str) -> None:
    assert load_area_map().tile_of(spelling) == "quan-1"


def test_merged_districts_go_to_thu_duc_and_unknown_to_other() -> None:
    area_map = load_area_map()
    for spelling in ("Thành phố Thủ Đức", "TP. Thủ Đức", "Quận 2", "Quận 9"):
        assert area_map.tile_of(spelling) == "thu-duc"
    for unknown in ("", "Phường Sài Gòn", "Hà Nội"):
        assert area_map.tile_of(unknown) == "other"


def map_doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "test-map", "title": {"vi": "Bản đồ", "en": "Map"}, "columns": 2, "rows": 2,
        "other": {"id": "other", "vi": "Khác", "en": "Other", "col": 1, "row": 1},
        "areas": [{"id": "ben-thanh", "vi": "Phường Bến Thành", "en": "Ben Thanh Ward",
                   "col": 0, "row": 0},
                  {"id": "sai-gon", "vi": "Phường Sài Gòn", "en": "Saigon Ward",
                   "col": 1, "row": 0}],
    }
    return {**doc, **changes}


@pytest.mark.parametrize(
    ("doc", "fault"),
    [
        ("{not json", "is not JSON"),
        (map_doc(columns=1), "outside the 1x2 grid"),
        (map_doc(other={"id": "other", "vi": "Khác", "en": "Other", "col": 0, "row": 0}),
         "share a cell"),
        (map_doc(areas=[{"id": "a", "vi": "Quận 1", "en": "A", "col": 0, "row": 0},
                        {"id": "b", "vi": "B", "en": "quan 1", "col": 1, "row": 0}]),
         "belongs to 'a' and 'b'"),
        (map_doc(areas=[]), "areas"),
        (map_doc(colour="red"), "colour"),
    ],
)
def test_a_bad_map_file_is_refused_saying_why(tmp_path: Path, doc: Any, fault: str) -> None:
    path = tmp_path / "map.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    with pytest.raises(AreaMapError, match=fault):
        load_area_map(str(path))
    with pytest.raises(SettingsError, match="SS_WALL_AREA_MAP"):
        load_settings(wall_area_map=str(path))


def test_the_map_setting_takes_a_shipped_name_or_a_file(tmp_path: Path) -> None:
    assert load_settings().wall_area_map == "areas-hcmc"
    path = tmp_path / "wards.json"
    path.write_text(json.dumps(map_doc()), encoding="utf-8")
    assert load_settings(wall_area_map=str(path)).wall_area_map == str(path)
    assert load_area_map(str(path)).tile_of("phường bến thành") == "ben-thanh"
    assert load_area_map(str(path)).tile_of("Quận 1") == "other"  # not on this map
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings(wall_area_map="areas-hanoi")


def test_directory_reads_the_database_once_then_only_after_its_refresh(sqlite_url: str) -> None:
    upgrade_to_head(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with Session(engine) as session, session.begin():
            put_school(session, "thcs-tan-binh", name="THCS Tân Bình", area="Tân Bình")
        directory = SchoolDirectory(engine, refresh_s=3600)
        assert directory.due()
        directory.refresh()
        directory.refresh()  # not due again: no second read
        assert directory.loads == 1
        assert directory.get("thcs-tan-binh") == SchoolInfo("THCS Tân Bình", "Tân Bình")
        with Session(engine) as session, session.begin():
            put_school(session, "thpt-nguyen-du", name="THPT Nguyễn Du", area="Quận 10")
        assert directory.get("thpt-nguyen-du") is None  # per event, nothing is read
        eager = SchoolDirectory(engine, refresh_s=0)  # a refresh due at every look
        eager.refresh()
        eager.refresh()
        assert eager.loads == 2 and eager.get("thpt-nguyen-du") is not None
    finally:
        engine.dispose()


def test_directory_keeps_what_it_knew_when_the_database_fails(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: every read fails
    try:
        directory = SchoolDirectory(engine)
        directory.refresh()
        assert directory.loads == 0 and directory.all() == {}
        assert not directory.due()  # it tries again later, not on every event
    finally:
        engine.dispose()
    assert SchoolDirectory(None).due() is False  # a bare live state: nothing to read


def test_the_attention_list_is_short_and_worst_first() -> None:
    summaries = {f"s{i:02d}": summary(edges_total=20, edges_online=i) for i in range(20)}
    summaries["co2"] = summary(edges_total=1, edges_online=1, rooms_over_co2=1)
    summaries["fine"] = summary(edges_total=1, edges_online=1)
    city = city_figures(summaries, {}, load_area_map(), TODAY)
    assert len(city["attention"]) == ATTENTION_LIMIT
    assert [row["school"] for row in city["attention"][:3]] == ["s00", "s01", "s02"]
    few = city_figures({"co2": summaries["co2"], "fine": summaries["fine"]}, {},
                       load_area_map(), TODAY)
    assert [row["school"] for row in few["attention"]] == ["co2"]  # good, but a room over CO2
