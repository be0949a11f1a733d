"""Changes to a school, its students and their cards made one at a time (through the API).

Every function runs inside the caller's transaction and bumps the roster version when it
touches what an edge's roster holds, so offline doors learn of a blocked card at their next sync.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db.attendance import SchoolWebhookRow
from hub.db.people import (
    CARD_ACTIVE,
    CARD_REPLACED,
    CardRow,
    ClassRow,
    SchoolRow,
    StudentRow,
)
from hub.services.people.roster import bump_roster


class PeopleError(ValueError):
    """A change that cannot be made; carries an HTTP status and a bilingual reason."""

    def __init__(self, status: int, vi: str, en: str) -> None:
        super().__init__(en)
        self.status, self.vi, self.en = status, vi, en


def school_exists(session: Session, school: str) -> bool:
    """Whether ``school`` exists."""
    return session.get(SchoolRow, school) is not None


def get_school(session: Session, school: str) -> SchoolRow:
    """The school ``school``; PeopleError 404 otherwise."""
    row = session.get(SchoolRow, school)
    if row is None:
        raise PeopleError(404, f"Không có trường {school}", f"No school {school}")
    return row


def put_school(session: Session, school: str, *, webhook_url: str | None = None,
               **fields: Any) -> tuple[SchoolRow, bool]:
    """Create or update a school (and its parents' webhook; ``""`` removes it);
    returns the row and whether it was created."""
    row = session.get(SchoolRow, school)
    created = row is None
    if row is None:
        row = SchoolRow(id=school, **fields)
        session.add(row)
    else:
        for name, value in fields.items():
            setattr(row, name, value)
    session.flush()
    if webhook_url is not None:
        hook = session.get(SchoolWebhookRow, school)
        if not webhook_url:
            if hook is not None:
                session.delete(hook)
        elif hook is None:
            session.add(SchoolWebhookRow(school=school, url=webhook_url))
        else:
            hook.url = webhook_url
    return row, created


def webhook_of(session: Session, school: str) -> str:
    """The school's parents' webhook URL, or ``""``."""
    hook = session.get(SchoolWebhookRow, school)
    return hook.url if hook is not None else ""


def find_student(session: Session, school: str, code: str) -> StudentRow:
    """The student ``code`` of ``school``; PeopleError 404 otherwise."""
    student = session.scalar(select(StudentRow).where(StudentRow.school == school,
                                                      StudentRow.code == code.upper()))
    if student is None:
        raise PeopleError(404, f"Không có học sinh {code}", f"No student {code}")
    return student


def class_named(session: Session, school: str, name: str, create: bool = True) -> ClassRow:
    """The class ``name`` of ``school``, created when missing (if ``create``)."""
    found = session.scalar(select(ClassRow).where(ClassRow.school == school,
                                                  ClassRow.name == name))
    if found is None:
        if not create:
            raise PeopleError(404, f"Không có lớp {name}", f"No class {name}")
        found = ClassRow(school=school, name=name)
        session.add(found)
        session.flush()
    return found


def put_student(session: Session, school: str, code: str, *, full_name: str,
                class_name: str | None, photo_url: str = "", active: bool = True,
                create_only: bool = False) -> tuple[StudentRow, bool]:
    """Create or update student ``code``; PeopleError 409 if ``create_only`` and it exists."""
    if session.get(SchoolRow, school) is None:
        raise PeopleError(404, f"Không có trường {school}", f"No school {school}")
    student = session.scalar(select(StudentRow).where(StudentRow.school == school,
                                                      StudentRow.code == code))
    if student is not None and create_only:
        raise PeopleError(409, f"Học sinh {code} đã tồn tại", f"Student {code} already exists")
    class_id = class_named(session, school, class_name).id if class_name else None
    created = student is None
    if student is None:
        student = StudentRow(school=school, code=code)
        session.add(student)
    student.full_name, student.class_id = full_name, class_id
    student.photo_url, student.active = photo_url, active
    session.flush()
    bump_roster(session, school)
    return student, created


def card_of(session: Session, school: str, card: str) -> tuple[CardRow, StudentRow]:
    """The card and its student, if it belongs to ``school``; PeopleError 404 otherwise."""
    row = session.get(CardRow, card, with_for_update=True)
    student = session.get(StudentRow, row.student_id) if row is not None else None
    if row is None or student is None or student.school != school:
        raise PeopleError(404, f"Không có thẻ {card}", f"No card {card}")
    return row, student


def add_card(session: Session, student: StudentRow, card: str) -> CardRow:
    """Give ``student`` a new active card; PeopleError 409 if the card is already issued."""
    if session.get(CardRow, card) is not None:
        raise PeopleError(409, "Thẻ này đã được cấp", "This card is already issued")
    row = CardRow(card=card, student_id=student.id, status=CARD_ACTIVE,
                  issued_at=datetime.now(UTC))
    session.add(row)
    session.flush()
    bump_roster(session, student.school)
    return row


def set_card_status(session: Session, row: CardRow, school: str, status: str,
                    reason: str = "") -> None:
    """Block (``blocked``/``lost``/``replaced``, with a reason) or unblock (``active``) a card."""
    if row.status == CARD_REPLACED and status == CARD_ACTIVE:
        raise PeopleError(409, "Thẻ đã được thay, không mở lại được",
                          "A replaced card cannot be unblocked")
    row.status = status
    row.blocked_reason = "" if status == CARD_ACTIVE else reason
    row.blocked_at = None if status == CARD_ACTIVE else datetime.now(UTC)
    bump_roster(session, school)


def replace_card(session: Session, row: CardRow, student: StudentRow, new_card: str,
                 reason: str = "") -> CardRow:
    """Mark ``row`` replaced and issue ``new_card`` to the same student."""
    set_card_status(session, row, student.school, CARD_REPLACED, reason or "replaced")
    return add_card(session, student, new_card)
