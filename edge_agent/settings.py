"""The box's configuration: one TOML file validated once, at start, into typed models.

A device entry is ``{id, driver, room?}`` plus the driver's own settings, which that driver's
``spec.config_model`` validates here, so a typo in a serial port setting stops the program at
start with the device and the setting named, not hours later on the first read.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from device_drivers import registry
from device_drivers.base import DriverSpec
from protocol.errors import ProtocolError
from protocol.topics import check_ident

Room = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ConfigError(Exception):
    """A configuration file that cannot be read or does not validate; the message says why."""


def _ident(value: str, what: str) -> str:
    try:
        return check_ident(value, what)
    except ProtocolError as error:
        raise ValueError(str(error)) from None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSettings(_Model):
    """How to reach the broker."""

    url: str = Field(description="mqtt://host:port or mqtts://host:port")
    username: str | None = None
    password: SecretStr | None = None
    keepalive: int = Field(default=30, ge=5, le=3600)
    client_id: str | None = Field(default=None, description="defaults to the edge id")
    ca_file: Path | None = Field(
        default=None, description="CA bundle for mqtts; system CAs if unset"
    )
    reconnect_min_s: float = Field(default=1.0, gt=0)
    reconnect_max_s: float = Field(default=60.0, gt=0)
    inflight: int = Field(default=64, ge=1, le=1024, description="QoS 1 messages awaiting PUBACK")
    publish_timeout_s: float = Field(default=30.0, gt=0)
    protocol: Literal["5", "3.1.1"] = Field(
        default="5", description="MQTT version; 3.1.1 for brokers without MQTT 5 (no response topics)"
    )
    session_expiry_s: int = Field(
        default=600,
        ge=0,
        le=7 * 86400,
        description="how long the broker keeps this box's session, and the commands sent to it, "
        "while the box is away; 0: a clean session on every connect",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"url {value!r} must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError(f"url {value!r} has no host")
        try:
            parts.port  # noqa: B018 - parsing the port is the check
        except ValueError:
            raise ValueError(f"url {value!r} has a bad port") from None
        if parts.path not in ("", "/") or parts.query or parts.username:
            raise ValueError(
                f"url {value!r} must be only scheme://host:port (credentials go apart)"
            )
        return value

    @model_validator(mode="after")
    def _check_backoff(self) -> MqttSettings:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        return self

    @property
    def host(self) -> str:
        """The broker's host name or address."""
        host = urlsplit(self.url).hostname
        assert host is not None  # checked by the validator
        return host

    @property
    def tls(self) -> bool:
        """Whether the URL asks for TLS."""
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def port(self) -> int:
        """The broker's port, 1883 or 8883 by default."""
        return urlsplit(self.url).port or (8883 if self.tls else 1883)


class OutboxSettings(_Model):
    """Where the durable outbox lives and how much telemetry it may hold."""

    path: Path = Path("/var/lib/smartschool/outbox.sqlite")
    telemetry_budget_mb: float = Field(default=64.0, gt=0)
    telemetry_max_rows: int | None = Field(default=None, ge=1)


#: What a card reader is for: classroom attendance, arrival/leaving, or the canteen till.
CardRole = Literal["door", "gate", "till"]

#: Driver kind of every card reader family; such devices need a ``role``.
CARD_READER_KIND = "card-reader"

_COMMON_KEYS = ("id", "driver", "room", "role", "offline_limit")


class DeviceConfig(_Model):
    """One device wired to the box; ``settings`` holds the keys its driver validates."""

    id: str
    driver: str
    room: Room | None = None
    role: CardRole | None = Field(default=None, description="card readers only")
    offline_limit: int | None = Field(
        default=None,
        ge=0,
        le=10_000_000,
        description="tills only: đồng one card may spend offline per day (default: the school's)",
    )
    settings: dict[str, Any] = Field(default_factory=dict)
    _driver_config: BaseModel | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        # Everything but the common keys belongs to the driver; keep it apart so that the
        # driver's own model (extra="forbid") is the one that refuses unknown keys.
        if not isinstance(data, dict) or "settings" in data:
            return data
        common = {k: v for k, v in data.items() if k in _COMMON_KEYS}
        return {**common, "settings": {k: v for k, v in data.items() if k not in common}}

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        return _ident(value, "device id")

    @model_validator(mode="after")
    def _validate_driver_settings(self) -> DeviceConfig:
        try:
            spec = registry.get(self.driver)
        except KeyError as error:
            raise ValueError(f"device {self.id!r}: {error.args[0]}") from None
        try:
            self._driver_config = spec.config_model.model_validate(self.settings)
        except ValidationError as error:
            problems = "; ".join(
                f"setting {'.'.join(str(p) for p in e['loc']) or '?'!r}: {e['msg']}"
                for e in error.errors(include_url=False)
            )
            raise ValueError(f"device {self.id!r} (driver {self.driver}): {problems}") from None
        if spec.kind == CARD_READER_KIND and self.role is None:
            raise ValueError(
                f"device {self.id!r} is a card reader: set role to door, gate or till"
            )
        if spec.kind != CARD_READER_KIND and self.role is not None:
            raise ValueError(f"device {self.id!r} is not a card reader: role does not apply")
        if self.offline_limit is not None and self.role != "till":
            raise ValueError(f"device {self.id!r}: offline_limit applies to tills only")
        return self

    @property
    def is_card_reader(self) -> bool:
        """Whether this device reads student cards (its ``role`` is set)."""
        return self.role is not None

    @property
    def spec(self) -> DriverSpec:
        """The driver family of this device."""
        return registry.get(self.driver)

    @property
    def driver_config(self) -> BaseModel:
        """The driver's validated settings, ready for ``spec.driver_factory``."""
        assert self._driver_config is not None  # set by the validator
        return self._driver_config


class HubSettings(_Model):
    """Where the hub's HTTP API is, for the roster and balance snapshots."""

    url: str = Field(description="http(s)://host[:port] of the hub")
    token: SecretStr = Field(description="bearer token of this edge; or env SS_HUB_TOKEN")
    snapshot_every_s: float = Field(default=60.0, gt=0, le=86400)
    answer_timeout_s: float = Field(default=1.5, gt=0, le=60)
    http_timeout_s: float = Field(default=10.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url {value!r} must be http://host[:port] or https://host[:port]")
        try:
            parts.port  # noqa: B018 - parsing the port is the check
        except ValueError:
            raise ValueError(f"url {value!r} has a bad port") from None
        if parts.query or parts.username:
            raise ValueError(f"url {value!r} must carry no query or credentials")
        return value.rstrip("/")


class ScreenSettings(_Model):
    """The local door/till screen served by the box."""

    enabled: bool = True
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8081, ge=0, le=65535, description="0 picks a free port")
    lang: Literal["vi", "en"] = "vi"


class EdgeConfig(_Model):
    """The whole configuration of one edge box."""

    school: str
    edge: str
    room: Room | None = None
    firmware: Annotated[str, StringConstraints(max_length=64)] = "0.1.0"
    heartbeat_s: float = Field(default=30.0, gt=0)
    device_retry_min_s: float = Field(
        default=1.0, gt=0, description="first wait after a device fails"
    )
    device_retry_max_s: float = Field(
        default=60.0, gt=0, description="longest wait between retries"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    reboot_command: tuple[Annotated[str, StringConstraints(min_length=1)], ...] = Field(
        default=("systemctl", "reboot"),
        description="what the reboot command runs once acknowledged; [] restarts only this "
        "agent (it exits with status 75 for systemd's Restart= to start it again)",
    )
    mqtt: MqttSettings
    outbox: OutboxSettings = OutboxSettings()
    hub: HubSettings | None = None
    screen: ScreenSettings = ScreenSettings()
    timezone: str = Field(default="Asia/Ho_Chi_Minh", description="the school's day boundary")
    devices: tuple[DeviceConfig, ...] = Field(default=(), max_length=256)

    @field_validator("school")
    @classmethod
    def _check_school(cls, value: str) -> str:
        return _ident(value, "school")

    @field_validator("edge")
    @classmethod
    def _check_edge(cls, value: str) -> str:
        return _ident(value, "edge")

    @model_validator(mode="after")
    def _unique_devices(self) -> EdgeConfig:
        seen: set[str] = set()
        for device in self.devices:
            if device.id in seen:
                raise ValueError(f"device id {device.id!r} appears twice")
            seen.add(device.id)
        return self

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {value!r} is not a known IANA zone") from None
        return value

    @model_validator(mode="after")
    def _card_readers_need_the_hub(self) -> EdgeConfig:
        readers = [d.id for d in self.devices if d.is_card_reader]
        if readers and self.hub is None:
            raise ValueError(
                f"card readers {', '.join(readers)} need a [hub] section (url, token) "
                "for the roster and balance snapshots"
            )
        return self

    @property
    def card_readers(self) -> tuple[DeviceConfig, ...]:
        """The devices that read student cards."""
        return tuple(d for d in self.devices if d.is_card_reader)

    @property
    def zone(self) -> ZoneInfo:
        """The school's time zone."""
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _check_retry(self) -> EdgeConfig:
        if self.device_retry_max_s < self.device_retry_min_s:
            raise ValueError("device_retry_max_s must be at least device_retry_min_s")
        return self

    @property
    def client_id(self) -> str:
        """The MQTT client id: the configured one, else the edge id."""
        return self.mqtt.client_id or self.edge


class EnvOverrides(BaseSettings):
    """``SS_*`` environment variables that win over the file (secrets kept out of TOML)."""

    model_config = SettingsConfigDict(env_prefix="SS_", extra="ignore")

    mqtt_url: str | None = None
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    outbox_path: str | None = None
    hub_token: str | None = None

    def apply(self, raw: dict[str, Any]) -> dict[str, Any]:
        """``raw`` with the set variables written into their sections."""
        merged = dict(raw)
        for name, value in self.model_dump(exclude_none=True).items():
            section, key = name.split("_", 1)
            if section == "hub" and section not in merged:
                continue  # a token alone does not make a box talk to the hub
            current = merged.get(section, {})
            if not isinstance(current, dict):
                continue  # the validator will name the bad section
            merged[section] = {**current, key: value}
        return merged


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "config"


def _format(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_url=False):
        msg = item["msg"].removeprefix("Value error, ")
        lines.append(f"  {_location(item['loc'])}: {msg}")
    return "\n".join(lines)


def parse_config(raw: dict[str, Any], source: str = "config") -> EdgeConfig:
    """Validate an already parsed TOML document (after ``SS_*`` overrides)."""
    try:
        return EdgeConfig.model_validate(EnvOverrides().apply(raw))
    except ValidationError as error:
        raise ConfigError(f"{source} is not valid:\n{_format(error)}") from None


def load_config(path: str | Path) -> EdgeConfig:
    """Read and validate the box's TOML file; raise ConfigError with a clear message."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    return parse_config(raw, str(path))
