"""Card reader settings: roles, the [hub] and [screen] sections, each mistake named."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.settings import ConfigError, load_config

BASE = """
school = "thpt-nguyen-du"
edge = "nd-canteen"

[mqtt]
url = "mqtt://127.0.0.1:1883"

[outbox]
path = "{tmp}/outbox.sqlite"
"""

HUB = """
[hub]
url = "https://hub.example:8443/"
token = "t0ken"
"""

TILL = """
[[devices]]
id = "till-1"
driver = "rdm6300"
port = "/dev/ttyUSB0"
role = "till"
offline_limit = 30000
"""


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "edge.toml"
    path.write_text(text.replace("{tmp}", str(tmp_path)), encoding="utf-8")
    return load_config(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    return str(info.value)


def test_a_till_with_hub_and_screen(tmp_path: Path) -> None:
    config = _load(tmp_path, BASE + HUB + TILL)
    till = config.devices[0]
    assert till.role == "till" and till.offline_limit == 30000 and till.is_card_reader
    assert "role" not in till.settings  # not handed to the driver's model
    assert config.hub is not None and config.hub.url == "https://hub.example:8443"
    assert config.hub.snapshot_every_s == 60 and config.hub.answer_timeout_s == 1.5
    assert config.screen.port == 8081 and config.screen.lang == "vi"
    assert config.card_readers == (till,)


def test_the_token_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SS_HUB_TOKEN", "from-env")
    config = _load(tmp_path, BASE + HUB.replace('token = "t0ken"\n', "") + TILL)
    assert config.hub is not None and config.hub.token.get_secret_value() == "from-env"
    assert "from-env" not in repr(config)
    assert _load(tmp_path, BASE).hub is None  # a token alone adds no [hub]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASE + HUB + TILL.replace('role = "till"\n', "").replace("offline_limit = 30000\n", ""),
         "device 'till-1' is a card reader: set role to door, gate or till"),
        (BASE + HUB + TILL.replace('"till"', '"kitchen"'), "devices[0].role"),
        (BASE + HUB + TILL.replace('role = "till"', 'role = "door"'),
         "device 'till-1': offline_limit applies to tills only"),
        (BASE + HUB + '[[devices]]\nid = "co2-1"\ndriver = "mhz19"\nport = "/dev/x"\nrole = "door"\n',
         "device 'co2-1' is not a card reader: role does not apply"),
        (BASE + TILL, "card readers till-1 need a [hub] section"),
        (BASE + HUB.replace("https://hub.example:8443/", "ftp://hub") + TILL,
         "hub.url: url 'ftp://hub' must be http://"),
        (BASE + HUB.replace('token = "t0ken"\n', "") + TILL, "hub.token: Field required"),
        (BASE + HUB + "answer_timeout_s = 0\n" + TILL, "hub.answer_timeout_s"),
        (BASE + HUB + '[screen]\nlang = "fr"\n' + TILL, "screen.lang"),
        (BASE + HUB + "[screen]\nport = 70000\n" + TILL, "screen.port"),
        (BASE.replace('edge = "nd-canteen"', 'edge = "nd-canteen"\ntimezone = "Mars/Olympus"')
         + HUB + TILL, "timezone 'Mars/Olympus' is not a known IANA zone"),
        (BASE + HUB + TILL.replace("30000", "-1"), "devices[0].offline_limit"),
    ],
)
def test_mistakes_name_the_setting(
    tmp_path: Path, text: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SS_HUB_TOKEN", raising=False)
    assert expected in _error(tmp_path, text)
