"""Who is in a simulated fleet: schools spread over the city's areas, their rooms' edge boxes,
the devices wired to each, and the students' cards. Pure and deterministic.

The pilot schools come first, in the areas they are in; more schools, named after their area,
fill the former districts in turn. A school's first edge box is its canteen (a till), the others
are classrooms (a door reader); every box has a CO2 and a PM sensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from firmware_sim.occupancy import RoomProfile

#: (id, name, area): the pilot schools of the department's plan.
PILOT_SCHOOLS = [
    ("thpt-le-hong-phong", "THPT Chuyên Lê Hồng Phong", "Quận 5"),
    ("thpt-tran-dai-nghia", "THPT Chuyên Trần Đại Nghĩa", "Quận 1"),
    ("thpt-le-quy-don", "THPT Lê Quý Đôn", "Quận 3"),
    ("thpt-nguyen-hien", "THPT Nguyễn Hiền", "Quận 11"),
    ("thpt-nguyen-du", "THPT Nguyễn Du", "Quận 10"),
    ("thcs-tan-binh", "THCS Tân Bình", "Tân Bình"),
    ("thpt-cu-chi", "THPT Củ Chi", "Củ Chi"),
]
#: (slug, name): the former districts, in the order more schools are spread over them.
AREAS = [
    ("quan-1", "Quận 1"), ("quan-3", "Quận 3"), ("quan-4", "Quận 4"), ("quan-5", "Quận 5"),
    ("quan-6", "Quận 6"), ("quan-7", "Quận 7"), ("quan-8", "Quận 8"), ("quan-10", "Quận 10"),
    ("quan-11", "Quận 11"), ("quan-12", "Quận 12"), ("binh-thanh", "Bình Thạnh"),
    ("go-vap", "Gò Vấp"), ("phu-nhuan", "Phú Nhuận"), ("tan-binh", "Tân Bình"),
    ("tan-phu", "Tân Phú"), ("binh-tan", "Bình Tân"), ("thu-duc", "Thủ Đức"),
    ("cu-chi", "Củ Chi"), ("hoc-mon", "Hóc Môn"), ("binh-chanh", "Bình Chánh"),
    ("nha-be", "Nhà Bè"), ("can-gio", "Cần Giờ"),
]
#: Edge boxes per school when the number of schools is not given.
EDGES_PER_SCHOOL = 5
CANTEEN_EDGE, CANTEEN_ROOM, TILL = "can-tin", "Căng tin", "till-1"
DOOR_READER, CO2_SENSOR, PM_SENSOR = "door-1", "co2-1", "pm-1"

_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
           "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
#: Middle names of girls and of boys; given names alternate girl, boy.
_MIDDLE = (["Thị", "Ngọc", "Thu", "Bảo", "Minh", "Khánh"], ["Văn", "Quốc", "Minh", "Đức", "Gia"])
_GIVEN = ["Mai Anh", "Bảo", "Châu", "Huy", "Hân", "Khang", "Trang", "Long", "Linh", "Kiệt",
          "Nhi", "Phúc", "Vy", "Khoa", "Thư", "Nam", "Ngân", "Quân", "Uyên", "Đạt"]


@dataclass(frozen=True, slots=True)
class DevicePlan:
    """A device on an edge box, as the box's birth lists it."""

    id: str
    kind: str
    model: str


@dataclass(frozen=True, slots=True)
class EdgePlan:
    """One edge box: the room it is in and what is wired to it."""

    school: str
    edge: str
    room: str
    devices: tuple[DevicePlan, ...]
    air: RoomProfile

    @property
    def reader(self) -> str:
        """The id of its card reader: the canteen's till or the classroom's door reader."""
        return TILL if self.edge == CANTEEN_EDGE else DOOR_READER

    @property
    def is_canteen(self) -> bool:
        """Whether students pay here (else they tap in at the door)."""
        return self.edge == CANTEEN_EDGE


@dataclass(frozen=True, slots=True)
class StudentPlan:
    """A student with one EM4100 card."""

    code: str
    full_name: str
    class_name: str
    card: str


@dataclass(frozen=True, slots=True)
class SchoolPlan:
    """A school, its area (a former district), its edge boxes and its students."""

    id: str
    name: str
    area: str
    index: int
    edges: tuple[EdgePlan, ...]
    students: tuple[StudentPlan, ...]


def _schools(count: int) -> list[tuple[str, str, str]]:
    chosen = PILOT_SCHOOLS[:count]
    per_area: dict[str, int] = {}
    for i in range(count - len(chosen)):
        slug, area = AREAS[i % len(AREAS)]
        per_area[slug] = per_area.get(slug, 0) + 1
        level = "THCS" if i % 3 else "THPT"
        n = per_area[slug]
        chosen.append((f"{level.lower()}-{slug}-{n}", f"{level} {area} số {n}", area))
    return chosen


def _room_names(level: str, count: int) -> list[str]:
    grades = (10, 11, 12) if level == "thpt" else (6, 7, 8, 9)
    return [f"{grades[i % len(grades)]}A{i // len(grades) + 1}" for i in range(count)]


def _edge(school: str, room: str, index: int) -> EdgePlan:
    sensors = (DevicePlan(CO2_SENSOR, "co2", "MH-Z19B"), DevicePlan(PM_SENSOR, "pm", "PMS5003"))
    if room == CANTEEN_ROOM:
        reader = DevicePlan(TILL, "card-reader", "PN532")
        air = RoomProfile(name=room, capacity=150, volume_m3=900.0, ach=6.0)
        return EdgePlan(school, CANTEEN_EDGE, room, (*sensors, reader), air)
    reader = DevicePlan(DOOR_READER, "card-reader", "RDM6300")
    # Some rooms are aired badly: their CO2 passes the 1500 ppm limit in long lessons.
    air = RoomProfile(name=room, capacity=40 + index % 6, volume_m3=190.0 + 5 * (index % 5),
                      ach=(2.5, 1.8, 1.2, 2.0, 0.8)[index % 5])
    return EdgePlan(school, f"p-{room.lower()}", room, (*sensors, reader), air)


def _students(index: int, school: str, classes: list[str], count: int) -> tuple[StudentPlan, ...]:
    if not classes:
        return ()
    students = []
    for n in range(count):
        given = (n + index) % len(_GIVEN)
        middles = _MIDDLE[given % 2]
        name = (f"{_FAMILY[(n * 7 + index) % len(_FAMILY)]} {middles[(n // 2) % len(middles)]} "
                f"{_GIVEN[given]}")
        # em: + 10 hex: F, the school's number (3 hex), the student's (6 hex): unique citywide.
        card = f"em:F{index:03X}{n:06X}"
        students.append(StudentPlan(f"HS{index:03d}{n:04d}", name, classes[n % len(classes)], card))
    return tuple(students)


def plan_fleet(edges: int, schools: int | None = None,
               students_per_school: int = 40) -> list[SchoolPlan]:
    """``edges`` edge boxes spread evenly over ``schools`` schools (default: one per
    ``EDGES_PER_SCHOOL`` boxes), each school with ``students_per_school`` carded students."""
    if edges < 1:
        raise ValueError("a fleet needs at least one edge")
    count = schools if schools is not None else math.ceil(edges / EDGES_PER_SCHOOL)
    if not 1 <= count <= min(edges, 4095):
        raise ValueError(f"schools must be between 1 and {min(edges, 4095)}")
    plans = []
    for index, (school, name, area) in enumerate(_schools(count)):
        boxes = edges // count + (1 if index < edges % count else 0)
        level = school.split("-", 1)[0]
        # A school with a few boxes has a canteen first; a single box is a classroom.
        canteen = [CANTEEN_ROOM] if boxes >= 2 else []
        rooms = canteen + _room_names(level, boxes - len(canteen))
        plans.append(SchoolPlan(
            school, name, area, index,
            tuple(_edge(school, room, i) for i, room in enumerate(rooms)),
            _students(index, school, [r for r in rooms if r != CANTEEN_ROOM],
                      students_per_school),
        ))
    return plans
