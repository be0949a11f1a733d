"""JSON Schema of every message, exported to ``protocol/schema/``.

Run ``python -m protocol.schema`` after changing a model; a test fails while the committed files
and the models differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from protocol.messages import (
    Command,
    CommandAck,
    Event,
    Heartbeat,
    Request,
    Response,
    Status,
    Telemetry,
)

SCHEMA_DIR = Path(__file__).with_name("schema")

SCHEMAS: dict[str, Any] = {
    "status": Status,
    "heartbeat": Heartbeat,
    "telemetry": Telemetry,
    "event": Event,
    "req": TypeAdapter(Request),
    "resp": Response,
    "cmd": Command,
    "cmd-ack": CommandAck,
}


def render(name: str) -> str:
    """The JSON Schema text of the message named ``name``, as committed."""
    target = SCHEMAS[name]
    schema = target.json_schema() if isinstance(target, TypeAdapter) else target.model_json_schema()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"ss/v1/{name}",
        **schema,
    }
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def export(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema to ``directory``; return the files written."""
    directory.mkdir(exist_ok=True)
    written = []
    for name in SCHEMAS:
        path = directory / f"{name}.json"
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in export():
        print(path)
