"""Put the demo school into the hub: its files through the real importer, then wallets.

Everything is keyed so that a second run on the same data directory changes nothing: the
importer upserts on natural keys, top-ups carry a fixed bank reference, and the lost card is
only marked lost once.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.ledger import CHANNEL_BANK, WALLET, AccountRow
from hub.db.people import CARD_ACTIVE, CARD_LOST, CardRow, StudentRow
from hub.services import ledger
from hub.services.people import ImportFileError, ImportReport, import_file
from hub.services.people.manage import put_school, set_card_status
from smartschool_cli.demo_people import (
    DemoStudent,
    classes_csv,
    make_students,
    nfc_cards_csv,
    rooms_csv,
    students_csv,
    timetable_csv,
)
from smartschool_cli.demo_school import (
    CANTEEN_EDGE,
    CANTEEN_NAME,
    GATE_EDGE,
    GATE_NAME,
    SCHOOL_AREA,
    SCHOOL_ID,
    SCHOOL_NAME,
    SCHOOL_TIMEZONE,
    DemoRoom,
)
from smartschool_cli.demo_servers import DemoServerError

log = logging.getLogger(__name__)

#: Parents top up between these amounts (đồng), in steps of 10.000 đ.
TOP_UP_RANGE = (100_000, 300_000)


class DemoSeedError(DemoServerError):
    """A demo file was not imported cleanly: the importer and the files disagree."""


@dataclass(frozen=True, slots=True)
class DemoRoster:
    """Who the simulated students are, as the hub now knows them."""

    students: list[DemoStudent]
    lost_card: str  # reported lost by a parent: the hub declines it
    files: Path
    reports: list[ImportReport]


def school_files(rooms: list[DemoRoom], students: list[DemoStudent]) -> dict[str, tuple[str, bytes]]:
    """Import kind -> (file name, bytes), in the order they must be imported."""
    extra = [(GATE_EDGE, GATE_NAME, "Cổng"), (CANTEEN_EDGE, CANTEEN_NAME, "Căn tin")]
    return {
        "rooms": ("phong-hoc.csv", rooms_csv(rooms, extra)),
        "classes": ("lop.csv", classes_csv(rooms)),
        "students": ("hoc-sinh.csv", students_csv(students)),
        "cards": ("the-nfc.csv", nfc_cards_csv(students)),
        "timetable": ("thoi-khoa-bieu.csv", timetable_csv(rooms)),
    }


def seed_demo_school(engine: Engine, rooms: list[DemoRoom], files: Path) -> DemoRoster:
    """Create the school, write its CSV files to ``files``, import them, fill the wallets."""
    students = make_students(rooms)
    with Session(engine) as session, session.begin():
        put_school(session, SCHOOL_ID, name=SCHOOL_NAME, area=SCHOOL_AREA,
                   timezone=SCHOOL_TIMEZONE)
    files.mkdir(parents=True, exist_ok=True)
    reports = []
    for kind, (name, data) in school_files(rooms, students).items():
        (files / name).write_bytes(data)
        try:
            report = import_file(engine, SCHOOL_ID, kind, data, name)
        except ImportFileError as error:
            raise DemoSeedError(f"the demo school's {name} was refused / tệp bị từ chối: "
                                f"{error.en}") from error
        if report.rejected:
            first = report.rejections[0]
            raise DemoSeedError(f"the demo school's {name}: {report.rejected} rows rejected "
                                f"/ dòng bị từ chối, e.g. row {first.row} column {first.column}: "
                                f"{first.en}")
        log.info("imported %s: %d created, %d updated, %d unchanged", name, report.created,
                 report.updated, report.unchanged)
        reports.append(report)
    lost = students[len(students) // 3].em_card
    with Session(engine) as session, session.begin():
        _top_up(session, students)
        card = session.get(CardRow, lost)
        if card is not None and card.status == CARD_ACTIVE:
            set_card_status(session, card, SCHOOL_ID, CARD_LOST, "Phụ huynh báo mất thẻ")
    return DemoRoster(students, lost, files, reports)


def top_up_low_wallets(engine: Engine, students: list[DemoStudent], below: int = 60_000) -> int:
    """Parents top up the wallets that ran low (a new reference each time); how many."""
    done = 0
    with Session(engine) as session, session.begin():
        low = session.execute(
            select(StudentRow.id, StudentRow.code).join(AccountRow,
                                                        AccountRow.student_id == StudentRow.id)
            .where(StudentRow.school == SCHOOL_ID, AccountRow.kind == WALLET,
                   AccountRow.balance < below)).all()
        codes = {s.code for s in students}
        for student_id, code in low:
            if code not in codes:
                continue
            ledger.top_up(session, school=SCHOOL_ID, student_id=student_id, amount=200_000,
                          channel=CHANNEL_BANK, reference=f"{CHANNEL_BANK}:{uuid.uuid4()}",
                          created_by="demo", note="Phụ huynh nạp thêm tiền")
            done += 1
    if done:
        log.info("parents topped up %d wallets that ran low", done)
    return done


def _top_up(session: Session, students: list[DemoStudent]) -> None:
    ids = {code: student_id for code, student_id in session.execute(
        select(StudentRow.code, StudentRow.id).where(StudentRow.school == SCHOOL_ID))}
    for student in students:
        rng = random.Random(f"topup:{student.code}")
        amount = rng.randrange(TOP_UP_RANGE[0], TOP_UP_RANGE[1] + 1, 10_000)
        # A fixed reference: the second run finds the first run's top-up and adds nothing.
        ledger.top_up(session, school=SCHOOL_ID, student_id=ids[student.code], amount=amount,
                      channel=CHANNEL_BANK, reference=f"{CHANNEL_BANK}:NAPTIEN-{student.code}-01",
                      created_by="demo", note="Phụ huynh nạp tiền đầu năm học")
