"""Import the inventory of edge boxes and devices from a CSV (or XLSX) as technicians keep it.

Same rules as the people import (``hub.services.people.importer``): Vietnamese or English
headers, UTF-8 with or without BOM (or Windows-1258), a bad row is rejected with its row number,
column and a Vietnamese and English reason and never stops the good rows; every row is an upsert
on its asset tag, so importing the same file again changes nothing. Firmware and room come from
what the edges themselves said (births in the registry) whenever that is known: the file gives
the starting values, the hardware the current ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.inventory import BOX, InventoryRow
from hub.db.models import DeviceRow, EdgeRow
from hub.services.people.importer import ImportReport, RowRejected, import_rows, row_values
from hub.services.people.rows import bad_value, cell_text, fold
from hub.services.people.sheets import ImportFileError, read_sheet

KIND = "inventory"
HEADER_SEARCH_ROWS = 10


def _asset(value: Any) -> str:
    value = cell_text(value)
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}", value):
        raise bad_value("Mã tài sản chỉ gồm chữ, số, '.', '-', '_', '/' (tối đa 64 ký tự)",
                   "Asset tag: letters, digits, '.', '-', '_', '/' (at most 64)")
    return value.upper()


def _ident(what_vi: str, what_en: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        value = cell_text(value)
        if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", value):
            raise bad_value(f"{what_vi}: chữ thường, số và '-' (ví dụ thpt-nguyen-du)",
                       f"{what_en}: lower-case letters, digits and '-' (e.g. thpt-nguyen-du)")
        return value
    return check


def _short(limit: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        value = cell_text(value)
        if not isinstance(value, str) or len(value) > limit:
            raise bad_value(f"Văn bản không hợp lệ (tối đa {limit} ký tự)",
                       f"Invalid text (at most {limit} characters)")
        return value
    return check


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    # Vietnamese dates are day first: 15/08/2025.
    dmy = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text)
    try:
        if iso:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        if dmy:
            return date(int(dmy.group(3)), int(dmy.group(2)), int(dmy.group(1)))
    except ValueError:
        pass
    raise bad_value("Ngày không hợp lệ (ví dụ 15/08/2025 hoặc 2025-08-15)",
               "Invalid date (e.g. 15/08/2025 or 2025-08-15)")



class InventoryIn(BaseModel):
    """A row of an inventory file: one edge box (no device) or one device of an edge."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    asset_tag: Annotated[str, BeforeValidator(_asset)]
    model: Annotated[str, BeforeValidator(_short(64))]
    school: Annotated[str, BeforeValidator(_ident("Mã trường", "School id"))]
    edge: Annotated[str, BeforeValidator(_ident("Mã hộp edge", "Edge id"))]
    device: Annotated[str, BeforeValidator(_ident("Mã thiết bị", "Device id"))] | None = None
    room: Annotated[str, BeforeValidator(_short(64))] | None = None
    install_date: Annotated[date, BeforeValidator(_date)] | None = None
    warranty_until: Annotated[date, BeforeValidator(_date)] | None = None
    firmware: Annotated[str, BeforeValidator(_short(64))] | None = None

    @field_validator("warranty_until")
    @classmethod
    def _after_install(cls, until: date | None, info: ValidationInfo) -> date | None:
        installed = info.data.get("install_date")
        if until is not None and installed is not None and until < installed:
            raise bad_value("Hạn bảo hành trước ngày lắp đặt", "Warranty ends before installation")
        return until


#: Field -> the folded headers it is known by.
HEADERS = {
    "asset_tag": {"ma tai san", "so tai san", "asset tag", "asset", "tag"},
    "model": {"model", "mau", "kieu", "mau thiet bi", "kieu thiet bi"},
    "school": {"truong", "ma truong", "school", "school id"},
    "edge": {"edge", "hop edge", "ma hop", "ma hop edge", "box", "edge id"},
    "device": {"thiet bi", "ma thiet bi", "device", "device id"},
    "room": {"phong", "ma phong", "room"},
    "install_date": {"ngay lap dat", "ngay lap", "install date", "installed"},
    "warranty_until": {"bao hanh den", "han bao hanh", "het bao hanh", "warranty until",
                       "warranty"},
    "firmware": {"firmware", "phan mem", "fw", "phien ban firmware"},
}
REQUIRED = {"asset_tag", "model", "school", "edge"}


def header_map(cells: list[Any]) -> dict[int, str] | None:
    """Column index -> field for a header row; None if a required column is missing."""
    found: dict[int, str] = {}
    for index, cell in enumerate(cells):
        if not isinstance(cell, str):
            continue
        key = fold(cell)
        for name, known in HEADERS.items():
            if key in known and name not in found.values():
                found[index] = name
                break
    return found if REQUIRED <= set(found.values()) else None


def import_inventory(engine: Engine, path_or_bytes: str | Path | bytes,
                     filename: str | None = None,
                     may_write: Callable[[str], bool] = lambda school: True) -> ImportReport:
    """Import one inventory file; rows of schools ``may_write`` refuses are rejected.

    ImportFileError if the file as a whole is unreadable (nothing is imported then).
    """
    if isinstance(path_or_bytes, bytes):
        data, name = path_or_bytes, filename or "upload"
    else:
        data, name = Path(path_or_bytes).read_bytes(), filename or Path(path_or_bytes).name
    sheet = read_sheet(data, name)
    found = next(((at, columns) for at, (_, cells) in enumerate(sheet.rows[:HEADER_SEARCH_ROWS])
                  if (columns := header_map(cells)) is not None), None)
    if found is None:
        raise ImportFileError(
            f"Không tìm thấy dòng tiêu đề với các cột bắt buộc: {sorted(REQUIRED)}",
            f"No header row with the required columns: {sorted(REQUIRED)}")
    header_at, columns = found
    headers = {field: str(sheet.rows[header_at][1][i]) for i, field in columns.items()}
    report = ImportReport(kind=KIND, filename=name)
    with Session(engine) as session, session.begin():
        upsert = _Upserter(session, may_write)
        seen: set[str] = set()

        def take(cells: list[Any]) -> str:
            row = InventoryIn.model_validate(row_values(columns, cells))
            if row.asset_tag in seen:
                raise RowRejected("asset_tag", "Trùng mã tài sản với một dòng phía trên",
                                  "Same asset tag as an earlier row of this file")
            seen.add(row.asset_tag)
            return upsert.apply(row)

        import_rows(report, sheet.rows[header_at + 1:], headers, take)
    return report


class _Upserter:
    """Applies validated rows; what the edges said is read once per school."""

    def __init__(self, session: Session, may_write: Callable[[str], bool]) -> None:
        self.session, self.may_write = session, may_write
        self._said: dict[str, tuple[dict[str, str], dict[tuple[str, str], str]]] = {}

    def _reported(self, school: str) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
        """(edge -> firmware, (edge, device) -> room) from the registry, for one school."""
        if school not in self._said:
            firmware = {e: fw for e, fw in self.session.execute(
                select(EdgeRow.edge, EdgeRow.fw).where(EdgeRow.school == school)) if fw}
            rooms = {(e, d): room for e, d, room in self.session.execute(
                select(DeviceRow.edge, DeviceRow.device, DeviceRow.room)
                .where(DeviceRow.school == school)) if room}
            self._said[school] = (firmware, rooms)
        return self._said[school]

    def apply(self, row: InventoryIn) -> str:
        """Upsert one row: ``created``, ``updated`` or ``unchanged``."""
        if not self.may_write(row.school):
            raise RowRejected("school", f"Không có quyền với trường {row.school}",
                               f"Not allowed for school {row.school}")
        device = row.device or BOX
        firmware_now, rooms_now = self._reported(row.school)
        firmware = firmware_now.get(row.edge) if device == BOX else None
        room = rooms_now.get((row.edge, device)) if device != BOX else None
        values = {"model": row.model, "school": row.school, "edge": row.edge, "device": device,
                  "room": room or row.room, "install_date": row.install_date,
                  "warranty_until": row.warranty_until, "firmware": firmware or row.firmware}
        found = self.session.get(InventoryRow, row.asset_tag)
        if found is None:
            self.session.add(InventoryRow(
                asset_tag=row.asset_tag, **{k: ("" if v is None and k in ("room", "firmware")
                                                else v) for k, v in values.items()}))
            self.session.flush()
            return "created"
        if found.school != row.school and not self.may_write(found.school):
            raise RowRejected("asset_tag", f"Tài sản {row.asset_tag} thuộc trường khác",
                               f"Asset {row.asset_tag} belongs to another school")
        changed = False
        for name, value in values.items():
            # An empty optional cell leaves what is stored (like the people import).
            if value is not None and getattr(found, name) != value:
                setattr(found, name, value)
                changed = True
        if changed:
            found.updated_at = datetime.now(UTC)
        return "updated" if changed else "unchanged"
