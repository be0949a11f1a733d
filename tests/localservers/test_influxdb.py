"""The private InfluxDB 1.6.7: answers, takes v1 writes, keeps them over restarts."""

from __future__ import annotations

import urllib3

from smartschool_cli.localservers.influxdb import InfluxDB1

LINES = [
    "env,school=thpt-le-quy-don,edge=e1,device=co2-1,room=10A1 co2_ppm=612,temp_c=29.5 1700000000000000000",
    "env,school=thpt-le-quy-don,edge=e1,device=co2-1,room=10A1 co2_ppm=640,temp_c=29.7 1700000010000000000",
    "env,school=thpt-nguyen-du,edge=e2,device=co2-9,room=11C3 co2_ppm=701 1700000000000000000",
]


def test_ping_answers_204(influxdb: InfluxDB1) -> None:
    resp = urllib3.request("GET", f"{influxdb.url}/ping")
    assert resp.status == 204
    assert resp.headers["X-Influxdb-Version"].startswith("1.6")


def test_write_then_count(influx_db: tuple[InfluxDB1, str]) -> None:
    server, db = influx_db
    assert server.count(db, "env", "co2_ppm") == 0
    resp = urllib3.request("POST", f"{server.url}/write?db={db}", body="\n".join(LINES).encode())
    assert resp.status == 204
    assert server.count(db, "env", "co2_ppm") == 3
    assert server.count(db, "env", "temp_c") == 2
    assert server.count(db, "env", "co2_ppm", since_ns=1700000000000000001) == 1
    assert server.count(db, "env", "co2_ppm", since_ns=1700000010000000001) == 0


def test_each_test_gets_an_empty_database(influx_db: tuple[InfluxDB1, str]) -> None:
    server, db = influx_db
    assert server.count(db, "env", "co2_ppm") == 0
    databases = server.query("SHOW DATABASES")["results"][0]["series"][0]["values"]
    assert [db] in databases


def test_data_survives_graceful_restart_and_kill(influx_db: tuple[InfluxDB1, str]) -> None:
    server, db = influx_db
    server.write(db, LINES)
    port = server.port
    server.restart()
    assert server.port == port
    assert server.count(db, "env", "co2_ppm") == 3
    # A 204 means the WAL is on disk: a kill right after must lose nothing.
    server.write(db, "env,school=s,edge=e,device=d,room=r co2_ppm=800 1700000020000000000")
    server.kill()
    server.start()
    assert server.count(db, "env", "co2_ppm") == 4
