"""Quarterly reports: ``GET /api/v1/reports/{quarter}.xlsx`` and ``.zip`` (the CSV files).

Admins get every school (or one with ``?school=``); staff get their own school only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from hub.auth import Principal, Role, forbid_unless, require
from hub.reports import (
    InfluxSource,
    Report,
    ReportError,
    build_report,
    file_stem,
    parse_quarter,
    report_tables,
    xlsx_bytes,
    zip_bytes,
)
from hub.settings import HubSettings

router = APIRouter(prefix="/api/v1", tags=["reports"])
Quarter = Annotated[str, Path(pattern=r"^\d{4}-Q[1-4]$", examples=["2026-Q4"])]
SchoolQuery = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Reporter = Annotated[Principal, require(Role.ADMIN, Role.STAFF)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def influx_source(settings: HubSettings) -> InfluxSource | None:
    """Where the hub's telemetry can be queried with InfluxQL, or None without a store."""
    if settings.influx_url is None:
        return None
    if settings.influx_api == "v2":  # InfluxDB 2.x/3.x answer /query through their v1 API
        return InfluxSource(settings.influx_url, settings.influx_bucket, settings.influx_token)
    return InfluxSource(settings.influx_url, settings.influx_db)


def _report(request: Request, quarter: str, school: str | None, caller: Principal
            ) -> tuple[Report, str | None]:
    if caller.role is not Role.ADMIN:
        forbid_unless(caller.school is not None and school in (None, caller.school))
        school = caller.school
    try:
        period = parse_quarter(quarter)
        report = build_report(request.app.state.engine, period, school=school,
                              influx=influx_source(request.app.state.settings))
    except ReportError as error:
        raise HTTPException(error.status, {"vi": error.vi, "en": error.en}) from None
    return report, school


def _download(body: bytes, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/reports/{quarter}.xlsx")
def report_xlsx(request: Request, quarter: Quarter, caller: Reporter,
                school: SchoolQuery = None) -> Response:
    """The quarter's workbook: districts, schools, devices, rooms over CO2, notes."""
    report, school = _report(request, quarter, school, caller)
    return _download(xlsx_bytes(report_tables(report)), XLSX,
                     f"{file_stem(report, school)}.xlsx")


@router.get("/reports/{quarter}.zip")
def report_zip(request: Request, quarter: Quarter, caller: Reporter,
               school: SchoolQuery = None) -> Response:
    """The same tables as CSV files (UTF-8 with BOM) in a zip."""
    report, school = _report(request, quarter, school, caller)
    stem = file_stem(report, school)
    return _download(zip_bytes(report_tables(report), stem), "application/zip",
                     f"{stem}_csv.zip")
