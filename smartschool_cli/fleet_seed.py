"""Put a simulated fleet's schools into the hub's database: names and areas, students with
their cards (through the hub's own importer) and topped-up wallets.

With them the hub decides the fleet's taps as arrivals and approves its payments, and the city
wall shows each school by name in its area. Running it again changes nothing: the importer
upserts on natural keys and each top-up carries a fixed reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from firmware_sim.fleet_plan import SchoolPlan
from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.db.people import StudentRow
from hub.services.ledger import top_up
from hub.services.people import import_file
from hub.services.people.manage import put_school

#: Each student's wallet: enough for a few days of the fleet's lunches.
WALLET_DONG = 500_000


@dataclass(frozen=True, slots=True)
class SeedReport:
    """How many schools and students the database has for the fleet after seeding."""

    schools: int
    students: int
    problems: list[str]


def _students_csv(school: SchoolPlan) -> bytes:
    lines = ["Mã HS,Họ và tên,Lớp,Mã thẻ"]
    lines += [f"{s.code},{s.full_name},{s.class_name},{s.card}" for s in school.students]
    return "\n".join(lines).encode("utf-8")


def seed_fleet(db_url: str, schools: list[SchoolPlan]) -> SeedReport:
    """Migrate ``db_url`` and put ``schools`` into it (idempotent); report what is there."""
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    problems: list[str] = []
    students = 0
    try:
        for school in schools:
            with Session(engine) as session, session.begin():
                put_school(session, school.id, name=school.name, area=school.area)
            if not school.students:
                continue
            report = import_file(engine, school.id, "students", _students_csv(school),
                                 f"{school.id}.csv")
            problems += [f"{school.id} row {r.row} {r.column}: {r.en}" for r in report.rejections]
            with Session(engine) as session, session.begin():
                rows = session.scalars(select(StudentRow).where(StudentRow.school == school.id))
                for row in rows:
                    top_up(session, school=school.id, student_id=row.id, amount=WALLET_DONG,
                           channel="cash", reference=f"fleet-seed:{school.id}:{row.code}",
                           created_by="fleet-seed")
                    students += 1
    finally:
        engine.dispose()
    return SeedReport(len(schools), students, problems)
