"""Quarterly reports per school and per district: XLSX workbook and CSV files.

``build_report(engine, parse_quarter("2026-Q4"), influx=...)`` gathers the figures;
``write_report`` / ``xlsx_bytes`` / ``zip_bytes`` turn ``report_tables(report)`` into files.
"""

from hub.reports.build import build_report
from hub.reports.co2 import DEFAULT_LIMIT_PPM, InfluxSource
from hub.reports.errors import ReportError
from hub.reports.figures import EdgeFigures, Report, RoomFigures, SchoolFigures, Totals
from hub.reports.period import ReportPeriod, parse_quarter, period_between
from hub.reports.tables import Table, report_tables
from hub.reports.writers import csv_bytes, file_stem, write_report, xlsx_bytes, zip_bytes

__all__ = [
    "DEFAULT_LIMIT_PPM", "EdgeFigures", "InfluxSource", "Report", "ReportError", "ReportPeriod",
    "RoomFigures", "SchoolFigures", "Table", "Totals", "build_report", "csv_bytes", "file_stem",
    "parse_quarter", "period_between", "report_tables", "write_report", "xlsx_bytes", "zip_bytes",
]
