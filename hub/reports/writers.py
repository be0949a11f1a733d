"""Writing a report's tables: an XLSX workbook (openpyxl) and CSV files (UTF-8 with BOM)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from hub.reports.figures import Report
from hub.reports.tables import Cell, Column, Table, report_tables

#: Excel shows these; the values stay exact (fractions for %, whole đồng).
NUMBER_FORMATS = {"int": "#,##0", "vnd": '#,##0 "đ"', "pct": "0.0%", "hours": "#,##0.00",
                  "ppm": "#,##0"}
_HEAD = Font(bold=True, color="FFFFFF")
_HEAD_FILL = PatternFill("solid", fgColor="1F4E78")
_SUB = Font(italic=True, color="595959")
_SUB_FILL = PatternFill("solid", fgColor="DDEBF7")


def xlsx_bytes(tables: list[Table]) -> bytes:
    """The workbook: one sheet per table, two header rows (vi, en) frozen above the data."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for table in tables:
        sheet = book.create_sheet(table.title)
        for index, column in enumerate(table.columns, start=1):
            head = sheet.cell(row=1, column=index, value=column.vi)
            head.font, head.fill = _HEAD, _HEAD_FILL
            head.alignment = Alignment(wrap_text=True, vertical="center")
            sub = sheet.cell(row=2, column=index, value=column.en)
            sub.font, sub.fill = _SUB, _SUB_FILL
            sub.alignment = Alignment(wrap_text=True)
            sheet.column_dimensions[get_column_letter(index)].width = column.width
        for offset, row in enumerate(table.rows, start=3):
            for index, (column, value) in enumerate(zip(table.columns, row, strict=True), 1):
                cell = sheet.cell(row=offset, column=index, value=value)
                if column.kind in NUMBER_FORMATS:
                    cell.number_format = NUMBER_FORMATS[column.kind]
        sheet.freeze_panes = "A3"
        if table.rows:
            sheet.auto_filter.ref = (f"A2:{get_column_letter(len(table.columns))}"
                                     f"{len(table.rows) + 2}")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _csv_header(column: Column) -> tuple[str, str]:
    # A CSV has no number formats: percentages are written as percent, so the header says so.
    if column.kind == "pct":
        return f"{column.vi} (%)", f"{column.en} (%)"
    return column.vi, column.en


def csv_value(column: Column, value: Cell) -> str | int | float:
    """A cell as CSV text: percent with 2 decimals, hours with 2, đồng and counts whole."""
    if value is None:
        return ""
    if column.kind == "pct":
        return round(float(value) * 100, 2)
    if column.kind in ("hours", "ppm"):
        return round(float(value), 2)
    return value


def csv_bytes(table: Table) -> bytes:
    """One table as CSV in UTF-8 with a BOM (so Excel reads Vietnamese right), two header rows."""
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    heads = [_csv_header(column) for column in table.columns]
    writer.writerow([vi for vi, _ in heads])
    writer.writerow([en for _, en in heads])
    for row in table.rows:
        writer.writerow([csv_value(c, v) for c, v in zip(table.columns, row, strict=True)])
    return text.getvalue().encode("utf-8-sig")


def file_stem(report: Report, school: str | None) -> str:
    """``bao-cao_2026-Q4`` or ``bao-cao_2026-Q4_{school}``."""
    return f"bao-cao_{report.period.label}" + (f"_{school}" if school else "")


def zip_bytes(tables: list[Table], folder: str) -> bytes:
    """The CSV files in a zip, under ``folder/``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in tables:
            archive.writestr(f"{folder}/{table.stem}.csv", csv_bytes(table))
    return out.getvalue()


def write_report(report: Report, out_dir: Path, school: str | None = None,
                 *, as_zip: bool = False) -> list[Path]:
    """Write the workbook and the CSV files (a folder, or one zip) into ``out_dir``."""
    tables = report_tables(report)
    stem = file_stem(report, school)
    out_dir.mkdir(parents=True, exist_ok=True)
    workbook = out_dir / f"{stem}.xlsx"
    workbook.write_bytes(xlsx_bytes(tables))
    written = [workbook]
    if as_zip:
        archive = out_dir / f"{stem}_csv.zip"
        archive.write_bytes(zip_bytes(tables, stem))
        return [*written, archive]
    folder = out_dir / f"{stem}_csv"
    folder.mkdir(exist_ok=True)
    for table in tables:
        path = folder / f"{table.stem}.csv"
        path.write_bytes(csv_bytes(table))
        written.append(path)
    return written
