"""A report as tables (one per sheet / CSV file), shared by the XLSX and CSV writers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hub.reports.figures import Report, SchoolFigures, Totals

Kind = Literal["text", "int", "vnd", "pct", "hours", "ppm"]
Cell = str | int | float | None
TOTAL = "Tổng cộng (Total)"
NO_AREA = "(chưa xếp quận/huyện)"


@dataclass(frozen=True, slots=True)
class Column:
    """A column: Vietnamese header, English subtitle, what its numbers are, its width."""

    vi: str
    en: str
    kind: Kind = "int"
    width: int = 14


@dataclass(frozen=True, slots=True)
class Table:
    """One sheet of the workbook and one CSV file."""

    title: str  # the sheet's name (Excel: at most 31 characters, no / \\ ? * [ ] :)
    title_en: str
    stem: str  # the CSV file's name without ".csv" (ASCII)
    columns: tuple[Column, ...]
    rows: list[list[Cell]]


_AREA = Column("Quận/huyện", "District", "text", 24)
_SCHOOL = Column("Mã trường", "School id", "text", 22)
_ATTENDANCE = (
    Column("Có mặt", "Present"), Column("Đi muộn", "Late"), Column("Vắng", "Absent"),
    Column("Lượt tiết phải có mặt", "Expected student-periods", width=18),
    Column("Tỷ lệ chuyên cần", "Attendance rate", "pct", 16),
)
_DEVICES = (Column("Số hộp edge", "Edge boxes", width=12),
            Column("Độ sẵn sàng thiết bị", "Device availability", "pct", 18))
_CO2 = (Column("Phòng vượt CO2", "Rooms over CO2 limit", width=16),
        Column("Giờ vượt CO2", "Room-hours over CO2 limit", "hours", 16))


def _attendance(t: Totals) -> list[Cell]:
    return [t.present, t.late, t.absent, t.expected, t.attendance_rate]


def _co2(report: Report, t: Totals) -> list[Cell]:
    return [None, None] if report.rooms is None else [t.rooms_over, t.hours_over]


def district_table(report: Report) -> Table:
    """Sheet 1: the schools' figures summed per district."""
    columns = (_AREA, Column("Số trường", "Schools", width=10),
               Column("Số học sinh", "Students", width=12), *_ATTENDANCE,
               Column("Lượt mua ròng", "Net purchases", width=14),
               Column("Doanh số ròng", "Net cashless volume (đồng)", "vnd", 20),
               Column("Tỷ lệ ngoại tuyến", "Offline share", "pct", 16),
               Column("Lượt mượn sách", "Loans", width=14), *_DEVICES, *_CO2)
    rows: list[list[Cell]] = []
    everything = Totals()
    for area, t in report.districts():
        everything.add(t)
        rows.append(_district_row(report, area or NO_AREA, t))
    rows.append(_district_row(report, TOTAL, everything))
    return Table("Tổng hợp quận-huyện", "District summary", "tong-hop-quan-huyen_districts",
                 columns, rows)


def _district_row(report: Report, area: str, t: Totals) -> list[Cell]:
    return [area, t.schools, t.students, *_attendance(t), t.net_purchases, t.net_vnd,
            t.offline_share, t.loans, t.edges, t.availability, *_co2(report, t)]


def school_table(report: Report) -> Table:
    """Sheet 2: one line per school with every figure."""
    columns = (_SCHOOL, Column("Tên trường", "School", "text", 32), _AREA,
               Column("Số học sinh", "Students", width=12), *_ATTENDANCE,
               Column("Lượt mua", "Purchases"), Column("Tiền mua", "Purchases (đồng)", "vnd", 18),
               Column("Lượt hoàn tiền", "Refunds"),
               Column("Tiền hoàn", "Refunds (đồng)", "vnd", 18),
               Column("Lượt mua ròng", "Net purchases"),
               Column("Doanh số ròng", "Net cashless volume (đồng)", "vnd", 20),
               Column("Lượt bán ngoại tuyến", "Offline sales", width=16),
               Column("Tiền bán ngoại tuyến", "Offline sales (đồng)", "vnd", 18),
               Column("Tỷ lệ ngoại tuyến", "Offline share", "pct", 16),
               Column("Giao dịch cần xem", "Flagged sales", width=16),
               Column("Lượt mượn sách", "Loans"), *_DEVICES,
               Column("Phòng có số liệu CO2", "Rooms measured (CO2)", width=18), *_CO2)
    rows = [_school_row(report, line) for line in report.schools]
    return Table("Trường", "Schools", "truong_schools", columns, rows)


def _school_row(report: Report, line: SchoolFigures) -> list[Cell]:
    t = line.totals
    measured: Cell = None if report.rooms is None else t.rooms_measured
    return [line.school, line.name, line.area or NO_AREA, t.students, *_attendance(t),
            t.purchases, t.purchases_vnd, t.refunds, t.refunds_vnd, t.net_purchases, t.net_vnd,
            t.offline, t.offline_vnd, t.offline_share, t.flagged, t.loans, t.edges,
            t.availability, measured, *_co2(report, t)]


def _areas(report: Report) -> dict[str, str]:
    return {line.school: line.area or NO_AREA for line in report.schools}


def device_table(report: Report) -> Table:
    """Sheet 3: each edge box's availability."""
    columns = (_SCHOOL, _AREA, Column("Hộp edge", "Edge box", "text", 20),
               Column("Số thiết bị", "Devices", width=10),
               Column("Trạng thái hiện tại", "Current state", "text", 16),
               Column("Giờ biết trạng thái", "Hours observed", "hours", 16),
               Column("Giờ trực tuyến", "Hours online", "hours", 14),
               Column("Độ sẵn sàng", "Availability", "pct", 14))
    areas = _areas(report)
    rows: list[list[Cell]] = [
        [e.school, areas.get(e.school, NO_AREA), e.edge, e.devices, e.state,
         e.observed_s / 3600, e.online_s / 3600, e.availability] for e in report.edges]
    return Table("Thiết bị", "Devices", "thiet-bi_devices", columns, rows)


def room_table(report: Report) -> Table:
    """Sheet 4: each room's hours over the CO2 limit (no rows without a telemetry store)."""
    columns = (_SCHOOL, _AREA, Column("Phòng", "Room", "text", 18),
               Column("Giờ có số liệu", "Hours measured", "hours", 16),
               Column("Giờ vượt ngưỡng", "Hours over limit", "hours", 16),
               Column("TB 10 phút cao nhất", "Highest 10-min mean (ppm)", "ppm", 20),
               Column("Ngưỡng", "Limit (ppm)", "ppm", 10))
    areas = _areas(report)
    rows: list[list[Cell]] = [
        [r.school, areas.get(r.school, NO_AREA), r.room, r.hours_measured, r.hours_over,
         r.peak_ppm, report.co2_limit] for r in report.rooms or []]
    return Table("Phòng CO2", "Rooms over CO2", "phong-co2_rooms-co2", columns, rows)


def notes_table(report: Report) -> Table:
    """Sheet 5: the period, when the report was made, and how each figure was obtained."""
    period = report.period
    columns = (Column("Mục", "Item", "text", 22), Column("Tiếng Việt", "Vietnamese", "text", 70),
               Column("English", "English", "text", 70))
    deadline = period.deadline.strftime("%d/%m/%Y") if period.deadline else ""
    rows: list[list[Cell]] = [
        ["Kỳ báo cáo", period.label, period.label],
        ["Từ ngày - đến ngày", f"{period.first:%d/%m/%Y} - {period.last:%d/%m/%Y}",
         f"{period.first.isoformat()} to {period.last.isoformat()} ({period.zone})"],
        ["Hạn nộp", deadline, deadline],
        ["Lập lúc", report.generated_at.isoformat(timespec="seconds"),
         report.generated_at.isoformat(timespec="seconds")],
    ]
    rows += [["Ghi chú", vi, en] for vi, en in report.notes]
    return Table("Ghi chú", "Notes", "ghi-chu_notes", columns, rows)


def report_tables(report: Report) -> list[Table]:
    """Every table of the report, in sheet order."""
    return [district_table(report), school_table(report), device_table(report),
            room_table(report), notes_table(report)]
