"""Every panel's query names what the hub really writes, and runs against real InfluxDB 1.6.7.

The schema is not written down here: the real ingest (Mosquitto, ``hub.ingest.service.Ingest``,
InfluxDB) stores one birth and a few readings per sensor family with the SPEC's names, and the
test reads back ``SHOW MEASUREMENTS`` / ``SHOW FIELD KEYS`` / ``SHOW TAG KEYS``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dashboards import build
from device_drivers import registry
from device_drivers.base import DriverSpec
from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.ingest.service import Ingest
from hub.settings import load_settings
from protocol import DeviceInfo, EdgeState, Status, Telemetry, topics
from smartschool_cli.localservers.influxdb import InfluxDB1, quote_ident
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.dashboards.influxql import Schema, parse, problems, queries, target_names
from tests.hub.conftest import Peer, wait_until

SCHOOL, EDGE, ROOM = "thpt-nguyen-du", "p-10a1", "10A1"
READINGS_PER_DEVICE = 3


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    upgrade_to_head(sqlite_url)
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


def _sensor_specs() -> list[DriverSpec]:
    return [registry.get(n) for n in registry.names() if registry.get(n).measurements]


def _plausible(minimum: float | None, maximum: float | None) -> float:
    low = minimum if minimum is not None else 0.0
    high = maximum if maximum is not None else low + 100.0
    return round(low + (high - low) * 0.07, 2)


def _ingest_one_of_each(mosquitto: Mosquitto, engine: Engine, sqlite_url: str,
                        server: InfluxDB1, db: str) -> None:
    """Birth listing one device per sensor family, then readings with the SPEC's names."""
    specs = _sensor_specs()
    settings = load_settings(mqtt_url=mosquitto.url, db_url=sqlite_url, influx_url=server.url,
                             influx_db=db, batch_wait_ms=20)
    with Ingest(settings, engine=engine) as ingest, Peer(mosquitto).connect() as peer:
        assert ingest.link.wait_ready(10), "ingest did not connect"
        now = datetime.now(UTC).replace(microsecond=0)
        devices = tuple(DeviceInfo(id=f"{s.name}-1", kind=s.kind, model=s.model, room=ROOM)
                        for s in specs)
        status = Status(ts=now - timedelta(minutes=5), state=EdgeState.ONLINE, fw="1.4.2",
                        devices=devices)
        peer.publish(topics.status(SCHOOL, EDGE), status.to_json(), retain=True)
        wait_until(lambda: all(ingest.devices.tag(SCHOOL, EDGE, d.id).kind == d.kind
                               for d in devices), what="birth applied")
        seq = 0
        for spec in specs:
            for back in range(READINGS_PER_DEVICE):
                seq += 1
                values = {m.name: _plausible(m.minimum, m.maximum) for m in spec.measurements}
                message = Telemetry(id=f"{spec.name}-1", ts=now - timedelta(seconds=30 * back),
                                    seq=seq, values=values)
                peer.publish(topics.telemetry(SCHOOL, EDGE, f"{spec.name}-1"),
                             message.to_json(), qos=1)
        for spec in specs:
            wait_until(lambda s=spec: server.count(db, s.kind, "seq") == READINGS_PER_DEVICE,
                       what=f"{spec.kind} readings stored")


def _column(body: dict, index: int = 0) -> set[str]:
    return {row[index] for series in body["results"][0].get("series", [])
            for row in series["values"]}


def _schema(server: InfluxDB1, db: str) -> Schema:
    measurements = _column(server.query("SHOW MEASUREMENTS", db))
    fields = {m: _column(server.query(f"SHOW FIELD KEYS FROM {quote_ident(m)}", db))
              for m in measurements}
    tags = {m: _column(server.query(f"SHOW TAG KEYS FROM {quote_ident(m)}", db))
            for m in measurements}
    return Schema(fields, tags)


def _substitute(query: str, values: dict[str, str]) -> str:
    """What Grafana sends: time filter and interval filled in, variables as regex alternations."""
    text = query.replace("$timeFilter", "time > now() - 1h").replace("$__interval", "1m")
    for name, value in values.items():
        text = text.replace(f"${name}", f"({re.escape(value)})")
    assert "$" not in text.replace("$/", ""), f"unsubstituted variable in {text}"
    return text


def test_every_panel_names_what_the_hub_writes_and_returns_series(
    mosquitto: Mosquitto, engine: Engine, sqlite_url: str, influx_db: tuple[InfluxDB1, str]
) -> None:
    server, db = influx_db
    _ingest_one_of_each(mosquitto, engine, sqlite_url, server, db)
    schema = _schema(server, db)
    # What the hub writes, as the contract says (this also proves the ingest ran).
    for spec in _sensor_specs():
        assert {m.name for m in spec.measurements} | {"seq"} <= schema.fields[spec.kind]
        assert {"school", "edge", "device", "room"} <= schema.tags[spec.kind]

    boards = list(build.build().values())
    checked = 0
    for board in boards:
        # Template values as Grafana would find them: run each variable's own query.
        values: dict[str, str] = {}
        for var in board["templating"]["list"]:
            found = _column(server.query(_substitute(var["query"], values), db), 1)
            assert found, f"{board['uid']} ${var['name']} finds no values"
            values[var["name"]] = sorted(found)[0]
        assert values.get("school", SCHOOL) == SCHOOL
        for where, target in queries(board):
            names = target_names(target)
            assert not problems(names, schema), f"{where}: {problems(names, schema)}"
            body = server.query(_substitute(target["query"], values), db)
            assert body["results"][0].get("series"), f"{where}: no series\n{target['query']}"
            checked += 1
    assert checked >= 20

    # The check itself catches a query that drifted from what the hub writes.
    drifted = [
        'SELECT mean("co2") FROM "co2" WHERE $timeFilter',
        'SELECT mean("co2_ppm") FROM "env" WHERE $timeFilter',
        'SELECT mean("pm25_ugm3") FROM "pm" WHERE "classroom" =~ /^$room$/ AND $timeFilter',
        'SHOW TAG VALUES WITH KEY = "district"',
    ]
    for query in drifted:
        assert problems(parse(query), schema), query


def test_readme_explains_flux_mapping() -> None:
    text = (Path(build.__file__).parent / "README.md").read_text(encoding="utf-8")
    assert "Flux" in text and "smartschool grafana push" in text
