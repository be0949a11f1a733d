"""Doors and tills through real pieces: RDM6300 simulators on pseudo-terminals, the real driver,
the agent, a real Mosquitto and the hub's real request ingest on SQLite (with small handlers).

Snapshots come from ``cardkit.SnapshotServer``, a tiny real HTTP server in a thread serving the
hub's snapshot shapes with ETag/304 (see its docstring).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge_agent.app import EdgeAgent
from edge_agent.settings import EdgeConfig
from firmware_sim import make_simulator
from firmware_sim.rdm6300 import Rdm6300Simulator
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.edge_agent.cardkit import (
    SnapshotServer,
    card_config,
    decisions,
    hub_ingest,
    processed,
    reader,
)

REARM_S = 0.1


@pytest.fixture
def snapshot_server() -> Iterator[SnapshotServer]:
    server = SnapshotServer()
    yield server
    server.close()


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Rdm6300Simulator]:
    simulator = make_simulator("rdm6300", tmp_path / "ttyCARD", seed=3)
    assert isinstance(simulator, Rdm6300Simulator)
    simulator.start()
    yield simulator
    simulator.stop()


async def _wait_for(predicate: Callable[[], object], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


@asynccontextmanager
async def agent_with_snapshots(config: EdgeConfig) -> AsyncIterator[EdgeAgent]:
    """An agent whose snapshots were fetched (or loaded from disk)."""
    async with EdgeAgent(config) as agent:
        assert agent.snapshots is not None
        await _wait_for(lambda: agent.snapshots is not None and agent.snapshots.roster is not None)
        yield agent


async def tap(agent: EdgeAgent, sim: Rdm6300Simulator, uid: str) -> dict[str, Any]:
    """Present a card until the screen shows a new answer, take it off, return ``/api/last``."""
    before = agent.board.shown
    sim.present(uid)
    try:
        await _wait_for(lambda: agent.board.shown > before)
    finally:
        sim.remove()
    # The reader counts a card as gone once unheard for its re-arm time: a physical wait.
    await asyncio.sleep(REARM_S * 2)
    assert agent.screen is not None
    async with httpx.AsyncClient(base_url=agent.screen.url) as client:
        response = await client.get("/api/last")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def test_online_door_tap_is_answered_by_the_hub(
    mosquitto: Mosquitto, tmp_path: Path, sim: Rdm6300Simulator,
    snapshot_server: SnapshotServer, sqlite_url: str,
) -> None:
    config = card_config(mosquitto, tmp_path, snapshot_server,
                         devices=[reader("door-1", sim.link, "door")])
    with hub_ingest(mosquitto, sqlite_url) as (_, engine):
        async with agent_with_snapshots(config) as agent:
            await _wait_for(agent.link.connected.is_set)
            shown = await tap(agent, sim, "0F00A1B2C3")
            assert shown["code"] == "attendance.present" and shown["offline"] is False
            assert shown["data"]["name"] == "Nguyễn Thị Mai Anh" and shown["data"]["class"] == "10A1"
            assert shown["msg"]["vi"] == "Đã điểm danh: có mặt"
            assert shown["device"] == "door-1" and shown["role"] == "door"
            rows = processed(engine, "tap")
            assert [r.id for r in rows] == [shown["request"]]
            assert agent.supervisor.health["door-1"].readings == 1


async def test_offline_door_answers_from_the_roster_and_the_hub_gets_the_tap_once(
    mosquitto: Mosquitto, tmp_path: Path, sim: Rdm6300Simulator,
    snapshot_server: SnapshotServer, sqlite_url: str,
) -> None:
    config = card_config(mosquitto, tmp_path, snapshot_server,
                         devices=[reader("door-1", sim.link, "door")])
    with hub_ingest(mosquitto, sqlite_url) as (_, engine):
        async with agent_with_snapshots(config) as agent:
            await _wait_for(agent.link.connected.is_set)
            await asyncio.to_thread(mosquitto.stop)
            await _wait_for(lambda: not agent.link.connected.is_set())

            known = await tap(agent, sim, "0F00A1B2C3")
            assert known["code"] == "attendance.present" and known["offline"] is True
            assert known["data"]["name"] == "Nguyễn Thị Mai Anh"
            blocked = await tap(agent, sim, "0F00A1B2C5")
            assert blocked["code"] == "declined.card_blocked" and blocked["offline"] is True
            unknown = await tap(agent, sim, "0F00FFFFFF")
            assert unknown["code"] == "declined.unknown_card"
            assert agent.outbox.backlog == 3  # every tap waits for the hub

            await asyncio.to_thread(mosquitto.start)
            await _wait_for(lambda: len(processed(engine, "tap")) == 3, timeout=30)
            await _wait_for(lambda: agent.outbox.backlog == 0)
            ids = [r.id for r in processed(engine, "tap")]
            assert sorted(ids) == sorted([known["request"], blocked["request"],
                                          unknown["request"]])
            assert decisions(engine) == 3  # each tap decided exactly once


async def test_offline_till_sells_up_to_the_limit_and_the_hub_gets_each_sale_once(
    mosquitto: Mosquitto, tmp_path: Path, sim: Rdm6300Simulator,
    snapshot_server: SnapshotServer, sqlite_url: str,
) -> None:
    config = card_config(mosquitto, tmp_path, snapshot_server,
                         devices=[reader("till-1", sim.link, "till")])
    with hub_ingest(mosquitto, sqlite_url) as (_, engine):
        async with agent_with_snapshots(config) as agent:
            await _wait_for(lambda: agent.snapshots is not None
                            and agent.snapshots.balances is not None)
            await _wait_for(agent.link.connected.is_set)
            await asyncio.to_thread(mosquitto.stop)
            await _wait_for(lambda: not agent.link.connected.is_set())
            till = agent.tills["till-1"]

            approved = []
            for _ in range(2):  # 2 × 20.000 đ within the school's offline limit of 50.000 đ
                till.set_sale(20_000, [{"sku": "com-ga", "qty": 1, "price": 20_000}])
                shown = await tap(agent, sim, "0F00A1B2C3")
                assert shown["code"] == "approved" and shown["offline"] is True
                approved.append(shown["request"])
                assert till.sale is None
            assert shown["data"]["balance"] == 80_000

            till.set_sale(20_000)
            over = await tap(agent, sim, "0F00A1B2C3")
            assert over["code"] == "declined.offline_limit" and over["offline"] is True
            assert till.sale is not None and till.sale.amount == 20_000  # still pending
            blocked = await tap(agent, sim, "0F00A1B2C5")
            assert blocked["code"] == "declined.card_blocked"
            assert agent.outbox.backlog == 2  # only the approved sales go to the hub

            await asyncio.to_thread(mosquitto.start)
            await _wait_for(lambda: len(processed(engine, "pay")) == 2, timeout=30)
            await _wait_for(lambda: agent.outbox.backlog == 0)
            rows = processed(engine, "pay")
            assert sorted(r.id for r in rows) == sorted(approved)
            assert all(json.loads(r.response)["data"]["offline"] is True for r in rows)
            assert decisions(engine) == 2

            # Back online: the pending sale is paid by the hub, not the offline rule.
            online = await tap(agent, sim, "0F00A1B2C3")
            assert online["code"] == "approved" and online["offline"] is False
            assert online["data"]["balance"] == 100_000
            assert decisions(engine) == 3


async def test_a_till_without_an_answer_in_time_does_not_approve(
    mosquitto: Mosquitto, tmp_path: Path, sim: Rdm6300Simulator,
    snapshot_server: SnapshotServer, sqlite_url: str,
) -> None:
    config = card_config(mosquitto, tmp_path, snapshot_server, answer_timeout_s=0.3,
                         devices=[reader("till-1", sim.link, "till")])
    # The hub's session exists (so the broker keeps requests for it), but the hub is away: the
    # link is connected and nobody answers.
    with hub_ingest(mosquitto, sqlite_url, client_id="hub-late"):
        pass
    async with agent_with_snapshots(config) as agent:
        await _wait_for(agent.link.connected.is_set)
        till = agent.tills["till-1"]
        till.set_sale(15_000)
        first = await tap(agent, sim, "0F00A1B2C3")
        assert first["code"] == "error.no_answer" and first["ok"] is False
        assert till.sale is not None  # not paid, still pending
        again = await tap(agent, sim, "0F00A1B2C3")
        assert again["code"] == "error.no_answer"
        assert again["request"] == first["request"]  # the same payment, never a second one

        # The hub comes up and decides the waiting payment once; the till hears it late.
        with hub_ingest(mosquitto, sqlite_url, client_id="hub-late") as (_, engine):
            await _wait_for(lambda: till.sale is None, timeout=30)
            assert agent.board.last["till-1"].code.value == "approved"
            await _wait_for(lambda: decisions(engine) == 1)
            assert [r.id for r in processed(engine, "pay")] == [first["request"]]
            assert decisions(engine) == 1


async def test_a_restarted_box_without_hub_or_broker_answers_from_its_stored_roster(
    mosquitto: Mosquitto, tmp_path: Path, sim: Rdm6300Simulator,
    snapshot_server: SnapshotServer,
) -> None:
    config = card_config(mosquitto, tmp_path, snapshot_server,
                         devices=[reader("gate-1", sim.link, "gate")])
    async with agent_with_snapshots(config) as agent:
        assert agent.snapshots is not None and agent.snapshots.version("roster") == "r1"
    snapshot_server.close()
    await asyncio.to_thread(mosquitto.stop)
    async with EdgeAgent(config) as agent:
        assert agent.snapshots is not None and agent.snapshots.version("roster") == "r1"
        shown = await tap(agent, sim, "0F00A1B2C4")
        assert shown["code"] == "attendance.present" and shown["offline"] is True
        assert shown["data"]["name"] == "Trần Quốc Bảo" and shown["role"] == "gate"
        assert agent.outbox.backlog == 1
        assert agent.status()["snapshots"]["roster"]["age_s"] is not None


async def test_the_sale_api_sets_and_refuses(
    mosquitto: Mosquitto, tmp_path: Path, sim: Rdm6300Simulator,
    snapshot_server: SnapshotServer,
) -> None:
    config = card_config(mosquitto, tmp_path, snapshot_server,
                         devices=[reader("till-1", sim.link, "till")])
    async with agent_with_snapshots(config) as agent, httpx.AsyncClient(
        base_url=agent.screen.url if agent.screen else ""
    ) as client:
        r = await client.post("/api/sale", json={"amount": 25_000, "items": [
            {"sku": "banh-mi", "qty": 2, "price": 12_500}]})
        assert r.status_code == 200 and r.json()["sale"]["amount"] == 25_000
        assert agent.tills["till-1"].sale is not None
        assert agent.tills["till-1"].sale.items[0].sku == "banh-mi"  # type: ignore[index,union-attr]
        r = await client.post("/api/sale", json={"amount": -5})
        assert r.status_code == 400 and r.json()["error"]["vi"]
        r = await client.post("/api/sale", json={"device": "till-9", "amount": 5})
        assert r.status_code == 404
        r = await client.get("/api/sale", params={"device": "till-1"})
        assert r.json()["sale"]["amount"] == 25_000
        status = (await client.get("/api/status")).json()
        assert status["snapshots"]["roster"]["version"] == "r1"
        assert status["snapshots"]["roster"]["cards"] == 3
