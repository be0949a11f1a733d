"""Schools, students, cards, file imports and the edge roster snapshot (``/api/v1``).

Errors carry ``detail: {"vi": ..., "en": ...}``. Admins manage every school; staff their own;
a parent reads (and may report lost) only their own children's records.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth import Principal, Role, forbid_unless, require
from hub.db.people import CARD_ACTIVE, CardRow, ClassRow, StudentRow
from hub.services.people import (
    ImportFileError,
    import_file,
    manage,
    normalise_card,
    roster_snapshot,
    roster_version,
)
from hub.services.people.manage import PeopleError
from hub.services.people.sheets import MAX_FILE_BYTES

router = APIRouter(prefix="/api/v1", tags=["people"])
SchoolId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")]
_STAFF = (Role.ADMIN, Role.STAFF)
Admin = Annotated[Principal, require(Role.ADMIN)]
Staff = Annotated[Principal, require(*_STAFF)]
StaffOrParent = Annotated[Principal, require(*_STAFF, Role.PARENT)]
Reader = Annotated[Principal, require(*_STAFF, Role.CASHIER, Role.PARENT)]
EdgeOrStaff = Annotated[Principal, require(Role.EDGE, *_STAFF)]


def db(request: Request) -> Iterator[Session]:
    """A session in a transaction, committed when the route returns; PeopleError -> HTTP."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        try:
            with session.begin():
                yield session
        except PeopleError as error:
            raise HTTPException(error.status, {"vi": error.vi, "en": error.en}) from None


#: scope="function": the commit happens before the response leaves, so a client that reads
#: right after a write sees it.
Db = Annotated[Session, Depends(db, scope="function")]


class SchoolIn(BaseModel):
    """A school's settings."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    area: Annotated[str, Field(max_length=100)] = ""
    timezone: str = "Asia/Ho_Chi_Minh"
    late_grace_min: Annotated[int, Field(ge=0, le=120)] = 10
    duplicate_window_s: Annotated[int, Field(ge=0, le=86_400)] = 300
    offline_limit: Annotated[int, Field(ge=0, le=10_000_000)] = 50_000
    #: Where parents' notifications are POSTed; "" removes it, absent leaves it as it is.
    webhook_url: Annotated[str, Field(max_length=500,
                                      pattern=r"^(https?://[^\s]+)?$")] | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown timezone") from None
        return value


class NewSchool(SchoolIn):
    """A school to create, with its id."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


def _school_out(session: Session, row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "area": row.area, "timezone": row.timezone,
            "late_grace_min": row.late_grace_min, "duplicate_window_s": row.duplicate_window_s,
            "offline_limit": row.offline_limit, "webhook_url": manage.webhook_of(session, row.id)}


@router.post("/schools", status_code=201)
def create_school(body: NewSchool, session: Db,
                  caller: Admin) -> dict[str, Any]:
    """Create a school (admin); 409 if it exists."""
    if manage.school_exists(session, body.id):
        raise PeopleError(409, f"Trường {body.id} đã tồn tại", f"School {body.id} exists")
    row, _ = manage.put_school(session, body.id, **body.model_dump(exclude={"id"}))
    return _school_out(session, row)


@router.put("/schools/{school}")
def put_school(school: SchoolId, body: SchoolIn, session: Db,
               caller: Admin) -> dict[str, Any]:
    """Create or update a school's settings (admin)."""
    row, _ = manage.put_school(session, school, **body.model_dump())
    return _school_out(session, row)


@router.get("/schools/{school}")
def get_school(school: SchoolId, session: Db,
               caller: Staff) -> dict[str, Any]:
    """A school's settings (admin, or its staff)."""
    forbid_unless(caller.can_see_school(school))
    row = manage.get_school(session, school)
    return _school_out(session, row)


class StudentIn(BaseModel):
    """A student as the API writes one."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    full_name: Annotated[str, Field(min_length=1, max_length=200)]
    class_name: Annotated[str | None, Field(min_length=1, max_length=32, alias="class")] = None
    photo_url: Annotated[str, Field(max_length=500)] = ""
    active: bool = True


class NewStudent(StudentIn):
    """A student to create, with their code."""

    code: Code


def student_out(student: StudentRow, class_name: str | None) -> dict[str, Any]:
    """A student as the API shows one."""
    return {"id": student.id, "school": student.school, "code": student.code,
            "full_name": student.full_name, "class": class_name or "",
            "photo_url": student.photo_url, "active": student.active}


def _class_name(session: Session, student: StudentRow) -> str | None:
    klass = session.get(ClassRow, student.class_id) if student.class_id is not None else None
    return klass.name if klass is not None else None


def visible_student(session: Session, caller: Principal, school: str, code: str) -> StudentRow:
    """Student ``code`` of ``school`` if the caller may see them (403 before 404 for outsiders)."""
    forbid_unless(caller.role is Role.PARENT or caller.can_see_school(school))
    student = manage.find_student(session, school, code)
    forbid_unless(caller.can_see_student(school, student.id))
    return student


@router.get("/schools/{school}/students")
def list_students(school: SchoolId, session: Db, caller: Staff,
                  class_name: Annotated[str | None, Query(alias="class")] = None,
                  ) -> dict[str, Any]:
    """The school's students, optionally of one class."""
    forbid_unless(caller.can_see_school(school))
    query = (select(StudentRow, ClassRow.name).outerjoin(ClassRow)
             .where(StudentRow.school == school).order_by(StudentRow.code))
    if class_name:
        query = query.where(ClassRow.name == class_name)
    return {"students": [student_out(s, c) for s, c in session.execute(query).all()]}


@router.post("/schools/{school}/students", status_code=201)
def create_student(school: SchoolId, body: NewStudent, session: Db,
                   caller: Staff) -> dict[str, Any]:
    """Create a student; 409 if the code is taken."""
    forbid_unless(caller.can_see_school(school))
    student, _ = manage.put_student(session, school, body.code.upper(), create_only=True,
                                    **body.model_dump(exclude={"code"}))
    return student_out(student, body.class_name)


@router.get("/schools/{school}/students/{code}")
def get_student(school: SchoolId, code: str, session: Db,
                caller: Reader) -> dict[str, Any]:
    """One student (a parent: their own child only)."""
    student = visible_student(session, caller, school, code)
    return student_out(student, _class_name(session, student))


@router.put("/schools/{school}/students/{code}")
def put_student(school: SchoolId, code: Code, body: StudentIn, session: Db,
                caller: Staff) -> dict[str, Any]:
    """Create or update a student."""
    forbid_unless(caller.can_see_school(school))
    student, _ = manage.put_student(session, school, code.upper(), **body.model_dump())
    return student_out(student, body.class_name)


def card_out(row: CardRow) -> dict[str, Any]:
    """A card as the API shows one."""
    return {"card": row.card, "status": row.status, "issued_at": row.issued_at,
            "blocked_at": row.blocked_at, "blocked_reason": row.blocked_reason}


def _card(raw: str) -> str:
    try:
        return normalise_card(raw)
    except ValueError:
        raise HTTPException(422, {"vi": "Mã thẻ không hợp lệ", "en": "Invalid card"}) from None


@router.get("/schools/{school}/students/{code}/cards")
def list_cards(school: SchoolId, code: str, session: Db,
               caller: StaffOrParent) -> dict[str, Any]:
    """A student's cards, blocked ones included."""
    student = visible_student(session, caller, school, code)
    rows = session.scalars(select(CardRow).where(CardRow.student_id == student.id)
                           .order_by(CardRow.issued_at))
    return {"cards": [card_out(r) for r in rows]}


class CardIn(BaseModel):
    """A card to issue."""

    model_config = ConfigDict(extra="forbid")
    card: Annotated[str, Field(min_length=3, max_length=300)]


@router.post("/schools/{school}/students/{code}/cards", status_code=201)
def add_card(school: SchoolId, code: str, body: CardIn, session: Db,
             caller: Staff) -> dict[str, Any]:
    """Issue a card to a student."""
    student = visible_student(session, caller, school, code)
    return card_out(manage.add_card(session, student, _card(body.card)))


class BlockIn(BaseModel):
    """Why a card is blocked; ``lost`` when reported lost."""

    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=200)] = ""
    status: Annotated[str, Field(pattern="^(blocked|lost)$")] = "blocked"


class ReplaceIn(BaseModel):
    """The new card replacing an old one."""

    model_config = ConfigDict(extra="forbid")
    new_card: Annotated[str, Field(min_length=3, max_length=300)]
    reason: Annotated[str, Field(max_length=200)] = ""


@router.post("/schools/{school}/cards/{card:path}/block")
def block_card(school: SchoolId, card: str, body: BlockIn, session: Db,
               caller: StaffOrParent) -> dict[str, Any]:
    """Block a card (a parent may block their own child's card, e.g. when lost)."""
    row, student = _visible_card(session, caller, school, card)
    manage.set_card_status(session, row, school, body.status, body.reason)
    return card_out(row)


@router.post("/schools/{school}/cards/{card:path}/unblock")
def unblock_card(school: SchoolId, card: str, session: Db,
                 caller: Staff) -> dict[str, Any]:
    """Unblock a blocked or lost card (not a replaced one)."""
    row, _ = _visible_card(session, caller, school, card)
    manage.set_card_status(session, row, school, CARD_ACTIVE)
    return card_out(row)


@router.post("/schools/{school}/cards/{card:path}/replace")
def replace_card(school: SchoolId, card: str, body: ReplaceIn, session: Db,
                 caller: Staff) -> dict[str, Any]:
    """Mark a card replaced and issue a new one to the same student."""
    row, student = _visible_card(session, caller, school, card)
    new = manage.replace_card(session, row, student, _card(body.new_card), body.reason)
    return {"old": card_out(row), "new": card_out(new)}


def _visible_card(session: Session, caller: Principal, school: str,
                  card: str) -> tuple[CardRow, StudentRow]:
    forbid_unless(caller.role is Role.PARENT or caller.can_see_school(school))
    row, student = manage.card_of(session, school, _card(card))
    forbid_unless(caller.can_see_student(school, student.id))
    return row, student


@router.post("/schools/{school}/import/{kind}")
def import_upload(school: SchoolId, kind: str, file: UploadFile, request: Request,
                  caller: Staff) -> dict[str, Any]:
    """Import a CSV or XLSX of ``students``, ``cards``, ``classes``, ``rooms`` or
    ``timetable``; answers the report (counts and the rejected rows)."""
    forbid_unless(caller.can_see_school(school))
    data = file.file.read(MAX_FILE_BYTES + 1)
    try:
        report = import_file(request.app.state.engine, school, kind, data,
                             file.filename or "upload")
    except ImportFileError as error:
        raise HTTPException(error.status, {"vi": error.vi, "en": error.en}) from None
    return report.model_dump()


def _etag_matches(header: str | None, version: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    return "*" in tags or version in tags


@router.get("/edge/roster", tags=["edge"])
def edge_roster(request: Request, school: Annotated[str, Query(
                    pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")],
                caller: EdgeOrStaff) -> Response:
    """The school's card roster for offline doors; ``ETag`` is the version and a matching
    ``If-None-Match`` gets 304 without a body."""
    forbid_unless(caller.can_see_school(school))
    engine = request.app.state.engine
    with Session(engine) as session:
        version = roster_version(session, school)
    if _etag_matches(request.headers.get("if-none-match"), version):
        return Response(status_code=304, headers={"ETag": f'"{version}"'})
    snapshot = roster_snapshot(engine, school)
    return JSONResponse(snapshot, headers={"ETag": f'"{snapshot["version"]}"'})
