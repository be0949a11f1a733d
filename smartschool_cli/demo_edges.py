"""The demo's edge boxes and what is wired to them, simulated byte for byte on pseudo-terminals.

Every room and the canteen have a CO2 and a PM sensor, the gate a PM sensor for the street's
air; every classroom also has a door reader (RDM6300, EM4100 cards). The main gate has a reader
that counts arrivals and the canteen a till with an NFC reader (PN532). Card boxes get the hub's URL and an edge token for their roster and balance snapshots.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware_sim import make_simulator
from firmware_sim.base import PtyDevice
from firmware_sim.occupancy import RoomProfile
from firmware_sim.pn532 import Pn532Simulator
from firmware_sim.rdm6300 import Rdm6300Simulator
from hub.auth import Role, TokenSigner
from smartschool_cli.demo_school import (
    CANTEEN_AIR,
    CANTEEN_EDGE,
    CANTEEN_NAME,
    DOOR_READER,
    GATE_AIR,
    GATE_EDGE,
    GATE_NAME,
    GATE_READER,
    SCHOOL_ID,
    TILL,
    DemoRoom,
)

if TYPE_CHECKING:
    from smartschool_cli.demo import DemoOptions
    from smartschool_cli.demo_servers import DemoBroker

#: Seconds between two readings of a demo sensor: fast enough for a lively wall.
READING_INTERVAL_S = 2.0
#: Edge tokens of the demo outlive any demo run (a real box gets its token rotated).
EDGE_TOKEN_TTL_S = 365 * 86400


def demo_secret(data_dir: Path) -> str:
    """The hub's token secret for this data directory: made once, kept in ``jwt-secret``."""
    path = data_dir.resolve() / "jwt-secret"
    if path.exists():
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) >= 32:
            return secret
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret + "\n", encoding="ascii")
    return secret


@dataclass(frozen=True, slots=True)
class DemoReaders:
    """The simulated card readers the students tap, by where they stand."""

    gate: Rdm6300Simulator
    doors: dict[str, Rdm6300Simulator]  # class name -> its classroom's door reader
    till: Pn532Simulator


#: Which air sensors each box has: (family, device id, port suffix).
_CO2 = ("mhz19", "co2-1", "co2")
_PM = ("pms5003", "pm-1", "pm")
_ROOM_AIR = (_CO2, _PM)
_GATE_AIR = (_PM,)


def _dev(options: DemoOptions) -> Path:
    return options.data_dir.resolve() / "dev"


def _air(edge: str, options: DemoOptions, sensors: tuple[tuple[str, str, str], ...]) -> list[
        dict[str, Any]]:
    dev = _dev(options)
    return [{"id": device, "driver": family, "port": str(dev / f"{edge}-{suffix}"),
             "interval_s": READING_INTERVAL_S} for family, device, suffix in sensors]


class EdgePlans:
    """The TOML document of every demo edge box, as dicts."""

    def __init__(self, options: DemoOptions, broker: DemoBroker, signer: TokenSigner) -> None:
        self.options, self.broker, self.signer = options, broker, signer
        self.hub_url = f"http://{options.host}:{options.http_port}"

    def _base(self, edge: str, room: str) -> dict[str, Any]:
        return {
            "school": SCHOOL_ID,
            "edge": edge,
            "room": room,
            "firmware": "demo-0.1.0",
            "heartbeat_s": 10,
            "mqtt": {"url": self.broker.url, "protocol": self.broker.protocol},
            # One folder per box: the box's local state lives beside its outbox.
            "outbox": {"path": str(self.options.data_dir.resolve() / "edges" / edge / "outbox.sqlite")},
            # A demo box must never reboot the machine it runs on: it only restarts itself.
            "reboot_command": [],
            "devices": [],
        }

    def _with_cards(self, config: dict[str, Any], reader: dict[str, Any]) -> dict[str, Any]:
        token = self.signer.issue(config["edge"], Role.EDGE, school=SCHOOL_ID,
                                  ttl_s=EDGE_TOKEN_TTL_S)
        config["devices"].append(reader)
        config["hub"] = {"url": self.hub_url, "token": token}
        config["screen"] = {"host": self.options.host, "port": 0}  # a free port, shown in the banner
        return config

    def room(self, room: DemoRoom) -> dict[str, Any]:
        """A room's box: its air sensors and, in a classroom, the door reader."""
        config = self._base(room.edge, room.name)
        config["devices"] += _air(room.edge, self.options, _ROOM_AIR)
        if not room.is_classroom:
            return config
        return self._with_cards(config, {"id": DOOR_READER, "driver": "rdm6300", "role": "door",
                                         "port": str(_dev(self.options) / f"{room.edge}-door")})

    def gate(self) -> dict[str, Any]:
        """The main gate's box: one reader that counts arrivals, and the street's PM2.5."""
        config = self._base(GATE_EDGE, GATE_NAME)
        config["devices"] += _air(GATE_EDGE, self.options, _GATE_AIR)
        return self._with_cards(config, {
            "id": GATE_READER, "driver": "rdm6300", "role": "gate",
            "port": str(_dev(self.options) / f"{GATE_EDGE}-reader")})

    def canteen(self) -> dict[str, Any]:
        """The canteen's box: a till with an NFC reader, and the canteen's air."""
        config = self._base(CANTEEN_EDGE, CANTEEN_NAME)
        config["devices"] += _air(CANTEEN_EDGE, self.options, _ROOM_AIR)
        return self._with_cards(config, {
            "id": TILL, "driver": "pn532", "role": "till",
            "port": str(_dev(self.options) / f"{CANTEEN_EDGE}-till")})

    def all(self, rooms: list[DemoRoom]) -> list[dict[str, Any]]:
        """Every box: the rooms, the gate, the canteen."""
        return [self.room(room) for room in rooms] + [self.gate(), self.canteen()]


@contextlib.contextmanager
def simulated_devices(rooms: list[DemoRoom], options: DemoOptions) -> Iterator[DemoReaders]:
    """Every room's MH-Z19B and PMS5003 following a school day, and the card readers."""
    dev = _dev(options)
    dev.mkdir(parents=True, exist_ok=True)
    sims: list[PtyDevice] = []

    def started(sim: PtyDevice) -> Any:
        sim.start()
        sims.append(sim)
        return sim

    def air(edge: str, profile: RoomProfile, seed: int,
            sensors: tuple[tuple[str, str, str], ...]) -> None:
        for family, _, suffix in sensors:
            started(make_simulator(family, dev / f"{edge}-{suffix}", seed=seed,
                                   speed=options.speed, room=profile))

    try:
        doors: dict[str, Rdm6300Simulator] = {}
        air(GATE_EDGE, GATE_AIR, len(rooms), _GATE_AIR)
        air(CANTEEN_EDGE, CANTEEN_AIR, len(rooms) + 1, _ROOM_AIR)
        for index, room in enumerate(rooms):
            air(room.edge, room.profile, index, _ROOM_AIR)
            if room.is_classroom:
                doors[room.name] = started(make_simulator("rdm6300", dev / f"{room.edge}-door"))
        gate = started(make_simulator("rdm6300", dev / f"{GATE_EDGE}-reader"))
        till = started(make_simulator("pn532", dev / f"{CANTEEN_EDGE}-till"))
        yield DemoReaders(gate, doors, till)
    finally:
        for sim in sims:
            sim.stop()
