"""InfluxDB line protocol built as strings (much cheaper than ``Point`` objects). Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Escaping rules: https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/
_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})
_TAG = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\=", "\n": r"\n"})


def escape_measurement(name: str) -> str:
    """Escape commas and spaces in a measurement name."""
    return name.translate(_MEASUREMENT)


def escape_tag(text: str) -> str:
    """Escape commas, spaces and equals signs in a tag key, tag value or field key."""
    return text.translate(_TAG)


def timestamp_ns(ts: datetime) -> int:
    """Nanoseconds since the Unix epoch of an aware datetime (exact, no float rounding)."""
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def field_value(value: float | int | bool) -> str:
    """A field value as line protocol writes it (numbers as floats, booleans as words)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # Readings are floats on the wire; keep them floats so a field never changes type.
        return repr(float(value))
    if not math.isfinite(value):
        raise ValueError("line protocol cannot carry NaN or infinity")
    return repr(value)


def line(
    measurement: str,
    tags: Mapping[str, str],
    values: Mapping[str, float],
    seq: int,
    ts: datetime,
) -> str:
    """One point: tags with empty values are left out; ``seq`` is an integer field."""
    head = escape_measurement(measurement)
    for key in sorted(tags):
        value = tags[key]
        if value:
            head += f",{escape_tag(key)}={escape_tag(value)}"
    fields = ",".join(f"{escape_tag(k)}={field_value(v)}" for k, v in values.items())
    fields = f"{fields},seq={seq}i" if fields else f"seq={seq}i"
    return f"{head} {fields} {timestamp_ns(ts)}"
