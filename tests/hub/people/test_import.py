"""Imports of students, cards and timetables: good rows in, bad rows reported, re-import inert."""

from __future__ import annotations

import io
import zipfile
from datetime import time
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hub.db.people import CardRow, ClassRow, StudentRow, TimetableRow
from hub.services.people import ImportFileError, import_file, normalise_card, roster_version
from hub.services.people.sheets import MAX_ROWS
from tests.hub.people.samples import SCHOOL, STUDENTS_CSV, TIMETABLE_CSV


def test_students_good_rows_in_bad_rows_reported_and_reimport_changes_nothing(
        engine: Engine) -> None:
    report = import_file(engine, SCHOOL, "students", STUDENTS_CSV, "hoc-sinh.csv")
    assert (report.rows, report.created, report.updated, report.unchanged) == (8, 4, 0, 0)
    assert report.rejected == 4
    by_row = {r.row: r for r in report.rejections}
    # Row numbers as the school sees them in Excel: title row 1, header row 2.
    assert by_row[7].column == "Họ và tên" and "Thiếu" in by_row[7].vi
    assert by_row[8].column == "Mã thẻ" and "Invalid card" in by_row[8].en
    assert by_row[9].column == "Mã HS" and by_row[9].en == "Same key as an earlier row of this file"
    assert by_row[10].column == "Họ và tên" and "Formulas" in by_row[10].en
    with Session(engine) as session:
        mai_anh = session.scalar(select(StudentRow).where(StudentRow.code == "HS0001"))
        assert mai_anh is not None and mai_anh.full_name == "Nguyễn Thị Mai Anh"
        cards = dict(session.execute(select(CardRow.card, CardRow.student_id)).all())
        assert cards == {"em:0F00A1B2C3": mai_anh.id,
                         "nfc:04A1B2C3D4E5F6": mai_anh.id + 1,
                         "nfc:04A1B2C3": mai_anh.id + 2}
        assert sorted(session.scalars(select(ClassRow.name))) == ["10A1", "11C3"]
        version = roster_version(session, SCHOOL)

    again = import_file(engine, SCHOOL, "students", STUDENTS_CSV, "hoc-sinh.csv")
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 4, 4)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(StudentRow)) == 4
        assert roster_version(session, SCHOOL) == version, "an inert re-import bumps nothing"

    renamed = STUDENTS_CSV.replace("Phạm Ngọc Hân".encode(), "Phạm Ngọc Hân Nhi".encode())
    third = import_file(engine, SCHOOL, "students", renamed, "hoc-sinh.csv")
    assert (third.created, third.updated, third.unchanged) == (0, 1, 3)
    with Session(engine) as session:
        assert roster_version(session, SCHOOL) != version


def test_windows_1258_timetable_with_vietnamese_weekdays(engine: Engine) -> None:
    import_file(engine, SCHOOL, "students", STUDENTS_CSV, "hoc-sinh.csv")
    report = import_file(engine, SCHOOL, "timetable", TIMETABLE_CSV, "tkb.csv")
    assert (report.created, report.rejected) == (5, 2)
    assert {(r.row, r.column) for r in report.rejections} == {(7, "Thứ"), (8, "Kết thúc")}
    assert "Thứ" in next(r.vi for r in report.rejections if r.row == 7)
    with Session(engine) as session:
        rows = session.execute(select(ClassRow.name, TimetableRow.weekday, TimetableRow.period,
                                      TimetableRow.starts, TimetableRow.subject)
                               .join(ClassRow).order_by(ClassRow.name, TimetableRow.weekday,
                                                        TimetableRow.period)).all()
    assert rows[1] == ("10A1", 0, 2, time(7, 50), "Ngữ văn")
    assert ("11C3", 0, 1, time(7, 0), "Vật lý") in rows
    assert ("11C3", 6, 1, time(7, 0), "Hóa học") in rows  # CN = Sunday
    again = import_file(engine, SCHOOL, "timetable", TIMETABLE_CSV, "tkb.csv")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)


def _xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_with_english_headers_cards_and_a_formula(engine: Engine, tmp_path: Path) -> None:
    data = _xlsx([["code", "full_name", "class"],
                  ["HS0101", "Đặng Thu Trang", "11C3"],
                  [1002, "Bùi Gia Huy", "11c3"],
                  ["HS0103", "=CONCAT(\"a\",\"b\")", "11C3"]])
    path = tmp_path / "students.xlsx"
    path.write_bytes(data)
    report = import_file(engine, SCHOOL, "students", path)
    assert (report.created, report.rejected) == (2, 1)
    assert report.rejections[0].row == 4 and report.rejections[0].column == "full_name"
    cards = _xlsx([["Mã HS", "Mã thẻ"], ["HS0101", "em:0f00a1b2d4"], ["1002", "0F00A1B2D5"],
                   ["HS9999", "0F00A1B2D6"]])
    report = import_file(engine, SCHOOL, "cards", cards, "the.xlsx")
    assert (report.created, report.rejected) == (2, 1)
    assert report.rejections[0].en == "No student with code HS9999"
    with Session(engine) as session:
        huy = session.scalar(select(StudentRow).where(StudentRow.code == "1002"))
        assert huy is not None
        assert session.get(CardRow, "em:0F00A1B2D5").student_id == huy.id  # type: ignore[union-attr]


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (20 * 1024 * 1024))
    return out.getvalue()


HOSTILE = [
    (_zip_bomb(), "bom.xlsx", "compression bomb"),
    (b"Ma HS,Ho va ten\nHS1,An\n", "fake.xlsx", "Not a valid XLSX"),
    (b"PK\x03\x04 not really a zip", "broken.xlsx", "Not a valid XLSX"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "old.xls", ".xls"),
    (b"code,full_name\n" + b"HS1,An\n" * (MAX_ROWS + 5), "big.csv", "Too many rows"),
    (b"Ten,Tuoi\nAn,16\n", "wrong.csv", "No header row"),
]


def test_hostile_or_wrong_files_get_a_clear_error_and_import_nothing(engine: Engine) -> None:
    for data, name, en in HOSTILE:
        with pytest.raises(ImportFileError) as caught:
            import_file(engine, SCHOOL, "students", data, name)
        assert en in caught.value.en and caught.value.vi, name
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(StudentRow)) == 0


def test_card_uids_are_normalised_to_the_wire_form() -> None:
    assert normalise_card(" 0f00a1b2c3 ") == "em:0F00A1B2C3"
    assert normalise_card("EM:0F-00-A1-B2-C3") == "em:0F00A1B2C3"
    assert normalise_card("04:a1:b2:c3:d4:e5:f6") == "nfc:04A1B2C3D4E5F6"
    assert normalise_card("qr:TDN-HS0001") == "qr:TDN-HS0001"
    for bad in ("0F00A1B2C3D4", "em:0F00A1B2", "xx:12", "nfc:04A1B2C3D4", "GGGGGGGGGG"):
        with pytest.raises(ValueError):
            normalise_card(bad)
    assert normalise_card("0F00A1B2") == "nfc:0F00A1B2"  # 4 bytes: an NFC UID
