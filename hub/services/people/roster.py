"""Card UIDs in their wire form, and the versioned roster snapshot edges keep for offline doors.

The version is a counter row per school, bumped in the same transaction by every write to that
school's cards, students or classes (:func:`bump_roster`): one primary-key read answers an
edge's ``If-None-Match`` without reading the roster.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.attendance import RosterVersionRow
from hub.db.people import CardRow, ClassRow, StudentRow

_CARD = re.compile(
    r"^(em:[0-9A-F]{10}|nfc:([0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})|qr:[\x21-\x7e]{1,256})$")
_SEPARATORS = re.compile(r"[\s:\-.]")


def normalise_card(raw: str) -> str:
    """The wire form of a card as schools write it (``0f00a1b2c3``, ``04:A1:B2:C3``,
    ``EM:0F00A1B2C3``); ValueError if it is none of ``em:``, ``nfc:``, ``qr:``."""
    text = raw.strip()
    tech, sep, rest = text.partition(":")
    tech = tech.lower()
    if sep and tech == "qr":
        card = "qr:" + rest.strip()
    elif sep and tech in ("em", "nfc"):
        card = f"{tech}:{_SEPARATORS.sub('', rest).upper()}"
    else:
        uid = _SEPARATORS.sub("", text).upper()
        card = ("em:" if len(uid) == 10 else "nfc:") + uid
    if not _CARD.match(card):
        raise ValueError(raw)
    return card


def bump_roster(session: Session, school: str) -> None:
    """Mark the school's roster changed; call it in every transaction that writes cards,
    students or classes of ``school``."""
    row = session.get(RosterVersionRow, school, with_for_update=True)
    if row is None:
        session.add(RosterVersionRow(school=school, salt=secrets.token_hex(4), counter=1))
    else:
        row.counter += 1


def roster_version(session: Session, school: str) -> str:
    """The opaque version of ``school``'s roster (changes with every bump)."""
    row = session.get(RosterVersionRow, school)
    return "r0" if row is None else f"r{row.salt}.{row.counter}"


def roster_snapshot(engine: Engine, school: str) -> dict[str, Any]:
    """``{"version", "school", "cards": {card: {student, name, class, photo_url, status}}}``;
    blocked cards are listed too (status ``blocked``/``lost``/``replaced``/``inactive``) so an
    offline door can refuse them."""
    with Session(engine) as session, session.begin():
        version = roster_version(session, school)
        rows = session.execute(
            select(CardRow.card, CardRow.status, StudentRow.code, StudentRow.full_name,
                   StudentRow.photo_url, ClassRow.name, StudentRow.active)
            .join(StudentRow, StudentRow.id == CardRow.student_id)
            .outerjoin(ClassRow, ClassRow.id == StudentRow.class_id)
            .where(StudentRow.school == school)
            .order_by(CardRow.card)).all()
    cards = {
        card: {"student": code, "name": name, "class": class_name or "", "photo_url": photo,
               "status": status if active else "inactive"}
        for card, status, code, name, photo, class_name, active in rows
    }
    return {"version": version, "school": school, "cards": cards}
