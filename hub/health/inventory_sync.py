"""Keeps the inventory's firmware and rooms as the edges report them (births: ``fw``, devices'
rooms), writing only the rows whose values changed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub.db.inventory import BOX, InventoryRow
from hub.live import EdgeLive

log = logging.getLogger(__name__)

Slot = tuple[str, str, str]


class InventorySync:
    """The inventory's (room, firmware) per slot in memory; ``sync(edges)`` writes differences."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._stored: dict[Slot, tuple[str, str]] = {}

    def load(self) -> int:
        """Read what the inventory holds (at start and after an import); how many slots."""
        with Session(self.engine) as session:
            rows = session.execute(select(InventoryRow.school, InventoryRow.edge,
                                          InventoryRow.device, InventoryRow.room,
                                          InventoryRow.firmware)).all()
        stored: dict[Slot, tuple[str, str]] = {}
        for school, edge, device, room, firmware in rows:
            if (school, edge, device) in stored and stored[(school, edge, device)] != (room,
                                                                                     firmware):
                # Two assets in one slot that disagree: write both on the next report.
                room, firmware = "\0", "\0"
            stored[(school, edge, device)] = (room, firmware)
        self._stored = stored
        return len(stored)

    def changes(self, edges: Iterable[EdgeLive]) -> dict[Slot, dict[str, str]]:
        """What the edges report differently from the inventory, per slot."""
        out: dict[Slot, dict[str, str]] = {}
        for edge in edges:
            box = (edge.school, edge.edge, BOX)
            stored = self._stored.get(box)
            if edge.fw and stored is not None and stored[1] != edge.fw:
                out[box] = {"firmware": edge.fw}
            for device, health in edge.health.items():
                slot = (edge.school, edge.edge, device)
                stored = self._stored.get(slot)
                if health.room and stored is not None and stored[0] != health.room:
                    out[slot] = {"room": health.room}
        return out

    def sync(self, edges: Iterable[EdgeLive]) -> int:
        """Write the differences in one transaction; how many slots changed."""
        changes = self.changes(edges)
        if not changes:
            return 0
        now = datetime.now(UTC)
        try:
            with Session(self.engine) as session, session.begin():
                for (school, edge, device), values in changes.items():
                    session.execute(update(InventoryRow).where(
                        InventoryRow.school == school, InventoryRow.edge == edge,
                        InventoryRow.device == device).values(**values, updated_at=now))
        except SQLAlchemyError as error:
            log.warning("inventory not updated from the edges' reports (%s); trying again", error)
            return 0
        for slot, values in changes.items():
            room, firmware = self._stored[slot]
            self._stored[slot] = (values.get("room", room), values.get("firmware", firmware))
        return len(changes)
