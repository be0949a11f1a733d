"""Nothing an edge accepted is lost, and each message takes effect once, through every fault.

Real pieces only: simulated sensors on pseudo-terminals, the edge agent and the hub's ingest as
child processes, a persistent Mosquitto and InfluxDB 1.6.7.
"""

from __future__ import annotations

from pathlib import Path

from firmware_sim import make_simulator
from smartschool_cli.localservers.influxdb import InfluxDB1
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.e2e.procs import edge_process, hub_ingest_process, outbox_state, wait_until, write_toml

SCHOOL, EDGE = "thpt-nguyen-du", "p-10a1"


def stored_seqs(influx: InfluxDB1, db: str) -> list[int]:
    """Every ``seq`` stored for the edge, over all measurements (duplicates kept)."""
    answer = influx.query(f"SELECT seq FROM /.*/ WHERE edge = '{EDGE}'", db)
    seqs: list[int] = []
    for result in answer.get("results", []):
        for series in result.get("series", []):
            column = series["columns"].index("seq")
            seqs += [int(row[column]) for row in series["values"]]
    return seqs


def _ranges(numbers: list[int]) -> str:
    spans: list[list[int]] = []
    for n in numbers:
        if spans and spans[-1][1] == n - 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans[:20])


def test_every_accepted_reading_is_stored_exactly_once(
    mosquitto: Mosquitto, influx_db: tuple[InfluxDB1, str], tmp_path: Path
) -> None:
    influx, db = influx_db
    outbox = tmp_path / "outbox.sqlite"
    co2 = make_simulator("mhz19", tmp_path / "ttyCO2", seed=1, co2_ppm=900, temp_c=27)
    pm = make_simulator("pms5003", tmp_path / "ttyPM", seed=2, pm=(8.0, 15.0, 22.0), period_s=0.02)
    config = write_toml(
        tmp_path / "edge.toml",
        {
            "school": SCHOOL,
            "edge": EDGE,
            "room": "10A1",
            "heartbeat_s": 5,
            "device_retry_min_s": 0.1,
            "device_retry_max_s": 0.5,
            "mqtt": {"url": mosquitto.url, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
            "outbox": {"path": str(outbox)},
            "devices": [
                {"id": "co2-1", "driver": "mhz19", "port": str(tmp_path / "ttyCO2"), "interval_s": 0.02},
                {"id": "pm-1", "driver": "pms5003", "port": str(tmp_path / "ttyPM"), "interval_s": 0.02},
            ],
        },
    )
    hub_env = {
        "SS_MQTT_URL": mosquitto.url,
        "SS_MQTT_CLIENT_ID": "hub-fault-test",
        "SS_DB_URL": f"sqlite:///{tmp_path / 'hub.db'}",
        "SS_INFLUX_URL": influx.url,
        "SS_INFLUX_DB": db,
        "SS_BATCH_WAIT_MS": "20",
        # One worker on Mosquitto: see test_broker_limits for why not a shared subscription.
        "SS_MQTT_SHARED": "false",
    }
    edge = edge_process(config, tmp_path)
    hub = hub_ingest_process(hub_env, tmp_path)
    stored = lambda: len(stored_seqs(influx, db))  # noqa: E731
    produced = lambda: outbox_state(outbox)[1]  # noqa: E731
    waiting = lambda: outbox_state(outbox)[0]  # noqa: E731

    with co2, pm:
        try:
            # The hub's session must exist before the first reading: a broker drops messages
            # that no subscription wants.
            hub.start()
            wait_until(lambda: "MQTT subscribed" in hub.log(), 60, "the hub's subscription")
            edge.start()
            wait_until(lambda: stored() >= 100, 60, "the first 100 readings in InfluxDB")

            # The broker goes away: the edge keeps accepting readings into its outbox.
            mosquitto.stop()
            before = produced()
            wait_until(lambda: waiting() >= 100 and produced() >= before + 100, 30, "a backlog")
            mosquitto.start()
            mark = stored()
            wait_until(lambda: stored() >= mark + 200, 60, "the backlog to flow after the broker")

            # The edge dies without a word, then comes back with the same outbox.
            edge.kill()
            edge.start()
            mark = stored()
            wait_until(lambda: stored() >= mark + 200, 60, "readings after the edge restart")

            # The hub dies: messages wait in its persistent session on the broker.
            hub.kill()
            before = produced()
            wait_until(lambda: produced() >= before + 200, 30, "production while the hub is down")
            hub.start()
            mark = stored()
            wait_until(lambda: stored() >= mark + 200, 60, "readings after the hub restart")

            # Both die at once, mid-stream, and come back.
            hub.kill()
            edge.kill()
            hub.start()
            edge.start()
            mark = stored()
            wait_until(lambda: stored() >= mark + 200, 60, "readings after both restarted")

            # A clean stop ends production; the restarted agent drains what is left.
            co2.set_faults(silence=True)
            pm.set_faults(silence=True)
            assert edge.terminate() == 0, edge.log()[-3000:]
            last = produced()
            edge.start()
            wait_until(lambda: waiting() == 0, 60, "the edge's outbox to drain")
            try:
                wait_until(lambda: stored() >= last, 60, f"all {last} readings in InfluxDB")
            except AssertionError:
                missing = sorted(set(range(1, last + 1)) - set(stored_seqs(influx, db)))
                raise AssertionError(f"missing {len(missing)} of {last}: {_ranges(missing)}") from None
        finally:
            for child in (edge, hub):
                if child.alive():
                    child.terminate()
        print(f"edge accepted {last} readings; hub log tail:\n{hub.log()[-2000:]}")

    seqs = stored_seqs(influx, db)
    assert last > 800, "the test should push a meaningful number of readings"
    assert len(seqs) == last, f"{len(seqs)} stored for {last} accepted: duplicates or extras"
    assert sorted(seqs) == list(range(1, last + 1)), "a reading is missing or stored twice"
