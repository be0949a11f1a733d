"""Reading a school's CSV or XLSX into rows of cells, with limits a hostile file cannot pass.

CSV: UTF-8 (with or without BOM), falling back to Windows-1258 (Vietnamese Windows); comma,
semicolon or tab. XLSX: openpyxl in read-only mode, after checking the zip itself (sizes and
compression ratios), so a zip bomb is refused before anything is inflated. Formulas are never
evaluated: a formula cell is returned as a :class:`Formula` and the row is rejected.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

#: Limits for one uploaded file: a big school has ~3,000 students, ~30,000 timetable rows.
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_UNZIPPED_BYTES = 64 * 1024 * 1024
MAX_RATIO = 200  # compressed XML is ~10-30x; a zip bomb is thousands
MAX_ROWS = 50_000
MAX_COLS = 40
MAX_CELL_CHARS = 1000

Cell = str | int | float | bool | date | datetime | time | None


class ImportFileError(ValueError):
    """The file as a whole cannot be read; nothing from it is imported."""

    def __init__(self, vi: str, en: str, status: int = 422) -> None:
        super().__init__(en)
        self.vi, self.en, self.status = vi, en, status


@dataclass(frozen=True, slots=True)
class Formula:
    """A formula cell: never evaluated, the row is rejected."""

    text: str


@dataclass(frozen=True, slots=True)
class Sheet:
    """The rows of a file: ``(row number as the school sees it, cells)``."""

    rows: list[tuple[int, list[Cell | Formula]]]


def read_sheet(data: bytes, filename: str) -> Sheet:
    """Rows of ``data`` by its content (XLSX zip or CSV text); ImportFileError if unreadable."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(f"Tệp quá lớn (tối đa {MAX_FILE_BYTES // 1048576} MB)",
                              f"File too large (at most {MAX_FILE_BYTES // 1048576} MB)", 413)
    name = filename.lower()
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("Định dạng .xls cũ không được hỗ trợ, hãy lưu thành .xlsx",
                              "Old .xls format is not supported: save as .xlsx")
    if data.startswith(b"PK"):
        return Sheet(list(_limited(_xlsx_rows(data))))
    if name.endswith((".xlsx", ".xlsm")):
        raise ImportFileError("Tệp không phải XLSX hợp lệ", "Not a valid XLSX file")
    return Sheet(list(_limited(_csv_rows(data))))


def _limited(rows: Iterator[tuple[int, list[Cell | Formula]]]) -> Iterator[
        tuple[int, list[Cell | Formula]]]:
    for count, (number, cells) in enumerate(rows, start=1):
        if count > MAX_ROWS + 1:
            raise ImportFileError(f"Quá nhiều dòng (tối đa {MAX_ROWS})",
                                  f"Too many rows (at most {MAX_ROWS})", 413)
        if any(c not in (None, "") for c in cells):
            yield number, [_clean(c) for c in cells[:MAX_COLS]]


def _clean(cell: Any) -> Cell | Formula:
    if isinstance(cell, str):
        text = unicodedata.normalize("NFC", cell).strip()[:MAX_CELL_CHARS]
        return text or None
    if isinstance(cell, Formula | int | float | bool | date | datetime | time) or cell is None:
        return cell
    return str(cell)


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM or not), else Windows-1258; NFC either way (1258 composes tones itself)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1258")
        except UnicodeDecodeError:
            raise ImportFileError("Không đọc được bảng mã của tệp (cần UTF-8 hoặc Windows-1258)",
                                  "Unknown text encoding (UTF-8 or Windows-1258 expected)") from None
    if "\x00" in text:
        raise ImportFileError("Tệp không phải văn bản CSV", "Not a CSV text file")
    return unicodedata.normalize("NFC", text)


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[Cell | Formula]]]:
    text = decode_text(data)
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            yield reader.line_num, [_csv_cell(c) for c in row]
    except csv.Error as error:
        raise ImportFileError(f"CSV lỗi ở dòng {reader.line_num}: {error}",
                              f"Bad CSV at line {reader.line_num}: {error}") from None


def _csv_cell(value: str) -> Cell | Formula:
    # Excel would run "=..." on opening an exported file: refuse it like an XLSX formula.
    return Formula(value) if value.startswith("=") else value


def _check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ImportFileError("Tệp không phải XLSX hợp lệ", "Not a valid XLSX file") from None
    with archive:
        names = set(archive.namelist())
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise ImportFileError("Tệp không phải XLSX hợp lệ", "Not a valid XLSX file")
        total = 0
        for info in archive.infolist():
            total += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if total > MAX_UNZIPPED_BYTES or (info.file_size > 1_000_000 and ratio > MAX_RATIO):
                raise ImportFileError("Tệp XLSX bất thường (nén quá mức), đã từ chối",
                                      "Suspicious XLSX (compression bomb) refused", 413)


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[Cell | Formula]]]:
    _check_zip(data)
    import openpyxl  # heavy: only when an XLSX arrives

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds on a bad file
        raise ImportFileError("Tệp không phải XLSX hợp lệ",
                              f"Not a valid XLSX file ({type(error).__name__})") from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise ImportFileError("Tệp XLSX không có trang tính nào", "XLSX has no worksheet")
        for number, row in enumerate(sheet.iter_rows(max_col=MAX_COLS), start=1):
            cells: list[Cell | Formula] = []
            for cell in row:
                value = getattr(cell, "value", None)
                if getattr(cell, "data_type", "") == "f" or (
                        isinstance(value, str) and value.startswith("=")):
                    cells.append(Formula(str(value)))
                else:
                    cells.append(value)
            yield number, cells
    finally:
        book.close()
