"""``smartschool report`` as a user runs it: a real process writing real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from smartschool_cli.localservers.influxdb import InfluxDB1
from tests.hub.reports.conftest import LQD, QUARTER


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The command's figures are the library's, checked on both databases elsewhere."""
    return sqlite_url


def test_report_command_prints_a_summary_and_writes_the_files(
        engine: Engine, db_url: str, co2_db: tuple[InfluxDB1, str], tmp_path: Path) -> None:
    influx, db = co2_db
    out = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "smartschool_cli.main", "report", "--quarter", QUARTER,
         "--db-url", db_url, "--influx-url", influx.url, "--influx-db", db, "--out", str(out)],
        capture_output=True, text=True, timeout=60, env={"COLUMNS": "160", "PATH": ""})
    assert done.returncode == 0, done.stderr
    assert "Quận 3" in done.stdout and "Huyện Củ Chi" in done.stdout
    assert "35,000" in done.stdout  # Quận 3's net cashless volume
    workbook = out / "bao-cao_2026-Q3.xlsx"
    assert workbook.is_file() and (out / "bao-cao_2026-Q3_csv" / "truong_schools.csv").is_file()
    rooms = list(load_workbook(workbook)["Phòng CO2"].iter_rows(min_row=3, values_only=True))
    assert len(rooms) == 3

    one = subprocess.run(
        [sys.executable, "-m", "smartschool_cli.main", "report", "--from", "2026-07-01",
         "--to", "2026-07-31", "--school", LQD, "--db-url", db_url, "--out", str(out), "--zip"],
        capture_output=True, text=True, timeout=60, env={"COLUMNS": "160", "PATH": ""})
    assert one.returncode == 0, one.stderr
    assert (out / f"bao-cao_2026-07-01_2026-07-31_{LQD}_csv.zip").is_file()
    bad = subprocess.run(
        [sys.executable, "-m", "smartschool_cli.main", "report", "--quarter", "2026-Q9",
         "--db-url", db_url, "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "2026-Q4" in bad.stdout
