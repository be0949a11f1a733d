"""The committed dashboards are exactly what dashboards/build.py makes from the driver SPECs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dashboards import build
from dashboards.panels import DATASOURCE_UID, SCHEMA_VERSION
from device_drivers import registry
from smartschool_cli import grafana
from tests.dashboards.influxql import Unparsed, parse, queries, target_names

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "dashboards" / "provisioning"


def test_committed_json_is_what_build_generates() -> None:
    generated = build.build()
    committed = {p.name: p.read_text(encoding="utf-8") for p in build.JSON_DIR.glob("*.json")}
    assert sorted(committed) == sorted(generated), "run: python -m dashboards.build"
    for name, board in generated.items():
        assert committed[name] == build.render(board), f"{name} is stale: python -m dashboards.build"
    assert build.main(["--check"]) == 0


def test_check_mode_notices_an_edited_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, board in build.build().items():
        (tmp_path / name).write_text(build.render(board), encoding="utf-8")
    monkeypatch.setattr(build, "JSON_DIR", tmp_path)
    assert build.main(["--check"]) == 0
    path = tmp_path / "smartschool-overview.json"
    path.write_text(path.read_text(encoding="utf-8").replace("co2_ppm", "co2"), encoding="utf-8")
    assert build.main(["--check"]) == 1


def test_every_spec_reading_has_a_panel_and_every_kind_a_health_panel() -> None:
    used: set[tuple[str | None, str]] = set()
    for board in build.build().values():
        assert board["schemaVersion"] == SCHEMA_VERSION
        assert re.fullmatch(r"[a-z0-9-]{1,40}", board["uid"])
        assert board["description"] and board["title"]
        for _where, target in queries(board):
            names = target_names(target)
            used |= {(names.measurement, f) for f in names.fields}
    for name in registry.names():
        spec = registry.get(name)
        for measurement in spec.measurements:
            assert (spec.kind, measurement.name) in used, f"{spec.kind}.{measurement.name}"
        if spec.measurements:
            assert (spec.kind, "seq") in used, f"no health panel for {spec.kind}"


def test_classroom_air_limits_and_variables() -> None:
    board = build.build()["smartschool-classroom-air.json"]
    assert board["title"] == "Chất lượng không khí lớp học"
    steps = {p["title"]: [s["value"] for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"]]
             for p in board["panels"] if p["type"] != "row"}
    assert steps["CO2 theo phòng"] == [None, 1000, 1500]
    assert steps["Bụi mịn PM2.5 theo phòng"] == [None, 25, 50]
    variables = {v["name"]: v["query"] for v in board["templating"]["list"]}
    assert variables["school"] == 'SHOW TAG VALUES WITH KEY = "school"'
    assert variables["room"].startswith('SHOW TAG VALUES WITH KEY = "room"')


def test_every_panel_uses_the_provisioned_datasource() -> None:
    yaml_text = (PROVISIONING / "datasources" / "influxdb.yaml").read_text(encoding="utf-8")
    assert f"uid: {DATASOURCE_UID}" in yaml_text
    assert "url: ${SS_INFLUX_URL}" in yaml_text and "dbName: ${SS_INFLUX_DB}" in yaml_text
    assert "version: InfluxQL" in yaml_text
    assert grafana.DATASOURCE_UID == DATASOURCE_UID
    provider = (PROVISIONING / "dashboards" / "smartschool.yaml").read_text(encoding="utf-8")
    assert "type: file" in provider and f"folderUid: {grafana.FOLDER_UID}" in provider
    for path in build.JSON_DIR.glob("*.json"):
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == DATASOURCE_UID
                assert all(t["datasource"]["uid"] == DATASOURCE_UID for t in panel["targets"])


def test_query_parser_reads_names_and_refuses_what_it_does_not_know() -> None:
    names = parse('SELECT mean("co2_ppm") FROM "co2" WHERE "school" =~ /^$school$/ AND '
                  '$timeFilter GROUP BY time($__interval), "room" fill(null)')
    assert (names.measurement, names.fields, names.tags) == ("co2", {"co2_ppm"}, {"school", "room"})
    show = parse('SHOW TAG VALUES WITH KEY = "room" WHERE "school" =~ /^$school$/')
    assert show.measurement is None and show.tags == {"room", "school"}
    builder = target_names({"measurement": "pm", "select": [[{"type": "field", "params":
                            ["pm25_ugm3"]}, {"type": "mean", "params": []}]],
                            "tags": [{"key": "school", "operator": "=", "value": "x"}],
                            "groupBy": [{"type": "tag", "params": ["device"]}]})
    assert (builder.measurement, builder.fields, builder.tags) == ("pm", {"pm25_ugm3"},
                                                                   {"school", "device"})
    for odd in ('SELECT co2_ppm FROM "co2"', 'SELECT mean("x") FROM "co2" WHERE room = 1',
                "SHOW MEASUREMENTS", 'SELECT * FROM "co2"'):
        with pytest.raises(Unparsed):
            parse(odd)
