"""``smartschool report``: a quarter's (or a date range's) report as XLSX and CSV files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table as RichTable

from hub.db.engine import make_engine
from hub.reports import (
    DEFAULT_LIMIT_PPM,
    InfluxSource,
    Report,
    ReportError,
    ReportPeriod,
    build_report,
    parse_quarter,
    period_between,
    write_report,
)


def choose_period(quarter: str | None, first: date | None, last: date | None) -> ReportPeriod:
    """The period from ``--quarter`` or from ``--from``/``--to``; ReportError otherwise."""
    if quarter is not None and first is None and last is None:
        return parse_quarter(quarter)
    if quarter is None and first is not None and last is not None:
        return period_between(first, last)
    raise ReportError("Cần --quarter, hoặc cả --from và --to",
                      "Give --quarter, or both --from and --to")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def summary(report: Report) -> RichTable:
    """The districts' headline figures as a rich table."""
    table = RichTable(title=f"Báo cáo / Report {report.period.label}")
    for head in ("Quận/huyện\nDistrict", "Trường\nSchools", "Chuyên cần\nAttendance",
                 "Doanh số ròng\nNet (đồng)", "Sẵn sàng\nAvailability", "Giờ vượt CO2\nCO2 h"):
        table.add_column(head, justify="left" if head.startswith("Quận") else "right")
    for area, t in report.districts():
        co2 = "—" if report.rooms is None else f"{t.hours_over:.1f}"
        table.add_row(area or "—", str(t.schools), _pct(t.attendance_rate), f"{t.net_vnd:,}",
                      _pct(t.availability), co2)
    return table


def run_report(console: Console, *, db_url: str, out: Path, quarter: str | None = None,
               first: date | None = None, last: date | None = None, school: str | None = None,
               influx_url: str | None = None, influx_db: str = "smartschool",
               influx_token: str | None = None, co2_limit: float = DEFAULT_LIMIT_PPM,
               as_zip: bool = False) -> int:
    """Make the report, print its summary, write the files; the process's exit code."""
    try:
        period = choose_period(quarter, first, last)
        influx = InfluxSource(influx_url, influx_db, influx_token) if influx_url else None
        engine = make_engine(db_url)
        try:
            report = build_report(engine, period, school=school, influx=influx,
                                  co2_limit=co2_limit)
        finally:
            engine.dispose()
    except ReportError as error:
        console.print(f"[red]{error.vi} / {error.en}[/]")
        return 2
    console.print(summary(report))
    for vi, en in report.notes:
        console.print(f"[dim]- {vi}\n  {en}[/]")
    for path in write_report(report, out, school, as_zip=as_zip):
        console.print(f"[green]đã ghi / wrote[/] {path}")
    return 0
