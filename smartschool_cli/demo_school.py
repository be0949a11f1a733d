"""Who is in the demo: THPT Chuyên Lê Hồng Phong and its rooms."""

from __future__ import annotations

from dataclasses import dataclass

from firmware_sim.occupancy import RoomProfile

SCHOOL_ID = "thpt-le-hong-phong"
SCHOOL_NAME = "THPT Chuyên Lê Hồng Phong"
#: Grouping for reports: the former district (the school is on Nguyễn Văn Cừ street).
SCHOOL_AREA = "Quận 5"
SCHOOL_TIMEZONE = "Asia/Ho_Chi_Minh"

#: The main gate's edge box and its reader (``gate-in``: the hub counts an arrival).
GATE_EDGE, GATE_NAME, GATE_READER = "cong-chinh", "Cổng chính", "gate-in-1"
#: The canteen's edge box and its till.
CANTEEN_EDGE, CANTEEN_NAME, TILL = "can-tin", "Căn tin", "till-1"
#: Every classroom's door reader has this device id on the room's edge.
DOOR_READER = "door-1"
#: The canteen is big, crowded at lunch and well aired; the gate is out in the street's air.
CANTEEN_AIR = RoomProfile(name=CANTEEN_NAME, capacity=150, volume_m3=900.0, ach=6.0)
GATE_AIR = RoomProfile(name=GATE_NAME, capacity=0, volume_m3=1000.0, ach=30.0)

#: (room name, capacity, volume m³, air changes per hour): classrooms and a chemistry lab.
_ROOMS = [
    ("10A1", 42, 200.0, 2.0),
    ("11C3", 40, 190.0, 1.2),
    ("Phòng thí nghiệm Hóa", 24, 150.0, 4.0),
    ("12A2", 45, 210.0, 0.8),
    ("10A5", 38, 180.0, 2.5),
    ("11A1", 44, 200.0, 1.5),
]


@dataclass(frozen=True, slots=True)
class DemoRoom:
    """One room: its edge box id, display name and air profile."""

    edge: str
    name: str
    profile: RoomProfile

    @property
    def is_classroom(self) -> bool:
        """Whether a class has this room as its homeroom (named like 10A1; the lab is not)."""
        return self.name[:1].isdigit()


def _edge_id(index: int, name: str) -> str:
    slug = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum())
    return f"p-{slug}" if slug and name[0].isdigit() else f"lab-{index + 1}"


def demo_rooms(count: int) -> list[DemoRoom]:
    """``count`` rooms, the named ones first, then more classrooms numbered 12A3, 12A4…"""
    rooms = []
    for index in range(count):
        if index < len(_ROOMS):
            name, capacity, volume, ach = _ROOMS[index]
        else:
            name, capacity, volume, ach = f"12A{index - len(_ROOMS) + 3}", 40, 200.0, 1.5
        profile = RoomProfile(name=name, capacity=capacity, volume_m3=volume, ach=ach)
        rooms.append(DemoRoom(_edge_id(index, name), name, profile))
    return rooms
