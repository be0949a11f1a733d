"""Simulated students: they tap in at the gate and their classroom door, and buy at the canteen.

A day is planned on the school's clock (arrivals from 06:15, the first lesson at 07:00, a few
late, breakfast and lunch at the canteen) and played back ``speed`` times faster, but never
faster than one card every ~0.6-1.5 s, so the demo stays light. Each tap is a card held on the
simulated reader for a moment and taken away, as a student does; the real drivers read it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from smartschool_cli.demo_edges import DemoReaders
from smartschool_cli.demo_people import DemoStudent

log = logging.getLogger(__name__)

#: What the canteen sells: sku -> (name on the till, price in đồng).
MENU = {
    "banh-mi": ("Bánh mì thịt", 15_000),
    "com-tam": ("Cơm tấm sườn", 25_000),
    "sua-dau-nanh": ("Sữa đậu nành", 8_000),
    "nuoc-suoi": ("Nước suối", 6_000),
}
_BREAKFASTS = [("banh-mi",), ("banh-mi", "sua-dau-nanh"), ("sua-dau-nanh",), ("banh-mi", "nuoc-suoi")]
_LUNCHES = [("com-tam",), ("com-tam", "nuoc-suoi"), ("com-tam", "sua-dau-nanh"), ("banh-mi",)]

#: Seconds a card is held on a reader: long enough for several frames or polls.
HOLD_S = 0.3
#: Seconds between two cards (anywhere in the school) at the least and at the most.
GAP_S = (0.3, 1.2)
#: Seconds between two school days of the simulation.
NIGHT_S = 5.0
DAY_START_S = 6 * 3600 + 15 * 60


def _hm(hours: int, minutes: float) -> float:
    return hours * 3600 + minutes * 60


@dataclass(frozen=True, slots=True, order=True)
class Step:
    """One card at one reader at a time of the school day (seconds after midnight)."""

    at_s: float
    where: Literal["gate", "door", "till"] = field(compare=False)
    card: str = field(compare=False)
    class_name: str = field(default="", compare=False)
    items: tuple[str, ...] = field(default=(), compare=False)


def plan_day(students: list[DemoStudent], lost_card: str, rng: random.Random) -> list[Step]:
    """The taps and purchases of one school day, in time order."""
    steps: list[Step] = []
    for student in students:
        if student.em_card == lost_card:
            # Their card was reported lost; they try it at the gate anyway and are turned away.
            steps.append(Step(_hm(6, rng.uniform(16, 25)), "gate", lost_card))
            continue
        if rng.random() < 0.04:
            continue  # absent today
        late = rng.random() < 0.07
        at = _hm(7, rng.uniform(5, 30)) if late else _hm(6, 15 + rng.triangular(0, 45, 30))
        steps.append(Step(at, "gate", student.em_card))
        if student.nfc_card and not late and rng.random() < 0.3:
            at += rng.uniform(60, 240)
            steps.append(Step(at, "till", student.nfc_card, items=rng.choice(_BREAKFASTS)))
        at += rng.uniform(120, 360)
        steps.append(Step(at, "door", student.em_card, student.class_name))
        if rng.random() < 0.04:  # taps again, not sure the first one was read
            steps.append(Step(at + rng.uniform(180, 480), "door", student.em_card,
                              student.class_name))
        if student.nfc_card and rng.random() < 0.5:
            steps.append(Step(_hm(11, rng.uniform(15, 45)), "till", student.nfc_card,
                              items=rng.choice(_LUNCHES)))
    for earliest, latest in ((16, 25), (30, 60)):  # a visitor's card, another school's card
        steps.append(Step(_hm(6, rng.uniform(earliest, latest)), "gate",
                          "em:" + f"{rng.randrange(16**10):010X}"))
    return sorted(steps)


SetSale = Callable[[int, list[dict[str, object]]], object]


class CardField(Protocol):
    """A simulated reader's field: a card can be put in it and taken out."""

    def present(self, card_uid_hex: str) -> None:
        """Put a card in the field."""

    def remove(self) -> None:
        """Take the card out."""


class StudentSimulation:
    """Plays school days on the readers until cancelled."""

    def __init__(self, readers: DemoReaders, set_sale: SetSale, students: list[DemoStudent],
                 lost_card: str, *, speed: float, seed: int = 7,
                 new_day: Callable[[], Awaitable[object]] | None = None) -> None:
        self.readers, self.set_sale = readers, set_sale
        self.students, self.lost_card = students, lost_card
        self.speed = max(speed, 1e-3)
        self.rng = random.Random(seed)
        self.new_day = new_day
        self.taps = 0
        self.sales = 0

    async def run(self) -> None:
        """School day after school day."""
        day = 0
        while True:
            day += 1
            steps = plan_day(self.students, self.lost_card, self.rng)
            log.info("demo school day %d: %d cards to tap (%d at the till)", day, len(steps),
                     sum(1 for s in steps if s.where == "till"))
            await self._play(steps)
            await asyncio.sleep(NIGHT_S)
            if self.new_day is not None:
                await self.new_day()

    async def _play(self, steps: list[Step]) -> None:
        started = time.monotonic()
        ready = started
        for step in steps:
            due = started + (step.at_s - DAY_START_S) / self.speed
            wait = max(due, ready) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._do(step)
            ready = time.monotonic() + self.rng.uniform(*GAP_S)

    async def _do(self, step: Step) -> None:
        if step.where == "till":
            lines = [{"sku": sku, "qty": 1, "price": MENU[sku][1]} for sku in step.items]
            self.set_sale(sum(MENU[sku][1] for sku in step.items), lines)
            self.sales += 1
            reader: CardField = self.readers.till
        elif step.where == "gate":
            reader = self.readers.gate
        else:
            reader = self.readers.doors[step.class_name]
        self.taps += 1
        await hold_card(reader, step.card)


async def hold_card(reader: CardField, card: str, hold_s: float = HOLD_S) -> None:
    """Hold ``card`` on ``reader`` for ``hold_s`` seconds, then take it away."""
    reader.present(card)
    try:
        await asyncio.sleep(hold_s)
    finally:
        reader.remove()
