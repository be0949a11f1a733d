"""Import students, cards, classes, rooms and timetables as schools keep them.

A bad row is rejected with its row number, column and reason (Vietnamese and English) and never
stops the good rows. Every row is an upsert on its natural key (school+code, card, class name,
room id, class+weekday+period), so importing the same file twice changes nothing the second time.
The whole file is one transaction, with the roster version bumped when anything changed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.people import CardRow, ClassRow, RoomRow, SchoolRow, StudentRow, TimetableRow
from hub.services.people.roster import bump_roster
from hub.services.people.rows import (
    MODELS,
    CardIn,
    ClassIn,
    RoomIn,
    StudentIn,
    TimetableIn,
    header_map,
    reasons,
)
from hub.services.people.sheets import Formula, ImportFileError, read_sheet

KINDS = tuple(MODELS)
#: Title rows above the header ("DANH SÁCH HỌC SINH LỚP 10A1") are skipped up to this many.
HEADER_SEARCH_ROWS = 10


class Rejection(BaseModel):
    """Why one row was not imported."""

    row: int
    column: str
    vi: str
    en: str


class ImportReport(BaseModel):
    """What an import did, row by row."""

    kind: str
    filename: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejections: list[Rejection] = Field(default_factory=list)

    def reject(self, row: int, column: str, vi: str, en: str) -> None:
        """Count a rejected row (its first reason) and keep every reason."""
        if not self.rejections or self.rejections[-1].row != row:
            self.rejected += 1
        self.rejections.append(Rejection(row=row, column=column, vi=vi, en=en))


class RowRejected(Exception):
    """One row refused: the field at fault, and why in both languages."""

    def __init__(self, field: str, vi: str, en: str) -> None:
        super().__init__(en)
        self.field, self.vi, self.en = field, vi, en


def row_values(columns: dict[int, str], cells: list[Any]) -> dict[str, Any]:
    """The row's filled cells by field; RowRejected for a formula (the file has no value)."""
    values: dict[str, Any] = {}
    for index, field in columns.items():
        cell = cells[index] if index < len(cells) else None
        if isinstance(cell, Formula):
            raise RowRejected(field, "Không chấp nhận công thức, hãy nhập giá trị",
                              "Formulas are not accepted: enter the value")
        if cell is not None:
            values[field] = cell
    return values


def import_rows(report: ImportReport, rows: list[tuple[int, list[Any]]], headers: dict[str, str],
                take: Callable[[list[Any]], str]) -> None:
    """Give each row's cells to ``take``, which applies it and says ``created``, ``updated`` or
    ``unchanged``, or raises RowRejected or ValidationError; count each in ``report``."""
    for number, cells in rows:
        report.rows += 1
        try:
            outcome = take(cells)
        except RowRejected as error:
            report.reject(number, headers.get(error.field, error.field), error.vi, error.en)
            continue
        except ValidationError as error:
            for field, vi, en in reasons(error):
                report.reject(number, headers.get(field, field), vi, en)
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)


def import_file(engine: Engine, school: str, kind: str, path_or_bytes: str | Path | bytes,
                filename: str | None = None) -> ImportReport:
    """Import one file of ``kind`` for ``school``; ImportFileError if the file as a whole is bad."""
    if kind not in KINDS:
        raise ImportFileError(f"Loại dữ liệu không hỗ trợ: {kind}", f"Unknown import kind: {kind}",
                              404)
    if isinstance(path_or_bytes, bytes):
        data, name = path_or_bytes, filename or "upload"
    else:
        data, name = Path(path_or_bytes).read_bytes(), filename or Path(path_or_bytes).name
    sheet = read_sheet(data, name)
    found = next(((at, header_map(kind, cells)) for at, (_, cells)
                  in enumerate(sheet.rows[:HEADER_SEARCH_ROWS]) if header_map(kind, cells)), None)
    if found is None or found[1] is None:
        required = [n for n, f in MODELS[kind].model_fields.items() if f.is_required()]
        raise ImportFileError(f"Không tìm thấy dòng tiêu đề với các cột bắt buộc: {required}",
                              f"No header row with the required columns: {required}")
    header_at, columns = found[0], found[1]
    headers = {field: str(sheet.rows[header_at][1][i]) for i, field in columns.items()}
    report = ImportReport(kind=kind, filename=name)
    with Session(engine) as session, session.begin():
        if session.get(SchoolRow, school) is None:
            raise ImportFileError(f"Không có trường {school}", f"No school {school}", 404)
        upsert = _Upserter(session, school)
        seen: set[Any] = set()

        def take(cells: list[Any]) -> str:
            row = MODELS[kind].model_validate(row_values(columns, cells))
            key = upsert.key(row)
            if key in seen:
                raise RowRejected(upsert.key_field(row), "Trùng khóa với một dòng phía trên",
                                  "Same key as an earlier row of this file")
            seen.add(key)
            return upsert.apply(row)

        import_rows(report, sheet.rows[header_at + 1:], headers, take)
        if report.created or report.updated:
            bump_roster(session, school)
    return report


def _changed(row: Any, **values: Any) -> bool:
    changed = False
    for name, value in values.items():
        if value is not None and getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


class _Upserter:
    """Applies validated rows to one school, with its existing rows loaded once."""

    def __init__(self, session: Session, school: str) -> None:
        self.session, self.school = session, school
        self.classes = {c.name: c for c in session.scalars(
            select(ClassRow).where(ClassRow.school == school))}
        self.students = {s.code: s for s in session.scalars(
            select(StudentRow).where(StudentRow.school == school))}
        self.periods = {(p.class_id, p.weekday, p.period): p for p in session.scalars(
            select(TimetableRow).join(ClassRow).where(ClassRow.school == school))}

    def key(self, row: BaseModel) -> Any:
        """The natural key of ``row`` within the file."""
        match row:
            case StudentIn():
                return row.code
            case CardIn():
                return row.card
            case ClassIn():
                return row.class_name
            case RoomIn():
                return row.room
            case TimetableIn():
                return (row.class_name, row.weekday, row.period)
        raise TypeError(row)

    def key_field(self, row: BaseModel) -> str:
        """The column to blame for a duplicate key."""
        return {StudentIn: "code", CardIn: "card", ClassIn: "class_name", RoomIn: "room",
                TimetableIn: "period"}[type(row)]

    def apply(self, row: BaseModel) -> str:
        """Upsert ``row``: ``created``, ``updated`` or ``unchanged``."""
        match row:
            case StudentIn():
                return self._student(row)
            case CardIn():
                student = self.students.get(row.code)
                if student is None:
                    raise RowRejected("code", f"Không có học sinh mã {row.code}",
                                       f"No student with code {row.code}")
                return self._card(student, row.card)
            case ClassIn():
                _, outcome = self._class(row.class_name, row.room)
                return outcome
            case RoomIn():
                return self._room(row)
            case TimetableIn():
                return self._period(row)
        raise TypeError(row)

    def _class(self, name: str, room: str | None = None) -> tuple[ClassRow, str]:
        found = self.classes.get(name)
        if found is None:
            found = ClassRow(school=self.school, name=name, room=room or "")
            self.session.add(found)
            self.session.flush()
            self.classes[name] = found
            return found, "created"
        return found, "updated" if _changed(found, room=room) else "unchanged"

    def _student(self, row: StudentIn) -> str:
        class_id = self._class(row.class_name)[0].id if row.class_name else None
        student = self.students.get(row.code)
        if student is None:
            student = StudentRow(school=self.school, code=row.code, full_name=row.full_name,
                                 class_id=class_id, photo_url=row.photo_url or "")
            self.session.add(student)
            self.session.flush()
            self.students[row.code] = student
            outcome = "created"
        else:
            outcome = "updated" if _changed(student, full_name=row.full_name, class_id=class_id,
                                            photo_url=row.photo_url) else "unchanged"
        if row.card is not None and self._card(student, row.card) != "unchanged" \
                and outcome == "unchanged":
            outcome = "updated"
        return outcome

    def _card(self, student: StudentRow, card: str) -> str:
        found = self.session.get(CardRow, card)
        if found is None:
            self.session.add(CardRow(card=card, student_id=student.id))
            self.session.flush()
            return "created"
        if found.student_id != student.id:
            # Moving a card between students is done through the API (block, replace), never by
            # a file: a typo must not hand one child's wallet to another.
            raise RowRejected("card", "Thẻ này đã được cấp cho học sinh khác",
                               "This card already belongs to another student")
        return "unchanged"  # a re-import never unblocks a blocked card

    def _room(self, row: RoomIn) -> str:
        found = self.session.get(RoomRow, (self.school, row.room))
        if found is None:
            self.session.add(RoomRow(school=self.school, id=row.room, name=row.name or row.room,
                                     kind=row.kind))
            return "created"
        return "updated" if _changed(found, name=row.name, kind=row.kind) else "unchanged"

    def _period(self, row: TimetableIn) -> str:
        klass, _ = self._class(row.class_name)
        found = self.periods.get((klass.id, row.weekday, row.period))
        if found is None:
            self.session.add(TimetableRow(class_id=klass.id, weekday=row.weekday,
                                          period=row.period, starts=row.starts, ends=row.ends,
                                          subject=row.subject or "", room=row.room or ""))
            return "created"
        changed = _changed(found, starts=row.starts, ends=row.ends, subject=row.subject,
                           room=row.room)
        return "updated" if changed else "unchanged"
