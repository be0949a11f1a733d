"""The report of a simulated quarter, checked figure by figure in the XLSX and the CSV files."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from hub.reports import InfluxSource, build_report, parse_quarter, write_report
from smartschool_cli.localservers.influxdb import InfluxDB1
from tests.hub.reports.conftest import (
    CC,
    CU_CHI,
    EXPECTED_ATTENDANCE,
    EXPECTED_CASH,
    EXPECTED_EDGES,
    EXPECTED_ROOMS,
    LQD,
    NGUYEN_DU,
    Q3,
    QUARTER,
)

#: Long after the quarter: availability runs to its end.
LATER = datetime(2027, 1, 5, tzinfo=UTC)
SHEETS = ["Tổng hợp quận-huyện", "Trường", "Thiết bị", "Phòng CO2", "Ghi chú"]


def _rows(sheet: object) -> list[list[object]]:
    return [list(row) for row in sheet.iter_rows(min_row=3, values_only=True)]  # type: ignore[attr-defined]


def _csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_quarter_report_matches_the_simulated_quarter(
        engine: Engine, co2_db: tuple[InfluxDB1, str], tmp_path: Path) -> None:
    influx, db = co2_db
    report = build_report(engine, parse_quarter(QUARTER), influx=InfluxSource(influx.url, db),
                          now=LATER)
    files = write_report(report, tmp_path)
    assert [p.name for p in files] == [
        "bao-cao_2026-Q3.xlsx", "tong-hop-quan-huyen_districts.csv", "truong_schools.csv",
        "thiet-bi_devices.csv", "phong-co2_rooms-co2.csv", "ghi-chu_notes.csv"]
    book = load_workbook(files[0])
    assert book.sheetnames == SHEETS
    schools = book["Trường"]
    assert schools.freeze_panes == "A3"
    assert (schools["A1"].value, schools["A2"].value) == ("Mã trường", "School id")
    assert schools.column_dimensions["B"].width == 32

    # Schools: every figure against the data that produced it.
    head = [c.value for c in schools[2]]
    by_school = {row[0]: dict(zip(head, row, strict=True)) for row in _rows(schools)}
    assert list(by_school) == sorted([LQD, CU_CHI, NGUYEN_DU])
    for school, (present, late, absent) in EXPECTED_ATTENDANCE.items():
        line = by_school[school]
        assert (line["Present"], line["Late"], line["Absent"]) == (present, late, absent)
        assert line["Expected student-periods"] == present + late + absent
        expected_rate = (present + late) / (present + late + absent) if present + absent else None
        assert line["Attendance rate"] == expected_rate
        assert line["Loans"] == 0
    assert by_school[LQD]["Students"] == 3 and by_school[CU_CHI]["Students"] == 2
    for school, (buys, buys_vnd, backs, backs_vnd, offline, offline_vnd) in EXPECTED_CASH.items():
        line = by_school[school]
        assert (line["Purchases"], line["Purchases (đồng)"]) == (buys, buys_vnd)
        assert (line["Refunds"], line["Refunds (đồng)"]) == (backs, backs_vnd)
        assert line["Net purchases"] == buys - backs
        assert line["Net cashless volume (đồng)"] == buys_vnd - backs_vnd
        assert (line["Offline sales"], line["Offline sales (đồng)"]) == (offline, offline_vnd)
        assert line["Offline share"] == offline_vnd / buys_vnd
    assert by_school[LQD]["Net cashless volume (đồng)"] == 35_000
    percent = schools.cell(row=3, column=head.index("Attendance rate") + 1)
    money = schools.cell(row=3, column=head.index("Net cashless volume (đồng)") + 1)
    assert percent.number_format == "0.0%" and money.number_format == '#,##0 "đ"'

    lqd_edges = [v for k, v in EXPECTED_EDGES.items() if k[0] == LQD]
    assert by_school[LQD]["Edge boxes"] == 2
    assert by_school[LQD]["Device availability"] == pytest.approx(
        sum(on for _, on in lqd_edges) / sum(seen for seen, _ in lqd_edges), abs=1e-12)
    assert by_school[NGUYEN_DU]["Device availability"] == 1.0
    assert by_school[LQD]["Rooms over CO2 limit"] == 1
    assert by_school[LQD]["Room-hours over CO2 limit"] == pytest.approx(4 / 6)
    assert by_school[CU_CHI]["Room-hours over CO2 limit"] == pytest.approx(1 / 6)

    # Devices: hours observed and online per edge.
    devices = {(r[0], r[2]): r for r in _rows(book["Thiết bị"])}
    assert set(devices) == set(EXPECTED_EDGES)
    for key, (seen_h, online_h) in EXPECTED_EDGES.items():
        row = devices[key]
        assert (row[5], row[6]) == (pytest.approx(seen_h), pytest.approx(online_h)), key
        assert row[7] == pytest.approx(online_h / seen_h)
    assert devices[(CU_CHI, "cong")][4] == "offline"  # its state now (Q4), not in the quarter

    # Rooms over CO2 from InfluxDB.
    rooms = {(r[0], r[2]): r for r in _rows(book["Phòng CO2"])}
    assert set(rooms) == set(EXPECTED_ROOMS)
    for key, (measured, over, peak) in EXPECTED_ROOMS.items():
        row = rooms[key]
        assert row[3] == pytest.approx(measured / 6) and row[4] == pytest.approx(over / 6), key
        assert row[5] == pytest.approx(peak) and row[6] == 1500.0

    # Districts: the sum of their schools; the last line is the whole report.
    districts = {r[0]: r for r in _rows(book["Tổng hợp quận-huyện"])}
    assert list(districts) == [CC, Q3, "Tổng cộng (Total)"]
    d_head = [c.value for c in book["Tổng hợp quận-huyện"][2]]
    q3 = dict(zip(d_head, districts[Q3], strict=True))
    assert (q3["Schools"], q3["Students"], q3["Present"], q3["Late"], q3["Absent"]) == (2, 3, 2, 2, 2)
    assert q3["Net cashless volume (đồng)"] == 35_000 and q3["Edge boxes"] == 3
    q3_edges = [v for k, v in EXPECTED_EDGES.items() if k[0] in (LQD, NGUYEN_DU)]
    assert q3["Device availability"] == pytest.approx(
        sum(on for _, on in q3_edges) / sum(seen for seen, _ in q3_edges), abs=1e-12)
    total = dict(zip(d_head, districts["Tổng cộng (Total)"], strict=True))
    assert (total["Schools"], total["Present"], total["Absent"]) == (3, 3, 3)
    assert total["Net cashless volume (đồng)"] == 47_000
    assert total["Room-hours over CO2 limit"] == pytest.approx(5 / 6)

    # The CSV files hold the same tables: two header rows, percent as %, exact đồng.
    csv_schools = _csv(tmp_path / "bao-cao_2026-Q3_csv" / "truong_schools.csv")
    assert csv_schools[0][0] == "Mã trường" and csv_schools[1][0] == "School id"
    assert "Attendance rate (%)" in csv_schools[1]
    csv_by = {row[0]: dict(zip(csv_schools[1], row, strict=True)) for row in csv_schools[2:]}
    assert csv_by[LQD]["School"] == "THPT Lê Quý Đôn"
    assert csv_by[LQD]["Attendance rate (%)"] == "66.67"
    assert csv_by[LQD]["Net cashless volume (đồng)"] == "35000"
    assert csv_by[LQD]["Offline share (%)"] == "33.33"
    assert csv_by[NGUYEN_DU]["Attendance rate (%)"] == ""
    csv_rooms = _csv(tmp_path / "bao-cao_2026-Q3_csv" / "phong-co2_rooms-co2.csv")
    assert [LQD, Q3, "Căn tin", "0.17", "0.0", "1500.0", "1500.0"] in csv_rooms
    notes = _csv(tmp_path / "bao-cao_2026-Q3_csv" / "ghi-chu_notes.csv")
    assert ["Hạn nộp", "25/09/2026", "25/09/2026"] in notes


def test_one_school_without_influx_has_empty_co2_and_a_note(engine: Engine, tmp_path: Path
                                                           ) -> None:
    report = build_report(engine, parse_quarter(QUARTER), school=CU_CHI, now=LATER)
    files = write_report(report, tmp_path, CU_CHI, as_zip=True)
    assert [p.name for p in files] == ["bao-cao_2026-Q3_thcs-tan-thong-hoi.xlsx",
                                       "bao-cao_2026-Q3_thcs-tan-thong-hoi_csv.zip"]
    book = load_workbook(files[0])
    schools = _rows(book["Trường"])
    assert [row[0] for row in schools] == [CU_CHI]
    assert schools[0][-3:] == [None, None, None]  # rooms measured, over, hours: no store
    assert _rows(book["Phòng CO2"]) == []
    assert [r[0] for r in _rows(book["Thiết bị"])] == [CU_CHI]
    notes = [row[2] for row in _rows(book["Ghi chú"])]
    assert "CO2: no InfluxDB configured, so no figures." in notes
    assert any(str(n).startswith("Loans: the smart library") for n in notes)
