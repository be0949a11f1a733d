"""The hub's settings: environment (``SS_*``), an optional TOML file, validated once at start."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "SS_"


class SettingsError(ValueError):
    """A setting with a wrong value; the text names the setting and says what is wrong."""


class HubSettings(BaseSettings):
    """Everything a hub process needs to know; env vars ``SS_<NAME>`` override the TOML file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    #: One id per worker: the broker keeps this id's session (and its queue) while it is down.
    mqtt_client_id: str = Field(default="hub-1", min_length=1, max_length=128)
    #: "3.1.1" for brokers without MQTT 5 (the demo's embedded broker): a plain subscription
    #: instead of the shared one, so run a single worker there.
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    #: Share the load between workers with ``$share/hub/...`` (MQTT 5). Mosquitto 2.0 does not
    #: restore shared subscriptions from its persistence file: messages published between a
    #: broker restart and the hub's resubscription are dropped. A single hub on Mosquitto
    #: should therefore subscribe plainly (false); brokers that persist them (EMQX, HiveMQ)
    #: take any number of workers with true.
    mqtt_shared: bool = True
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    db_url: str = "sqlite:///var/hub.db"
    #: None: no telemetry store; telemetry is still acknowledged and shown live.
    influx_url: str | None = None
    influx_api: Literal["v1", "v2"] = "v1"
    influx_db: str = Field(default="smartschool", min_length=1)
    influx_org: str = "smartschool"
    influx_bucket: str = "smartschool"
    influx_token: str | None = None
    batch_size: int = Field(default=5000, ge=1, le=1_000_000)
    batch_wait_ms: int = Field(default=50, ge=0, le=60_000)
    receive_maximum: int = Field(default=10000, ge=1, le=65535)
    #: Telemetry batches written to the store at once (acknowledged in order all the same).
    write_concurrency: int = Field(default=2, ge=1, le=16)
    #: Signs API tokens (HS256). Unset: a random secret per process, so tokens die with it.
    jwt_secret: str | None = Field(default=None, min_length=32)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    #: The city wall's area map: a shipped one by name (``areas-hcmc``: the former districts)
    #: or the path of a JSON file in the same form (e.g. today's wards and communes).
    wall_area_map: str = Field(default="areas-hcmc", min_length=1)

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("must look like mqtt://host:1883 or mqtts://host:8883")
        parts.port  # noqa: B018 - raises ValueError on a bad port
        return value

    @field_validator("influx_url")
    @classmethod
    def _influx_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must look like http://host:8086")
        return value.rstrip("/")

    @field_validator("wall_area_map")
    @classmethod
    def _wall_area_map(cls, value: str) -> str:
        from hub.web.areas import load_area_map

        load_area_map(value)  # AreaMapError is a ValueError: it names the file and the fault
        return value

    @field_validator("db_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
            rest = value[len("sqlite:///") :]
            if rest and not rest.startswith(":memory:"):
                return "sqlite:///" + str(Path.cwd() / rest)
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("must be sqlite:///path or postgresql+psycopg://...")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments first, then the environment, then the TOML file (when one is given)."""
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def mqtt_host(self) -> str:
        """Host part of ``mqtt_url``."""
        return urlsplit(self.mqtt_url).hostname or "127.0.0.1"

    @property
    def mqtt_port(self) -> int:
        """Port of ``mqtt_url`` (1883, or 8883 for mqtts)."""
        parts = urlsplit(self.mqtt_url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def mqtt_tls(self) -> bool:
        """Whether ``mqtt_url`` asks for TLS."""
        return urlsplit(self.mqtt_url).scheme == "mqtts"


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_url=False):
        name = ".".join(str(part) for part in item["loc"]) or "settings"
        env = ENV_PREFIX + name.replace(".", "__").upper()
        got = item.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"setting {name} / {env}: {item['msg']}{shown}")
    return "invalid hub settings / cấu hình hub không hợp lệ:\n  " + "\n  ".join(lines)


def load_settings(config: str | os.PathLike[str] | None = None, **overrides: Any) -> HubSettings:
    """Load settings from ``overrides``, ``SS_*`` env vars and the TOML file ``config`` or
    ``$SS_CONFIG``; raise SettingsError naming the first wrong setting."""
    path = config if config is not None else os.environ.get(ENV_PREFIX + "CONFIG")
    cls: type[HubSettings] = HubSettings
    if path:
        if not Path(path).is_file():
            raise SettingsError(f"config file {path} not found / không tìm thấy tệp cấu hình")
        config_dict = SettingsConfigDict(**{**HubSettings.model_config, "toml_file": Path(path)})
        cls = type("HubSettingsFromFile", (HubSettings,), {"model_config": config_dict})
    try:
        return cls(**overrides)
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None
    except ValueError as error:  # a TOML syntax error
        raise SettingsError(f"config file {path}: {error}") from None


def settings_for_process() -> HubSettings:
    """Logging set up and settings from SS_* and $SS_CONFIG for a hub process; exit 2 if wrong."""
    import logging
    import sys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
