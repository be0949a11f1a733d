"""The ``smartschool`` command as a user runs it: help, and wrong settings named plainly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def smartschool(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartschool_cli.main", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def test_help_explains_every_command() -> None:
    result = smartschool("--help")
    assert result.returncode == 0
    for command in ("hub", "edge", "sim", "demo"):
        assert command in result.stdout
    demo = smartschool("demo", "--help")
    assert "--http-port" in demo.stdout and "--mqtt-port" in demo.stdout


def test_wrong_hub_setting_is_named() -> None:
    result = smartschool("hub", env={"SS_INFLUX_API": "v3"})
    assert result.returncode == 2
    assert "SS_INFLUX_API" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_hub_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('mqtt_url = "http://wrong"\n', encoding="utf-8")
    result = smartschool("hub", "--config", str(config))
    assert result.returncode == 2
    assert "mqtt_url" in result.stdout + result.stderr


def test_wrong_edge_config_is_named(tmp_path: Path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(
        'school = "thpt-nguyen-hien"\nedge = "p-10a1"\nroom = "10A1"\n'
        '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n[outbox]\npath = "o.sqlite"\n'
        '[[devices]]\nid = "co2-1"\ndriver = "mhz19"\nport = "/dev/ttyAMA0"\nbaudrate = "fast"\n',
        encoding="utf-8",
    )
    result = smartschool("edge", str(config))
    assert result.returncode == 78
    assert "co2-1" in result.stderr and "baudrate" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_refuses_too_few_rooms() -> None:
    result = smartschool("demo", "--rooms", "1")
    assert result.returncode != 0
    assert "rooms" in result.stdout + result.stderr


def test_token_is_signed_with_the_hub_secret() -> None:
    from hub.auth import Role, TokenSigner

    secret = "s" * 40
    result = smartschool("token", "--role", "parent", "--subject", "me@example.vn",
                         "--school", "thpt-nguyen-du", "--student", "7", "--student", "9",
                         env={"SS_JWT_SECRET": secret})
    assert result.returncode == 0, result.stderr
    caller = TokenSigner(secret).verify(result.stdout.strip())
    assert caller.role is Role.PARENT and caller.students == frozenset({7, 9})
    assert caller.can_see_student("thpt-nguyen-du", 7)
    assert not caller.can_see_student("thpt-nguyen-du", 8)


def test_token_needs_the_secret_and_a_known_role() -> None:
    assert smartschool("token", "--role", "admin", "--subject", "x",
                       env={"SS_JWT_SECRET": ""}).returncode == 2
    result = smartschool("token", "--role", "king", "--subject", "x",
                         env={"SS_JWT_SECRET": "s" * 40})
    assert result.returncode == 2 and "king" in result.stderr
