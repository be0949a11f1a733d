"""Money through faults: thousands of payments from several tills while the hub is SIGKILLed
and restarted and one till loses the broker for a while. Afterwards every payment a till
approved is in the ledger exactly once, every wallet's balance is the sum of its entries, every
transaction sums to zero, and no online approval took a wallet below zero (verify_ledger)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from edge_agent.app import EdgeAgent
from hub.db.engine import make_engine
from hub.db.ledger import TransactionRow
from hub.services.ledger import verify_ledger
from smartschool_cli.localservers.mosquitto import Mosquitto
from tests.e2e.relay import LinkRelay
from tests.e2e.school import Hub, edge_raw, readers, running_edge, seed_school

TILLS = 3
PAYMENTS_PER_TILL = 400
PRICES = [6_000, 8_000, 15_000, 25_000]


class TillLog:
    """What one till's screen showed: approved request ids, online or offline."""

    def __init__(self) -> None:
        self.approved: dict[UUID, bool] = {}  # request id -> decided offline
        self.codes: Counter[str] = Counter()


async def sell(agent: EdgeAgent, device: str, cards: list[str], log: TillLog, seed: int,
               stop: asyncio.Event) -> None:
    """A queue of students buying lunch; a till with no answer asks the same card again."""
    rng = random.Random(seed)
    till = agent.tills[device]
    for _ in range(PAYMENTS_PER_TILL):
        if stop.is_set():
            return
        till.set_sale(rng.choice(PRICES))
        card = rng.choice(cards)
        for _attempt in range(20):
            answer = await agent.cards.present(device, card)
            log.codes[answer.code.value] += 1
            if answer.code.value == "approved":
                assert answer.request is not None
                log.approved[answer.request] = answer.offline
                break
            if answer.code.value != "error.no_answer":
                break
            await asyncio.sleep(0.2)


async def test_approved_payments_survive_hub_kills_and_a_lost_link(
    mosquitto: Mosquitto, pg_url: str, tmp_path: Path
) -> None:
    school = seed_school(pg_url, students=40, balance=400_000)
    hub = Hub(mosquitto.url, pg_url, tmp_path).start_ready()
    relay = await LinkRelay(mosquitto.host, mosquitto.port).up()
    logs = [TillLog() for _ in range(TILLS)]
    names = [f"till-{i}" for i in range(TILLS)]
    try:
        with readers(tmp_path, "rdm6300", names):
            raws = [edge_raw(f"can-tin-{i}", relay.url if i == 0 else mosquitto.url, hub, tmp_path,
                             [{"id": names[i], "driver": "rdm6300", "role": "till",
                               "port": str(tmp_path / f"tty-{names[i]}")}])
                    for i in range(TILLS)]
            async with running_edge(raws[0]) as a0, running_edge(raws[1]) as a1, \
                    running_edge(raws[2]) as a2:
                agents = [a0, a1, a2]
                stop = asyncio.Event()
                sales = [asyncio.create_task(sell(agents[i], names[i], school.cards, logs[i],
                                                  seed=i, stop=stop)) for i in range(TILLS)]

                async def approvals() -> int:
                    return sum(len(log.approved) for log in logs)

                async def until(count: int) -> None:
                    async with asyncio.timeout(120):
                        while await approvals() < count and not all(s.done() for s in sales):
                            await asyncio.sleep(0.05)

                await until(150)
                hub.kill()  # mid-batch, no goodbye
                await asyncio.sleep(1.0)  # tills keep selling into their outboxes meanwhile
                await asyncio.to_thread(hub.start_ready)
                await until(400)
                await relay.down()  # the first till's school link is gone
                try:
                    async with asyncio.timeout(60):
                        while not any(offline for offline in logs[0].approved.values()):
                            await asyncio.sleep(0.05)
                except TimeoutError:
                    raise AssertionError(f"no offline approval: {logs[0].codes}, "
                                         f"{[s.done() for s in sales]}") from None
                await until(600)
                hub.kill()
                await asyncio.to_thread(hub.start_ready)
                await relay.up()
                async with asyncio.timeout(300):
                    await asyncio.gather(*sales)
                for agent in agents:  # every accepted fact leaves the outbox
                    async with asyncio.timeout(60):
                        while agent.outbox.backlog:
                            await asyncio.sleep(0.05)
    finally:
        await relay.down()
        assert hub.terminate() == 0, hub.log()[-3000:]

    approved = {rid: offline for log in logs for rid, offline in log.approved.items()}
    offline_approved = sum(approved.values())
    engine = make_engine(pg_url)
    try:
        with Session(engine) as session:
            purchases = Counter(session.scalars(
                select(TransactionRow.reference).where(TransactionRow.kind == "purchase")))
            assert verify_ledger(session) == []
    finally:
        engine.dispose()
    print(f"approved {len(approved)} ({offline_approved} offline), tills saw "
          f"{sum((log.codes for log in logs), Counter())}")
    assert len(approved) > 800 and offline_approved > 0
    missing = [rid for rid in approved if purchases[f"req:{rid}"] != 1]
    assert missing == [], f"{len(missing)} approved payments not in the ledger exactly once"
    assert all(count == 1 for count in purchases.values())
