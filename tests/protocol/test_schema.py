"""The committed JSON Schemas match the models (regenerate with ``python -m protocol.schema``)."""

import json

import pytest

from protocol.schema import SCHEMA_DIR, SCHEMAS, render


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schema_matches_model(name: str) -> None:
    path = SCHEMA_DIR / f"{name}.json"
    assert path.exists(), f"{path} missing: run python -m protocol.schema"
    assert path.read_text(encoding="utf-8") == render(name), (
        f"{path.name} differs from the models: run python -m protocol.schema and commit"
    )


def test_schema_describes_the_envelope() -> None:
    telemetry = json.loads((SCHEMA_DIR / "telemetry.json").read_text(encoding="utf-8"))
    assert set(telemetry["required"]) >= {"id", "ts", "seq", "values"}
    values = telemetry["properties"]["values"]
    assert [spec["type"] for spec in values["patternProperties"].values()] == ["number"]
