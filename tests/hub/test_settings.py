"""Hub settings: env, TOML, and a readable error naming a wrong setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.settings import SettingsError, load_settings


def test_defaults_and_relative_sqlite_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.mqtt_client_id == "hub-1"
    assert settings.batch_size == 5000 and settings.receive_maximum == 10000
    assert settings.influx_url is None
    assert settings.db_url == f"sqlite:///{tmp_path}/var/hub.db"


def test_env_overrides_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('mqtt_url = "mqtt://broker:1884"\nbatch_size = 100\ninflux_api = "v2"\n')
    monkeypatch.setenv("SS_CONFIG", str(config))
    monkeypatch.setenv("SS_BATCH_SIZE", "250")
    settings = load_settings()
    assert (settings.mqtt_host, settings.mqtt_port) == ("broker", 1884)
    assert settings.batch_size == 250
    assert settings.influx_api == "v2"


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("SS_BATCH_SIZE", "lots", "SS_BATCH_SIZE"),
        ("SS_MQTT_URL", "http://x", "SS_MQTT_URL"),
        ("SS_INFLUX_API", "v3", "SS_INFLUX_API"),
        ("SS_RECEIVE_MAXIMUM", "0", "SS_RECEIVE_MAXIMUM"),
    ],
)
def test_wrong_value_names_the_setting(monkeypatch: pytest.MonkeyPatch, env: str, value: str,
                                       named: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert named in str(error.value)
    assert repr(value) in str(error.value)


def test_unknown_key_in_toml_and_missing_file(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text("bach_size = 10\n")
    with pytest.raises(SettingsError, match="bach_size"):
        load_settings(config)
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.toml")
