"""Files as THPT Chuyên Trần Đại Nghĩa keeps them: students, cards, a timetable (Monday)."""

from __future__ import annotations

import unicodedata

SCHOOL = "thpt-chuyen-tran-dai-nghia"
SCHOOL_NAME = "THPT Chuyên Trần Đại Nghĩa"

#: A title row above the header, Vietnamese headers, UTF-8 with a BOM (Excel's "CSV UTF-8").
STUDENTS_CSV = """DANH SÁCH HỌC SINH NĂM HỌC 2026-2027,,,
Mã HS,Họ và tên,Lớp,Mã thẻ
HS0001,Nguyễn Thị Mai Anh,10A1,0f00a1b2c3
HS0002,Trần Quốc Bảo,10A1,nfc:04a1b2c3d4e5f6
HS0003,Lê Hoàng Phúc,11C3,04:A1:B2:C3
HS0004,Phạm Ngọc Hân,11C3,
HS0005,,10A1,0F00A1B2C4
HS0006,Võ Minh Khang,10A1,ZZZ
HS0001,Nguyễn Thị Mai Anh,10A1,
HS0007,"=HYPERLINK(""http://x"")",10A1,
""".encode("utf-8-sig")

#: 45-minute periods from 07:00 with 5-minute breaks; written by a Windows-1258 machine.
TIMETABLE_ROWS = """Lớp;Thứ;Tiết;Bắt đầu;Kết thúc;Môn;Phòng
10A1;Thứ 2;1;07:00;07:45;Toán;A101
10A1;Thứ 2;2;07:50;08:35;Ngữ văn;A101
10A1;Thứ 2;3;08:40;09:25;Tiếng Anh;A101
11C3;Thứ 2;1;7h00;7h45;Vật lý;B203
11C3;CN;1;07:00;07:45;Hóa học;B203
10A1;Thứ 9;1;07:00;07:45;Toán;A101
10A1;Thứ 2;4;10:00;09:00;Toán;A101
"""


_TONES = "\u0300\u0301\u0303\u0309\u0323"


def to_cp1258(text: str) -> bytes:
    """``text`` as Windows-1258 writes Vietnamese: base letter plus a combining tone mark."""
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            tone = next(c for c in parts if c in _TONES)
            out += unicodedata.normalize("NFC", parts.replace(tone, "")).encode("cp1258")
            out += tone.encode("cp1258")
    return bytes(out)


TIMETABLE_CSV = to_cp1258(TIMETABLE_ROWS)
