"""``smartschool hub``: settings from flags, SS_* variables and TOML, then the hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console


def run_hub(config: Path | None, overrides: dict[str, Any], console: Console) -> int:
    """Validate the settings (a wrong one stops here, named) and serve; return the exit code."""
    from hub.serve import serve
    from hub.settings import SettingsError, load_settings

    try:
        settings = load_settings(config, **overrides)
    except SettingsError as error:
        console.print(f"[red]{error}[/]")
        return 2
    console.print(
        f"hub: MQTT {settings.mqtt_url}, database {settings.db_url}, "
        f"InfluxDB {settings.influx_url or 'none (telemetry not stored)'}; "
        f"web http://{settings.http_host}:{settings.http_port}/wall"
    )
    return serve(settings)
