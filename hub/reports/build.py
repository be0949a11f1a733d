"""Making a report: figures from the database and InfluxDB, per school, edge and room."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.people import SchoolRow
from hub.reports.availability import edge_availability
from hub.reports.co2 import DEFAULT_LIMIT_PPM, InfluxSource, rooms_over_limit
from hub.reports.errors import ReportError
from hub.reports.figures import Report
from hub.reports.period import ReportPeriod
from hub.reports.records import add_records, school_lines

log = logging.getLogger(__name__)

NOTE_AVAILABILITY = (
    "Độ sẵn sàng = thời gian trực tuyến / thời gian đã biết trạng thái của hộp edge trong kỳ, "
    "theo lịch sử trạng thái (status, Last Will).",
    "Availability = time online / time the edge's state was known in the period, from its "
    "history of status messages (births and Last Wills).")
NOTE_ATTENDANCE = (
    "Tỷ lệ chuyên cần = (có mặt + đi muộn) / số lượt tiết phải có mặt; tiết chưa điểm danh "
    "vắng (chưa đóng tiết) không được tính.",
    "Attendance rate = (present + late) / expected student-periods; periods not closed "
    "(absences not marked) are not counted.")
NOTE_CASHLESS = (
    "Thanh toán không tiền mặt: mua hàng trừ hoàn tiền (hoàn tiền tính vào kỳ hoàn); tỷ lệ "
    "ngoại tuyến theo số tiền.",
    "Cashless: purchases less refunds (a refund counts in the period it was made); offline "
    "share by amount.")
NOTE_LOANS = ("Mượn sách: thư viện thông minh chưa triển khai, số liệu bằng 0.",
              "Loans: the smart library is not in service yet; the figure is 0.")
NOTE_NO_INFLUX = ("CO2: chưa cấu hình InfluxDB nên không có số liệu.",
                  "CO2: no InfluxDB configured, so no figures.")


def _note_co2(limit: float) -> tuple[str, str]:
    return (f"CO2: trung bình mỗi 10 phút theo phòng; mỗi khoảng trên {limit:g} ppm tính 10 phút.",
            f"CO2: 10-minute means per room; each interval above {limit:g} ppm counts "
            "10 minutes.")


def build_report(engine: Engine, period: ReportPeriod, *, school: str | None = None,
                 influx: InfluxSource | None = None, co2_limit: float = DEFAULT_LIMIT_PPM,
                 now: datetime | None = None) -> Report:
    """The report of ``period`` for one school or (None) every school."""
    now = now or datetime.now(UTC)
    with Session(engine) as session:
        if school is not None and session.scalar(
                select(SchoolRow.id).where(SchoolRow.id == school)) is None:
            raise ReportError(f"Không có trường {school}", f"No school {school}", 404)
        scope = None if school is None else [school]
        lines = school_lines(session, scope)
        add_records(session, lines, period)
        edges = edge_availability(session, scope, period.start, period.end, now)
    by_school = {line.school: line.totals for line in lines}
    for edge in edges:
        totals = by_school[edge.school]
        totals.edges += 1
        totals.observed_s += edge.observed_s
        totals.online_s += edge.online_s
    notes = [NOTE_AVAILABILITY, NOTE_ATTENDANCE, NOTE_CASHLESS, NOTE_LOANS]
    rooms = None
    if influx is None:
        notes.append(NOTE_NO_INFLUX)
    else:
        rooms = [room for room in rooms_over_limit(influx, period.start, period.end, scope,
                                                   co2_limit) if room.school in by_school]
        for room in rooms:
            totals = by_school[room.school]
            totals.rooms_measured += 1
            totals.rooms_over += room.intervals_over > 0
            totals.intervals_over += room.intervals_over
        notes.append(_note_co2(co2_limit))
    if period.end > now:
        notes.append(("Kỳ báo cáo chưa kết thúc: số liệu tính đến lúc lập báo cáo.",
                      "The period is not over: figures run up to the time of the report."))
    log.info("report %s: %s schools, %s edges", period.label, len(lines), len(edges))
    return Report(period, now, co2_limit, lines, edges, rooms, notes)
