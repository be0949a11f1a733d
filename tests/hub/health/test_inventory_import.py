"""The inventory import on SQLite and PostgreSQL: bad rows reported in Vietnamese and English
while the good ones go in, re-import changes nothing, firmware and rooms as the edges said."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from hub.db.inventory import InventoryRow
from hub.db.migrate import upgrade_to_head
from hub.db.models import DeviceRow, EdgeRow
from hub.health.inventory_import import import_inventory
from hub.services.people.sheets import ImportFileError
from tests.hub.health.conftest import OTHER, SCHOOL
from tests.hub.people.samples import to_cp1258

ROOT = Path(__file__).resolve().parents[3]

#: Excel's "CSV UTF-8": a BOM, a title row, Vietnamese headers, day-first dates.
INVENTORY = f"""DANH MỤC THIẾT BỊ TRƯỜNG THPT LÊ QUÝ ĐÔN,,,,,,,,
Mã tài sản,Model,Trường,Hộp edge,Thiết bị,Phòng,Ngày lắp đặt,Bảo hành đến,Firmware
TS-0001,Raspberry Pi 4B,{SCHOOL},p-10a1,,Phòng 10A1,15/08/2025,15/08/2028,2.0.1
TS-0002,MH-Z19C,{SCHOOL},p-10a1,co2-1,Phòng 10A1,2025-08-15,2027-08-15,
TS 0003,PMS5003,{SCHOOL},p-10a1,pm-1,Phòng 10A1,15/08/2025,,
TS-0004,,{SCHOOL},p-10a1,door-1,Phòng 10A1,15/08/2025,,
TS-0005,RDM6300,THPT Lê Quý Đôn,p-10a1,door-2,,,,
TS-0006,RDM6300,{SCHOOL},p-10a1,door-3,,31/02/2025,,
TS-0007,PN532,{SCHOOL},can-tin,till-1,Căn tin,15/08/2025,01/01/2025,
TS-0001,Raspberry Pi 4B,{SCHOOL},p-10a2,,Phòng 10A2,15/08/2025,,
TS-0008,=1+1,{SCHOOL},can-tin,till-2,Căn tin,,,
TS-0009,Raspberry Pi 4B 2GB,{OTHER},cong-chinh,,Cổng chính,05/09/2025,05/09/2028,2.0.0
""".encode("utf-8-sig")


def rows(engine: Engine) -> dict[str, InventoryRow]:
    with Session(engine) as session:
        return {r.asset_tag: r for r in session.scalars(select(InventoryRow))}


def test_bad_rows_are_reported_and_the_good_ones_imported_once(engine: Engine) -> None:
    report = import_inventory(engine, INVENTORY, "danh-muc.csv")
    assert (report.kind, report.rows, report.created, report.rejected) == ("inventory", 10, 3, 7)
    reasons = {(r.row, r.column): (r.vi, r.en) for r in report.rejections}
    assert set(reasons) == {(5, "Mã tài sản"), (6, "Model"), (7, "Trường"), (8, "Ngày lắp đặt"),
                            (9, "Bảo hành đến"), (10, "Mã tài sản"), (11, "Model")}
    assert reasons[(5, "Mã tài sản")][1].startswith("Asset tag: letters, digits")
    assert reasons[(6, "Model")] == ("Thiếu giá trị bắt buộc", "Required value missing")
    assert "thpt-nguyen-du" in reasons[(7, "Trường")][1]
    assert reasons[(8, "Ngày lắp đặt")][0] == "Ngày không hợp lệ (ví dụ 15/08/2025 hoặc 2025-08-15)"
    assert reasons[(9, "Bảo hành đến")][1] == "Warranty ends before installation"
    assert reasons[(10, "Mã tài sản")][0] == "Trùng mã tài sản với một dòng phía trên"
    assert "Formulas" in reasons[(11, "Model")][1]
    stored = rows(engine)
    assert set(stored) == {"TS-0001", "TS-0002", "TS-0009"}
    box = stored["TS-0001"]
    assert (box.device, box.room, box.firmware, box.install_date, box.warranty_until) == (
        "", "Phòng 10A1", "2.0.1", date(2025, 8, 15), date(2028, 8, 15))
    assert (stored["TS-0002"].device, stored["TS-0002"].firmware) == ("co2-1", "")
    assert stored["TS-0009"].room == "Cổng chính"

    again = import_inventory(engine, INVENTORY, "danh-muc.csv")
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 7)

    extended = INVENTORY.replace(b"15/08/2025,15/08/2028", b"15/08/2025,15/08/2029")
    assert import_inventory(engine, extended, "danh-muc.csv").updated == 1
    assert rows(engine)["TS-0001"].warranty_until == date(2029, 8, 15)


def test_a_windows_1258_file_with_english_headers_reads_the_same(engine: Engine) -> None:
    text = ("Asset tag;Model;School;Edge;Device;Room;Installed;Warranty;Firmware\n"
            f"ts-0100;Raspberry Pi 4B;{SCHOOL};lab-hoa;;Phòng thí nghiệm Hóa;2025-09-05;;2.0.1\n")
    report = import_inventory(engine, to_cp1258(text), "inventory.csv")
    assert (report.created, report.rejected) == (1, 0)
    assert rows(engine)["TS-0100"].room == "Phòng thí nghiệm Hóa"


def test_firmware_and_rooms_the_edges_reported_win_over_the_file(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        session.add(EdgeRow(school=SCHOOL, edge="p-10a1", state="online", fw="2.1.0", outbox=0))
        session.flush()
        session.add(DeviceRow(school=SCHOOL, edge="p-10a1", device="co2-1", kind="co2",
                              model="mh-z19c", room="Phòng 10A1 (mới)", errors=0))
    import_inventory(engine, INVENTORY, "danh-muc.csv")
    stored = rows(engine)
    assert stored["TS-0001"].firmware == "2.1.0"
    assert stored["TS-0002"].room == "Phòng 10A1 (mới)"
    assert import_inventory(engine, INVENTORY, "danh-muc.csv").unchanged == 3


def test_a_technician_imports_only_for_their_school(engine: Engine) -> None:
    import_inventory(engine, INVENTORY, "danh-muc.csv")
    report = import_inventory(engine, INVENTORY, "danh-muc.csv",
                              may_write=lambda school: school == SCHOOL)
    refused = [r for r in report.rejections if r.row == 12]
    assert [(r.column, r.en) for r in refused] == [("Trường", f"Not allowed for school {OTHER}")]
    moving = (f"Mã tài sản,Model,Trường,Hộp edge\nTS-0009,Raspberry Pi 4B 2GB,{SCHOOL},p-10a3\n"
              ).encode()
    taken = import_inventory(engine, moving, "x.csv", may_write=lambda school: school == SCHOOL)
    assert [r.en for r in taken.rejections] == ["Asset TS-0009 belongs to another school"]
    assert rows(engine)["TS-0009"].school == OTHER


def test_a_file_without_the_required_columns_is_refused_whole(engine: Engine) -> None:
    with pytest.raises(ImportFileError) as error:
        import_inventory(engine, "Mã tài sản,Model\nTS-1,Pi\n".encode(), "x.csv")
    assert "asset_tag" in error.value.en and "edge" in error.value.vi
    assert rows(engine) == {}


def test_the_command_imports_and_says_what_it_refused(tmp_path: Path, sqlite_url: str) -> None:
    upgrade_to_head(sqlite_url)
    path = tmp_path / "danh-muc.csv"
    path.write_bytes(INVENTORY)

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "smartschool_cli.main", "inventory", "import", *args,
             "--db-url", sqlite_url], cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={"COLUMNS": "200", "PATH": ""})

    done = command(str(path))
    assert done.returncode == 3, done.stderr
    assert "3 mới / created" in done.stdout and "7 bị từ chối / rejected" in done.stdout
    assert "Warranty ends before installation" in done.stdout
    again = command(str(path))
    assert again.returncode == 3 and "3 không đổi / unchanged" in again.stdout
    clean = tmp_path / "sach.csv"
    clean.write_text("\n".join(INVENTORY.decode("utf-8-sig").splitlines()[1:4]) + "\n",
                     encoding="utf-8")
    assert command(str(clean)).returncode == 0
    missing = command(str(tmp_path / "khong-co.csv"))
    assert missing.returncode == 2 and "file not found" in missing.stdout
    assert "Traceback" not in done.stderr + missing.stderr
