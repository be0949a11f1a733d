"""The box's TOML config: the example loads, and every kind of mistake gets a clear message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.settings import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]

BASE = """
school = "thpt-nguyen-du"
edge = "nd-lab1"
room = "Lab 1"

[mqtt]
url = "mqtt://127.0.0.1:1883"

[outbox]
path = "{tmp}/outbox.sqlite"
"""

CO2 = """
[[devices]]
id = "co2-1"
driver = "mhz19"
port = "/dev/ttyAMA0"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(text.replace("{tmp}", str(tmp_path)), encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    return str(info.value)


def test_example_config_loads() -> None:
    config = load_config(ROOT / "config" / "edge.example.toml")
    assert config.school == "thpt-le-hong-phong"
    assert [d.driver for d in config.devices] == ["mhz19", "pms5003"]
    assert config.mqtt.tls and config.mqtt.port == 8883
    co2 = config.devices[0]
    assert co2.driver_config.model_dump()["range_ppm"] == 5000  # validated by the driver's model
    assert co2.spec.kind == "co2"


def test_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, BASE + CO2))
    assert config.heartbeat_s == 30
    assert config.client_id == "nd-lab1"
    assert config.mqtt.host == "127.0.0.1" and config.mqtt.port == 1883 and not config.mqtt.tls
    assert config.devices[0].room is None
    assert config.devices[0].driver_config.model_dump()["baudrate"] == 9600


def test_environment_overrides_the_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SS_MQTT_URL", "mqtts://broker.example:18883")
    monkeypatch.setenv("SS_MQTT_PASSWORD", "s3cret")
    config = load_config(_write(tmp_path, BASE))
    assert config.mqtt.url == "mqtts://broker.example:18883"
    assert config.mqtt.password is not None and config.mqtt.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read .*nope.toml"):
        load_config(tmp_path / "nope.toml")


def test_bad_toml(tmp_path: Path) -> None:
    assert "is not valid TOML" in _error(tmp_path, 'school = "a\nedge = 1')


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('edge = "nd-lab1"', 'edge = "ND_Lab1"'), "edge: edge 'ND_Lab1' must match"),
        (
            ('url = "mqtt://127.0.0.1:1883"', 'url = "http://x:1"'),
            "mqtt.url: url 'http://x:1' must start with mqtt://",
        ),
        (('url = "mqtt://127.0.0.1:1883"', 'url = "mqtt://x:99999"'), "bad port"),
        (
            ('room = "Lab 1"', 'room = "Lab 1"\nheartbeat = 5'),
            "heartbeat: Extra inputs are not permitted",
        ),
        (
            ('room = "Lab 1"', 'room = "Lab 1"\nheartbeat_s = 0'),
            "heartbeat_s: Input should be greater than 0",
        ),
        (("[mqtt]", "[mqtt]\nkeepalive = 'long'"), "mqtt.keepalive"),
        (('school = "thpt-nguyen-du"\n', ""), "school: Field required"),
    ],
)
def test_bad_values_name_the_setting(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    text = BASE.replace(*change)
    assert text != BASE
    assert expected in _error(tmp_path, text)


def test_unknown_driver_names_device_and_known_ones(tmp_path: Path) -> None:
    message = _error(tmp_path, BASE + CO2.replace('"mhz19"', '"mhz14"'))
    assert "devices[0]" in message and "'co2-1'" in message
    assert "unknown driver 'mhz14'" in message and "mhz19" in message and "pms5003" in message


def test_wrong_driver_setting_names_device_and_setting(tmp_path: Path) -> None:
    message = _error(tmp_path, BASE + CO2 + "baud = 9600\n")
    assert "device 'co2-1' (driver mhz19)" in message
    assert "setting 'baud'" in message and "Extra inputs are not permitted" in message

    message = _error(tmp_path, BASE + CO2 + "range_ppm = 3000\n")
    assert "device 'co2-1'" in message and "setting 'range_ppm'" in message


def test_missing_driver_setting(tmp_path: Path) -> None:
    message = _error(tmp_path, BASE + CO2.replace('port = "/dev/ttyAMA0"\n', ""))
    assert "device 'co2-1'" in message and "setting 'port': Field required" in message


def test_bad_and_duplicate_device_ids(tmp_path: Path) -> None:
    assert "device id 'CO2 1' must match" in _error(
        tmp_path, BASE + CO2.replace('"co2-1"', '"CO2 1"')
    )
    assert "device id 'co2-1' appears twice" in _error(tmp_path, BASE + CO2 + CO2)


def test_main_exits_with_the_message(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace('edge = "nd-lab1"', 'edge = "Bad Edge"'))
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 78
    assert "configuration error" in proc.stderr and "edge 'Bad Edge' must match" in proc.stderr
