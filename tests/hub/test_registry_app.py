"""Registry on SQLite and PostgreSQL through the app: births, heartbeats, Last Wills, the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from hub.app import create_app
from hub.auth import Role
from hub.settings import load_settings
from protocol import DeviceHealth, DeviceInfo, EdgeState, Heartbeat, Status, topics
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.hub.conftest import T0, Peer, serve, wait_until

SCHOOL, EDGE = "thpt-nguyen-du", "canteen-1"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def hub(mosquitto: Mosquitto, db_url: str) -> Iterator[tuple[httpx.Client, FastAPI]]:
    app = create_app(load_settings(mqtt_url=mosquitto.url, db_url=db_url, mqtt_client_id="hub-reg"))
    with serve(app) as test_client:
        wait_until(lambda: test_client.get("/healthz").status_code == 200, what="hub healthy")
        token = app.state.tokens.issue("tech", Role.TECHNICIAN, school=SCHOOL)
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield test_client, app


def _edges(client: httpx.Client, **params: str) -> list[dict]:
    response = client.get("/api/v1/devices", params={"school": SCHOOL, **params})
    assert response.status_code == 200
    return response.json()["edges"]


def _edge_state(client: httpx.Client) -> str | None:
    edges = _edges(client)
    return edges[0]["state"] if edges else None


def test_birth_heartbeat_and_last_will_update_the_registry(
    hub: tuple[httpx.Client, FastAPI], mosquitto: Mosquitto
) -> None:
    client, app = hub
    edge = Peer(mosquitto, client_id=EDGE)
    will = Status(ts=T0, state=EdgeState.OFFLINE)
    edge.connect(will=(topics.status(SCHOOL, EDGE), will.to_json()))
    birth = Status(ts=T0 + timedelta(seconds=1), state=EdgeState.ONLINE, fw="2.0.1", devices=(
        DeviceInfo(id="till-1", kind="till", model="pos-58", room="Căn tin"),
        DeviceInfo(id="reader-1", kind="card-reader", model="rdm6300"),
    ))
    edge.publish(topics.status(SCHOOL, EDGE), birth.to_json(), retain=True)
    wait_until(lambda: _edge_state(client) == "online", what="online edge")
    edge_row = _edges(client)[0]
    assert edge_row["fw"] == "2.0.1"
    assert {d["device"]: (d["kind"], d["room"]) for d in edge_row["devices"]} == {
        "till-1": ("till", "Căn tin"), "reader-1": ("card-reader", "")}

    beat = Heartbeat(ts=T0 + timedelta(seconds=30), uptime_s=31.0, cpu_pct=12.5, outbox=4,
                     devices={"till-1": DeviceHealth(ok=False, errors=3)})
    edge.publish(topics.heartbeat(SCHOOL, EDGE), beat.to_json(), qos=0)
    wait_until(lambda: _edges(client)[0]["outbox"] == 4, what="heartbeat")
    row = _edges(client)[0]
    assert row["cpu_pct"] == 12.5 and row["uptime_s"] == 31.0
    till = next(d for d in row["devices"] if d["device"] == "till-1")
    assert (till["ok"], till["errors"]) == (False, 3)

    # A Will without a session (an older edge) is ordered by its ts: this one (T0) is older
    # than the birth, so it does not turn the edge offline. (With sessions, the death of the
    # current connection does: tests/hub/test_status_order.py, tests/e2e/test_edge_crash.py.)
    edge.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message"))
    edge.client.loop_stop()
    updates = app.state.metrics.registry
    wait_until(lambda: (updates.get_sample_value("hub_registry_updates_total",
                                                 {"kind": "status"}) or 0) >= 2, what="the Will")
    assert _edge_state(client) == "online"
    assert app.state.live.changes(0)["edges"][0]["state"] == "online"

    # A newer offline status wins; the state filter of the API sees it.
    late = Status(ts=T0 + timedelta(minutes=5), state=EdgeState.OFFLINE)
    with Peer(mosquitto).connect() as other:
        other.publish(topics.status(SCHOOL, EDGE), late.to_json(), retain=True)
    wait_until(lambda: _edge_state(client) == "offline", what="offline edge")
    assert _edges(client, state="online") == []
    assert len(_edges(client, state="offline")) == 1
    assert client.get("/api/v1/devices", params={"school": "Bad School"}).status_code == 422
    # The listing is for the school's own people: a token is needed, and it must be theirs.
    assert httpx.get(f"{client.base_url}/api/v1/devices").status_code == 401
    other = app.state.tokens.issue("staff", Role.STAFF, school="thcs-tan-binh")
    assert client.get("/api/v1/devices", params={"school": SCHOOL},
                      headers={"Authorization": f"Bearer {other}"}).status_code == 403
    parent = app.state.tokens.issue("parent", Role.PARENT, students=[1])
    assert client.get("/api/v1/devices",
                      headers={"Authorization": f"Bearer {parent}"}).status_code == 403
    # Without naming a school, a technician of the school sees their own.
    assert [e["edge"] for e in client.get("/api/v1/devices").json()["edges"]] == [EDGE]


def test_registry_survives_restart_and_tags_come_from_the_database(
    mosquitto: Mosquitto, db_url: str
) -> None:
    settings = load_settings(mqtt_url=mosquitto.url, db_url=db_url, mqtt_client_id="hub-r2")
    birth = Status(ts=T0, state=EdgeState.ONLINE,
                   devices=(DeviceInfo(id="env-1", kind="env", model="scd30", room="10A1"),))
    first = create_app(settings)
    with serve(first) as client:
        client.headers["Authorization"] = \
            f"Bearer {first.state.tokens.issue('tech', Role.TECHNICIAN, school=SCHOOL)}"
        with Peer(mosquitto).connect() as edge:
            edge.publish(topics.status(SCHOOL, EDGE), birth.to_json())  # not retained
        wait_until(lambda: _edge_state(client) == "online", what="birth stored")
    app = create_app(settings)
    with serve(app) as client:
        tag = app.state.ingest.devices.tag(SCHOOL, EDGE, "env-1")
        assert (tag.kind, tag.room) == ("env", "10A1")
        assert client.get("/docs").status_code == 200
