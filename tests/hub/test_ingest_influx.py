"""Ingest end to end: real Mosquitto, real InfluxDB 1.6.7 (v1) and VictoriaMetrics (v2 API)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.ingest.service import Ingest
from hub.settings import HubSettings, load_settings
from protocol import DeviceInfo, EdgeState, Status, topics
from smartschool_cli.localservers.influxdb import InfluxDB1
from smartschool_cli.localservers.mosquitto import Mosquitto
from smartschool_cli.localservers.victoria import VictoriaMetrics
from tests.hub.conftest import T0, Peer, reading, wait_until

SCHOOL, EDGE = "thpt-le-hong-phong", "lab-2"
TOPIC = topics.telemetry(SCHOOL, EDGE, "co2-1")

IngestFactory = Callable[..., Ingest]


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    upgrade_to_head(sqlite_url)
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def make_ingest(mosquitto: Mosquitto, engine: Engine, sqlite_url: str) -> Iterator[IngestFactory]:
    """Start ingests on the test's broker; all are stopped at the end."""
    started: list[Ingest] = []

    def factory(**overrides: object) -> Ingest:
        values: dict[str, object] = {"mqtt_url": mosquitto.url, "db_url": sqlite_url,
                                     "batch_wait_ms": 20}
        values.update(overrides)
        ingest = Ingest(load_settings(**values), engine=engine)
        ingest.start()
        started.append(ingest)
        assert ingest.link.wait_ready(10), "ingest did not connect"
        return ingest

    yield factory
    for ingest in started:
        ingest.stop(timeout=2)


def _sample(ingest: Ingest, name: str, **labels: str) -> float:
    return ingest.metrics.registry.get_sample_value(name, labels) or 0.0


def _birth(peer: Peer) -> None:
    status = Status(ts=T0, state=EdgeState.ONLINE, fw="1.4.2",
                    devices=(DeviceInfo(id="co2-1", kind="env", model="mhz19", room="Lab 2"),))
    peer.publish(topics.status(SCHOOL, EDGE), status.to_json(), retain=True)


def test_telemetry_reaches_influxdb_v1_tagged_by_kind_and_room(
    make_ingest: IngestFactory, influx_db: tuple[InfluxDB1, str], peer: Peer
) -> None:
    server, db = influx_db
    ingest = make_ingest(influx_url=server.url, influx_db=db)
    _birth(peer)
    wait_until(lambda: ingest.devices.tag(SCHOOL, EDGE, "co2-1").kind == "env", what="birth")
    n = 300
    for qos in (0, 1):  # interleaving them one by one is slow in paho's client, not the hub
        for seq in range(qos, n, 2):
            peer.publish(TOPIC, reading(seq).to_json(), qos=qos)
    wait_until(lambda: server.count(db, "env", "co2_ppm") == n, what=f"{n} points")
    rows = server.query('SELECT "seq", "co2_ppm" FROM "env" WHERE "room" = \'Lab 2\' '
                        "ORDER BY time DESC LIMIT 1", db)["results"][0]["series"][0]["values"]
    assert rows[0][1] == n - 1 and isinstance(rows[0][1], int)
    assert rows[0][2] == 800.0 + n - 1
    assert _sample(ingest, "hub_points_written_total") == n
    # The live wall sees the newest reading once it is stored.
    live = ingest.live.changes(0)["devices"]
    assert live[0]["values"]["co2_ppm"] == 800.0 + n - 1 and live[0]["room"] == "Lab 2"


def test_duplicate_message_is_stored_once(
    make_ingest: IngestFactory, influx_db: tuple[InfluxDB1, str], peer: Peer
) -> None:
    server, db = influx_db
    ingest = make_ingest(influx_url=server.url, influx_db=db)
    payload = reading(7).to_json()
    peer.publish(TOPIC, payload)
    peer.publish(TOPIC, payload)
    peer.publish(TOPIC, reading(8).to_json())
    wait_until(lambda: _sample(ingest, "hub_points_written_total") == 3, what="3 writes")
    assert server.count(db, "unknown", "co2_ppm") == 2


def test_unacknowledged_messages_survive_store_outage_and_hub_restart(
    make_ingest: IngestFactory, influx_db: tuple[InfluxDB1, str], peer: Peer
) -> None:
    server, db = influx_db
    server.stop()
    try:
        first = make_ingest(influx_url=server.url, influx_db=db, mqtt_client_id="hub-late")
        n = 200  # well past Mosquitto's default window of 20 unacknowledged messages
        for seq in range(n):
            peer.publish(TOPIC, reading(seq).to_json(), qos=1)
        wait_until(lambda: _sample(first, "hub_messages_in_total", kind="telemetry") == n,
                   what="all messages in flight at once")
        wait_until(lambda: _sample(first, "hub_influx_write_failures_total") >= 2,
                   what="write retries")
        assert first.telemetry.failing
        # A hub that acknowledged early would lose everything here.
        first.stop(timeout=1)
    finally:
        server.start()
    assert server.count(db, "unknown", "co2_ppm") == 0
    second = make_ingest(influx_url=server.url, influx_db=db, mqtt_client_id="hub-late")
    wait_until(lambda: server.count(db, "unknown", "co2_ppm") == n, what="redelivered messages")
    assert _sample(second, "hub_messages_in_total", kind="telemetry") >= n


def test_v2_api_writes_to_victoriametrics(
    make_ingest: IngestFactory, victoria: VictoriaMetrics, peer: Peer
) -> None:
    make_ingest(influx_url=victoria.url, influx_api="v2", influx_org="hcm",
                influx_bucket="telemetry", influx_token="any")
    _birth(peer)
    n = 50
    for seq in range(n):
        peer.publish(TOPIC, reading(seq).to_json())
    match = f'{{__name__="env_co2_ppm",school="{SCHOOL}",room="Lab 2"}}'
    assert victoria.wait_samples(match, n) == n
    assert victoria.wait_samples('{__name__="env_seq"}', n) == n


def test_no_store_configured_still_acknowledges_and_shows_live(
    make_ingest: IngestFactory, peer: Peer, tmp_path: Path
) -> None:
    ingest = make_ingest()
    assert ingest.writer is None
    peer.publish(TOPIC, reading(1).to_json())
    wait_until(lambda: ingest.live.changes(0)["devices"], what="live reading")
    assert isinstance(ingest.settings, HubSettings)
