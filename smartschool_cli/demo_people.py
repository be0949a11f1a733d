"""The demo school's people, made up deterministically, and the CSV files the school keeps.

The files look like what a Vietnamese school exports from its spreadsheets: UTF-8 with a BOM
(Excel's "CSV UTF-8"), a title block above the header row, Vietnamese column names, cards
written as the card printer lists them. The hub's importer reads them as it would a real school's.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import date, timedelta

from firmware_sim.occupancy import school_day
from hub.services.people.rows import fold
from smartschool_cli.demo_school import SCHOOL_NAME, DemoRoom

#: Family names with their rough share of the population (Nguyễn is about four in ten).
_FAMILY = [("Nguyễn", 38), ("Trần", 11), ("Lê", 9), ("Phạm", 7), ("Hoàng", 4), ("Huỳnh", 5),
           ("Phan", 4), ("Vũ", 3), ("Võ", 4), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 2), ("Hồ", 2),
           ("Ngô", 2), ("Dương", 1), ("Lý", 1)]
_MIDDLE = {
    "Nam": ["Văn", "Quốc", "Minh", "Đức", "Hoàng", "Gia", "Thanh", "Hữu", "Anh", "Tuấn", "Nhật",
            "Trung"],
    "Nữ": ["Thị", "Ngọc", "Thu", "Thanh", "Bảo", "Khánh", "Minh", "Phương", "Hoài", "Thùy",
           "Kim", "Gia"],
}
_SECOND = {"Nam": ["Minh", "Gia", "Quốc"], "Nữ": ["Mai", "Ngọc", "Bảo", "Thảo", "Khánh"]}
_GIVEN = {
    "Nam": ["Bảo", "Khang", "Huy", "Khoa", "Phúc", "Nam", "Long", "Quân", "Đạt", "Tài", "Kiệt",
            "Hiếu", "Thịnh", "Duy", "Trí", "Nhân", "Sơn", "Tuấn", "Vinh", "Khôi", "Lâm", "Phát"],
    "Nữ": ["Anh", "Vy", "Ngân", "Trâm", "Thư", "Nhi", "Linh", "Hân", "Trang", "Hương", "Thảo",
           "Uyên", "Quỳnh", "My", "Giang", "Hà", "Yến", "Châu", "Ngọc", "Tiên", "Như", "Phương"],
}
#: Lessons of a Vietnamese upper-secondary week, by how often they come.
_SUBJECTS = ["Toán", "Toán", "Ngữ văn", "Ngữ văn", "Tiếng Anh", "Tiếng Anh", "Vật lý", "Hóa học",
             "Sinh học", "Lịch sử", "Địa lý", "Tin học", "Giáo dục thể chất", "Công nghệ",
             "Giáo dục kinh tế và pháp luật", "Hoạt động trải nghiệm"]
_WEEKDAYS = ["Thứ 2", "Thứ 3", "Thứ 4", "Thứ 5", "Thứ 6", "Thứ 7"]
#: The school year the files are for (students of grade 10 were born 15 years before it).
SCHOOL_YEAR = 2025


@dataclass(frozen=True, slots=True)
class DemoStudent:
    """One made-up student with the cards printed for them."""

    code: str
    full_name: str
    sex: str
    born: date
    class_name: str
    em_card: str  # wire form, em: + 10 hex
    nfc_card: str | None  # wire form, nfc: + 14 hex; those who signed up for the canteen card

    @property
    def given_name(self) -> str:
        """The name Vietnamese lists sort by: the last word."""
        return self.full_name.rsplit(" ", 1)[-1]


def _weighted_family(rng: random.Random) -> str:
    names, weights = zip(*_FAMILY, strict=True)
    return rng.choices(names, weights)[0]


def full_name(rng: random.Random, sex: str) -> str:
    """A Vietnamese full name: family, one or two middle names, given name."""
    parts = [_weighted_family(rng), rng.choice(_MIDDLE[sex])]
    if rng.random() < 0.3:
        second = rng.choice(_SECOND[sex])
        if second != parts[-1]:
            parts.append(second)
    given = rng.choice([g for g in _GIVEN[sex] if g not in parts])
    return " ".join([*parts, given])


def classes_of(rooms: list[DemoRoom]) -> list[DemoRoom]:
    """The rooms that are a class's homeroom (the lab is not)."""
    return [room for room in rooms if room.is_classroom]


def make_students(rooms: list[DemoRoom], per_class: int = 30, seed: int = 2025) -> list[DemoStudent]:
    """``per_class`` students (±2) in each classroom's class, the same for the same seed."""
    students: list[DemoStudent] = []
    used: set[str] = set()
    for room in classes_of(rooms):
        # One generator per class: adding rooms keeps the students of the first ones.
        rng = random.Random(f"{seed}:{room.name}")
        grade = int("".join(ch for ch in room.name if ch.isdigit())[:2] or 10)
        people = []
        for _ in range(per_class + rng.randint(-2, 2)):
            sex = rng.choice(("Nam", "Nữ"))
            born = date(SCHOOL_YEAR - 5 - grade, 1, 1) + timedelta(days=rng.randrange(365))
            people.append((full_name(rng, sex), sex, born))
        # Class lists are in Vietnamese order: by given name, then the whole name.
        people.sort(key=lambda p: (fold(p[0].rsplit(" ", 1)[-1]), fold(p[0])))
        for number, (name, sex, born) in enumerate(people, start=1):
            em = _unique(used, rng, "em:", 10)
            # NXP tags: 7-byte UIDs starting with the manufacturer byte 04.
            nfc = _unique(used, rng, "nfc:04", 12) if rng.random() < 0.6 else None
            students.append(DemoStudent(f"LHP{room.name}{number:02d}", name, sex, born,
                                        room.name, em, nfc))
    return students


def _unique(used: set[str], rng: random.Random, prefix: str, digits: int) -> str:
    while True:
        value = prefix + f"{rng.randrange(16**digits):0{digits}X}"
        if value not in used:
            used.add(value)
            return value


def _csv(title: list[str], header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for line in title:
        writer.writerow([line])
    if title:
        writer.writerow([])
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _printed_em(card: str) -> str:
    return card.removeprefix("em:")  # card printers list EM4100 cards as bare hex


def _printed_nfc(card: str) -> str:
    uid = card.removeprefix("nfc:")  # NFC readers show the UID as colon-separated bytes
    return ":".join(uid[i:i + 2] for i in range(0, len(uid), 2))


def rooms_csv(rooms: list[DemoRoom], extra: list[tuple[str, str, str]]) -> bytes:
    """phong-hoc.csv: every room with a reader or a class, and the gate and canteen."""
    kinds = {True: "Phòng học", False: "Phòng thí nghiệm"}
    rows: list[list[object]] = [[r.edge, r.name, kinds[r.is_classroom]] for r in rooms]
    rows += [list(e) for e in extra]
    return _csv([SCHOOL_NAME, "DANH MỤC PHÒNG"], ["Mã phòng", "Tên phòng", "Loại phòng"], rows)


def classes_csv(rooms: list[DemoRoom]) -> bytes:
    """lop.csv: each class and its homeroom."""
    rows: list[list[object]] = [[r.name, r.edge] for r in classes_of(rooms)]
    return _csv([SCHOOL_NAME, f"DANH SÁCH LỚP NĂM HỌC {SCHOOL_YEAR}-{SCHOOL_YEAR + 1}"],
                ["Tên lớp", "Phòng học"], rows)


def students_csv(students: list[DemoStudent]) -> bytes:
    """hoc-sinh.csv: the school's student list with each one's EM4100 card."""
    rows: list[list[object]] = [
        [i, s.code, s.full_name, s.born.strftime("%d/%m/%Y"), s.sex, s.class_name,
         _printed_em(s.em_card)]
        for i, s in enumerate(students, start=1)
    ]
    return _csv([SCHOOL_NAME, f"DANH SÁCH HỌC SINH NĂM HỌC {SCHOOL_YEAR}-{SCHOOL_YEAR + 1}"],
                ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh", "Giới tính", "Lớp", "Mã thẻ"],
                rows)


def nfc_cards_csv(students: list[DemoStudent]) -> bytes:
    """the-nfc.csv: the NFC canteen cards issued so far."""
    rows: list[list[object]] = [[s.code, s.full_name, _printed_nfc(s.nfc_card)]
                                for s in students if s.nfc_card is not None]
    return _csv([SCHOOL_NAME, "THẺ NFC THANH TOÁN CĂN TIN ĐÃ CẤP"],
                ["Mã học sinh", "Họ và tên", "UID thẻ"], rows)


def timetable_csv(rooms: list[DemoRoom], seed: int = 2025) -> bytes:
    """thoi-khoa-bieu.csv: every class, Monday to Saturday, the periods of the school day."""
    periods = school_day()
    lab = next((r.edge for r in rooms if not r.is_classroom), None)
    rows: list[list[object]] = []
    for room in classes_of(rooms):
        rng = random.Random(f"{seed}:tkb:{room.name}")
        for weekday in _WEEKDAYS:
            for number, period in enumerate(periods, start=1):
                subject = rng.choice(_SUBJECTS)
                where = lab if subject == "Hóa học" and lab is not None else room.edge
                rows.append([room.name, weekday, number, _hhmm(period.start_s),
                             _hhmm(period.end_s), subject, where])
    return _csv([SCHOOL_NAME, f"THỜI KHÓA BIỂU HỌC KỲ I NĂM HỌC {SCHOOL_YEAR}-{SCHOOL_YEAR + 1}"],
                ["Lớp", "Thứ", "Tiết", "Bắt đầu", "Kết thúc", "Môn học", "Phòng"], rows)


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}"
