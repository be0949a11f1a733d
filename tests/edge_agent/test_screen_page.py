"""The till page in headless Chromium: the cashier enters an amount, a card taps on a simulated
RDM6300, the page shows the hub's approval with the new balance, live.

Snapshots come from ``cardkit.SnapshotServer`` (a tiny real HTTP server standing in for the hub's
snapshot endpoints); the hub's request side is the real ingest with small handlers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from firmware_sim import make_simulator
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.edge_agent.cardkit import (
    AgentThread,
    SnapshotServer,
    card_config,
    hub_ingest,
    processed,
    reader,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]


def _until(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_till_page_takes_an_amount_and_shows_the_approval(
    page: Page, mosquitto: Mosquitto, tmp_path: Path, sqlite_url: str
) -> None:
    snapshots = SnapshotServer()
    sim = make_simulator("rdm6300", tmp_path / "ttyTILL", seed=5)
    sim.start()
    config = card_config(mosquitto, tmp_path, snapshots,
                         devices=[reader("till-1", sim.link, "till")])
    runner = AgentThread(config)
    try:
        with hub_ingest(mosquitto, sqlite_url) as (_, engine):
            agent = runner.start()
            _until(agent.link.connected.is_set)
            assert agent.screen is not None
            page.goto(f"{agent.screen.url}/device/till-1")
            _until(lambda: page.locator("body[data-live=true]").count() == 1)
            assert page.get_by_test_id("answer-status").inner_text() == "Mời quẹt thẻ"

            page.get_by_test_id("item-sku").fill("Cơm gà")
            page.get_by_test_id("item-price").fill("25000")
            page.get_by_test_id("item-add").click()
            assert page.get_by_test_id("sale-amount").input_value() == "25000"
            page.get_by_test_id("sale-submit").click()
            page.get_by_test_id("pending-sale").filter(has_text="25.000 đ").wait_for()
            assert agent.tills["till-1"].sale is not None

            sim.present("0F00A1B2C3")  # type: ignore[attr-defined]
            answer = page.locator('[data-testid=answer][data-code="approved"]')
            answer.wait_for(timeout=15000)
            sim.remove()  # type: ignore[attr-defined]
            assert page.get_by_test_id("answer-status").inner_text() == "Thanh toán thành công"
            assert page.get_by_test_id("answer-name").inner_text() == "Nguyễn Thị Mai Anh"
            assert page.get_by_test_id("answer-amount").inner_text() == "25.000 đ"
            assert page.get_by_test_id("answer-balance").inner_text() == "95.000 đ"
            assert page.get_by_test_id("offline-badge").is_hidden()
            assert "ok" in (answer.get_attribute("class") or "")
            # The page fetches the sale again after an answer: the line clears when that returns.
            _until(lambda: page.get_by_test_id("pending-sale").inner_text() == "")
            assert len(processed(engine, "pay")) == 1

            page.get_by_test_id("lang-en").click()
            assert page.get_by_test_id("answer-status").inner_text() == "Payment approved"
            page.get_by_test_id("lang-vi").click()
            page.screenshot(path=str(tmp_path / "till.png"))
            artifacts = ROOT / "test-artifacts"
            artifacts.mkdir(exist_ok=True)
            page.screenshot(path=str(artifacts / "edge_till_page.png"))
    finally:
        runner.stop()
        sim.stop()
        snapshots.close()
