"""What each kind of import file holds: its columns (Vietnamese or English headers) and one
pydantic model per row, whose errors carry a Vietnamese and an English reason."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from hub.services.people.roster import normalise_card

Kind = Literal["students", "cards", "classes", "rooms", "timetable"]


def fold(text: str) -> str:
    """A header or word without case, diacritics or punctuation: ``"Mã HS"`` -> ``"ma hs"``."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def bad_value(vi: str, en: str) -> PydanticCustomError:
    """A validation error of a cell, worded in Vietnamese and English."""
    return PydanticCustomError("bad_value", en, {"vi": vi})


def cell_text(value: Any) -> Any:
    """A spreadsheet cell as text where it holds a whole number (codes, tags)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel keeps "1001" as the number 1001.0
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _code(value: Any) -> str:
    value = cell_text(value)
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", value):
        raise bad_value("Mã học sinh chỉ gồm chữ, số, '.', '-', '_' (tối đa 32 ký tự)",
                   "Student code: letters, digits, '.', '-', '_' (at most 32)")
    return value.upper()


def _name(value: Any) -> str:
    if not isinstance(value, str) or not any(c.isalpha() for c in value) or len(value) > 200:
        raise bad_value("Họ và tên không hợp lệ", "Invalid full name")
    return " ".join(value.split())


def _class(value: Any) -> str:
    value = cell_text(value)
    if not isinstance(value, str) or not 1 <= len(value) <= 32:
        raise bad_value("Tên lớp không hợp lệ (tối đa 32 ký tự)", "Invalid class name (at most 32)")
    value = " ".join(value.split())
    return value.upper() if value.isascii() else value


def _card(value: Any) -> str:
    value = cell_text(value)
    try:
        return normalise_card(str(value))
    except ValueError:
        raise bad_value("Mã thẻ không hợp lệ (EM: 10 ký tự hex, NFC: 8/14/20 ký tự hex, hoặc qr:...)",
                   "Invalid card UID (EM: 10 hex digits, NFC: 8/14/20 hex digits, or qr:...)") \
            from None


def _short(limit: int) -> Any:
    def check(value: Any) -> str:
        value = cell_text(value)
        if not isinstance(value, str) or len(value) > limit:
            raise bad_value(f"Văn bản không hợp lệ (tối đa {limit} ký tự)",
                       f"Invalid text (at most {limit} characters)")
        return value
    return check


_WEEKDAYS = {"2": 0, "3": 1, "4": 2, "5": 3, "6": 4, "7": 5, "8": 6, "cn": 6, "chu nhat": 6,
             "hai": 0, "ba": 1, "tu": 2, "nam": 3, "sau": 4, "bay": 5,
             "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def _weekday(value: Any) -> int:
    key = fold(str(cell_text(value)))
    key = re.sub(r"^(thu|t) ?(?=[2-8]|hai|ba|tu|nam|sau|bay)", "", key)
    key = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
           "friday": "fri", "saturday": "sat", "sunday": "sun"}.get(key, key)
    if key not in _WEEKDAYS:
        raise bad_value("Thứ không hợp lệ (Thứ 2..Thứ 7, CN)", "Invalid weekday (Thứ 2..Thứ 7, CN, Mon..Sun)")
    return _WEEKDAYS[key]


def _period(value: Any) -> int:
    match = re.fullmatch(r"(?:tiet |period )?(\d{1,2})", fold(str(cell_text(value))))
    if match is None or not 1 <= int(match.group(1)) <= 15:
        raise bad_value("Tiết phải là số từ 1 đến 15", "Period must be a number from 1 to 15")
    return int(match.group(1))


def _time(value: Any) -> time:
    if isinstance(value, datetime):
        return value.time().replace(microsecond=0)
    if isinstance(value, time):
        return value.replace(microsecond=0)
    if isinstance(value, float) and 0 <= value < 1:  # an Excel time without its format
        seconds = round(value * 86400)
        return time(seconds // 3600, seconds // 60 % 60)
    match = re.fullmatch(r"(\d{1,2})\s*[:hg]\s*(\d{2})?(?::(\d{2}))?", str(value).strip().lower())
    if match and int(match.group(1)) < 24 and int(match.group(2) or 0) < 60:
        return time(int(match.group(1)), int(match.group(2) or 0))
    raise bad_value("Giờ không hợp lệ (ví dụ 07:00)", "Invalid time (e.g. 07:00)")


_ROOM_KINDS = {"classroom": "classroom", "phong hoc": "classroom", "lab": "lab",
               "phong thi nghiem": "lab", "library": "library", "thu vien": "library",
               "canteen": "canteen", "can tin": "canteen", "nha an": "canteen", "gate": "gate",
               "cong": "gate"}


def _room_kind(value: Any) -> str:
    kind = _ROOM_KINDS.get(fold(str(value)))
    if kind is None:
        raise bad_value("Loại phòng: phòng học, phòng thí nghiệm, thư viện, căn tin, cổng",
                   "Room kind: classroom, lab, library, canteen, gate")
    return kind


Code = Annotated[str, BeforeValidator(_code)]
Name = Annotated[str, BeforeValidator(_name)]
ClassName = Annotated[str, BeforeValidator(_class)]
CardUid = Annotated[str, BeforeValidator(_card)]
_CONFIG = ConfigDict(extra="forbid", frozen=True)


class StudentIn(BaseModel):
    """A row of a students file (a card and a class may come with it)."""

    model_config = _CONFIG
    code: Code
    full_name: Name
    class_name: ClassName | None = None
    card: CardUid | None = None
    photo_url: Annotated[str, BeforeValidator(_short(500))] | None = None


class CardIn(BaseModel):
    """A row of a cards file: which student holds which card."""

    model_config = _CONFIG
    code: Code
    card: CardUid


class ClassIn(BaseModel):
    """A row of a classes file."""

    model_config = _CONFIG
    class_name: ClassName
    room: Annotated[str, BeforeValidator(_short(64))] | None = None


class RoomIn(BaseModel):
    """A row of a rooms file."""

    model_config = _CONFIG
    room: Annotated[str, BeforeValidator(_short(64))]
    name: Annotated[str, BeforeValidator(_short(200))] | None = None
    kind: Annotated[str, BeforeValidator(_room_kind)] = "classroom"


class TimetableIn(BaseModel):
    """A row of a timetable file: one period of one class on one weekday."""

    model_config = _CONFIG
    class_name: ClassName
    weekday: Annotated[int, BeforeValidator(_weekday)]
    period: Annotated[int, BeforeValidator(_period)]
    starts: Annotated[time, BeforeValidator(_time)]
    ends: Annotated[time, BeforeValidator(_time)]
    subject: Annotated[str, BeforeValidator(_short(100))] | None = None
    room: Annotated[str, BeforeValidator(_short(64))] | None = None

    @field_validator("ends")
    @classmethod
    def _order(cls, ends: time, info: ValidationInfo) -> time:
        starts = info.data.get("starts")
        if starts is not None and ends <= starts:
            raise bad_value("Giờ kết thúc phải sau giờ bắt đầu", "The end must be after the start")
        return ends


#: Field -> the folded headers it is known by, per kind; fields in REQUIRED must be present.
_COMMON = {
    "code": {"ma hs", "ma hoc sinh", "ma so hoc sinh", "mshs", "ma so", "code", "student code",
             "student id"},
    "full_name": {"ho va ten", "ho ten", "ho ten hoc sinh", "ten hoc sinh", "full name", "name"},
    "class_name": {"lop", "ten lop", "class", "class name"},
    "card": {"ma the", "so the", "the", "uid the", "card", "card uid", "uid"},
    "photo_url": {"anh", "anh the", "photo", "photo url"},
    "room": {"phong", "ma phong", "phong hoc", "room", "room id"},
    "name": {"ten phong", "name", "room name"},
    "kind": {"loai", "loai phong", "kind", "type"},
    "weekday": {"thu", "ngay", "weekday", "day"},
    "period": {"tiet", "tiet hoc", "period"},
    "starts": {"bat dau", "gio bat dau", "starts", "start"},
    "ends": {"ket thuc", "gio ket thuc", "ends", "end"},
    "subject": {"mon", "mon hoc", "subject"},
}
MODELS: dict[str, type[BaseModel]] = {"students": StudentIn, "cards": CardIn, "classes": ClassIn,
                                      "rooms": RoomIn, "timetable": TimetableIn}


def header_map(kind: str, cells: list[Any]) -> dict[int, str] | None:
    """Column index -> field for a header row of ``kind``; None if a required one is missing."""
    model = MODELS[kind]
    found: dict[int, str] = {}
    for index, cell in enumerate(cells):
        if not isinstance(cell, str):
            continue
        key = fold(cell)
        for field in model.model_fields:
            if key in _COMMON[field] and field not in found.values():
                found[index] = field
                break
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    return found if required <= set(found.values()) else None


_BUILTIN_VI = {"missing": "Thiếu giá trị bắt buộc", "extra_forbidden": "Cột không được phép"}


def reasons(error: ValidationError) -> list[tuple[str, str, str]]:
    """``(field, vi, en)`` for each problem of a row."""
    out = []
    for item in error.errors(include_url=False):
        field = str(item["loc"][0]) if item["loc"] else ""
        ctx = item.get("ctx") or {}
        vi = ctx.get("vi") or _BUILTIN_VI.get(item["type"], "Giá trị không hợp lệ")
        en = "Required value missing" if item["type"] == "missing" else item["msg"]
        out.append((field, str(vi), en))
    return out
