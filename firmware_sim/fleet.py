"""Many edge agents' worth of MQTT traffic from one process, for load and lag measurements.

Each simulated box is its own MQTT client (its own client id, its own Last Will) and speaks the
v1 contract as an edge agent does: a retained birth whose session its Will repeats, heartbeats,
telemetry of a CO2 and a PM sensor whose air follows a school day (``RoomAir``), and card
requests: taps at classroom doors and payments at the canteen till, at fleet-wide rates. A clean
stop says goodbye (a retained ``offline`` status) before it disconnects; a killed fleet leaves
its Wills to the broker.

gmqtt, one asyncio loop: a few hundred clients cost one core's fraction, not a thread each.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as clock_time
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from gmqtt import Client, Message, MQTTConnectError
from gmqtt.mqtt.constants import UNLIMITED_RECONNECTS, MQTTv50

from firmware_sim.fleet_plan import CO2_SENSOR, PM_SENSOR, EdgePlan, SchoolPlan
from firmware_sim.occupancy import RoomAir, SimClock
from protocol import (
    DeviceHealth,
    DeviceInfo,
    EdgeState,
    Heartbeat,
    Pay,
    Status,
    Tap,
    Telemetry,
    topics,
)

log = logging.getLogger(__name__)

CITY_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
FIRMWARE = "fleet-sim-1"
#: A canteen sale, in đồng: a lunch, a drink, a snack.
PRICES = (15_000, 20_000, 25_000, 30_000, 35_000, 10_000, 12_000)


class FleetConnectError(ConnectionError):
    """A box could not make its first connection: the broker is down, refuses, or is wrong."""


@dataclass(frozen=True, slots=True)
class FleetOptions:
    """How the fleet behaves; rates are for the whole fleet, intervals per box."""

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    heartbeat_s: float = 30.0
    telemetry_s: float = 5.0
    taps_per_s: float = 2.0
    pays_per_s: float = 0.5
    #: School-day clock speed of the rooms' air, and the time of day it starts at (default:
    #: now in Ho Chi Minh City).
    speed: float = 1.0
    start: clock_time | None = None
    seed: int = 1
    #: New connections per second while the fleet comes up (a broker dislikes a stampede).
    connects_per_s: float = 100.0
    keepalive: int = 30
    username: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.mqtt_url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("mqtt_url must look like mqtt://host:1883")
        for name in ("heartbeat_s", "telemetry_s", "speed", "connects_per_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.taps_per_s < 0 or self.pays_per_s < 0:
            raise ValueError("rates must not be negative")


@dataclass(slots=True)
class FleetStats:
    """What the fleet did: messages by kind, answers by result code, connection troubles."""

    connected: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # a message due while its box was not connected

    def line(self) -> str:
        """One line for a console."""
        sent = ", ".join(f"{kind} {n}" for kind, n in sorted(self.sent.items()))
        answers = ", ".join(f"{code} {n}" for code, n in self.answers.most_common(4))
        return (f"{self.connected} connected; sent: {sent or 'nothing'}; "
                f"answers: {answers or 'none'}; skipped {self.skipped}")


def _now() -> datetime:
    return datetime.now(UTC)


class SimEdge:
    """One simulated edge box: an MQTT client with its birth, Will, sequence and room air."""

    def __init__(self, plan: EdgePlan, options: FleetOptions, air_clock: SimClock,
                 stats: FleetStats, seed: int) -> None:
        self.plan = plan
        self.stats = stats
        self.air = RoomAir(plan.air, air_clock, seed=seed)
        self.rng = random.Random(seed)
        self.started = time.monotonic()
        # Counts up per box and survives restarts, as the contract asks: start from the clock.
        self.seq = time.time_ns() // 1_000_000
        self.session = uuid.uuid4().hex
        self.status_topic = topics.status(plan.school, plan.edge)
        self.resp_topic = topics.resp(plan.school, plan.edge)
        self.client = Client(
            f"fleet-{plan.school}-{plan.edge}",
            will_message=Message(self.status_topic, self._status(EdgeState.OFFLINE), qos=1,
                                 retain=True),
        )
        self.client.set_config({"reconnect_retries": UNLIMITED_RECONNECTS, "reconnect_delay": 1})
        if options.username:
            self.client.set_auth_credentials(options.username, options.password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.online = False

    def _status(self, state: EdgeState) -> bytes:
        devices = tuple(DeviceInfo(id=d.id, kind=d.kind, model=d.model, room=self.plan.room)
                        for d in self.plan.devices) if state is EdgeState.ONLINE else ()
        return Status(ts=_now(), state=state, fw=FIRMWARE, devices=devices,
                      session=self.session).to_json()

    def _on_connect(self, client: Client, flags: int, rc: int, properties: Any) -> None:
        # Also after gmqtt reconnects by itself: every connection begins with a birth.
        client.publish(self.status_topic, self._status(EdgeState.ONLINE), qos=1, retain=True)
        client.subscribe(self.resp_topic, qos=1)
        if not self.online:
            self.stats.connected += 1
        self.online = True
        self.stats.sent["status"] += 1

    def _on_message(self, client: Client, topic: str, payload: bytes, qos: int,
                    properties: Any) -> int:
        # Answers are counted by code; a box that cannot read one just counts it as such.
        code = payload.split(b'"code":"', 1)[-1].split(b'"', 1)[0].decode(errors="replace")
        self.stats.answers[code or "unreadable"] += 1
        return 0

    async def connect(self, host: str, port: int, ssl: bool, keepalive: int) -> None:
        """Connect once (gmqtt reconnects by itself afterwards); FleetConnectError if refused."""
        try:
            await self.client.connect(host, port, ssl=ssl, keepalive=keepalive, version=MQTTv50)
        except (OSError, MQTTConnectError) as error:
            raise FleetConnectError(f"{self.plan.school}/{self.plan.edge}: {error}") from error

    @property
    def connected(self) -> bool:
        """Whether the box's connection is up (gmqtt reconnects it when it drops)."""
        return self.online and self.client.is_connected

    def _publish(self, kind: str, topic: str, payload: bytes, qos: int, **props: Any) -> None:
        if not self.connected:
            self.stats.skipped += 1
            return
        self.client.publish(topic, payload, qos=qos, **props)
        self.stats.sent[kind] += 1

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def telemetry(self) -> None:
        """One reading of each sensor (QoS 0, as the edge sends telemetry)."""
        co2, temp = self.air.co2_and_temp()
        pm1, pm25, pm10 = self.air.pm()
        school, edge, ts = self.plan.school, self.plan.edge, _now()
        readings: tuple[tuple[str, dict[str, float]], ...] = (
            (CO2_SENSOR, {"co2_ppm": round(co2), "temp_c": round(temp, 1)}),
            (PM_SENSOR, {"pm1_ugm3": round(pm1), "pm25_ugm3": round(pm25),
                         "pm10_ugm3": round(pm10)}),
        )
        for device, values in readings:
            message = Telemetry(id=device, ts=ts, seq=self._next_seq(), values=values)
            self._publish("telemetry", topics.telemetry(school, edge, device), message.to_json(), 0)

    def heartbeat(self) -> None:
        """The box's health: a Pi that is well."""
        ts = _now()
        beat = Heartbeat(
            ts=ts, uptime_s=round(time.monotonic() - self.started, 1),
            cpu_pct=round(self.rng.uniform(4, 25), 1), mem_pct=round(self.rng.uniform(30, 45), 1),
            disk_pct=round(self.rng.uniform(20, 40), 1), temp_c=round(self.rng.uniform(45, 60), 1),
            outbox=0, devices={d.id: DeviceHealth(ok=True, errors=0, last_ts=ts)
                               for d in self.plan.devices})
        self._publish("heartbeat", topics.heartbeat(self.plan.school, self.plan.edge),
                      beat.to_json(), 0)

    def request(self, card: str, amount: int | None = None) -> None:
        """A tap at the door reader, or (with ``amount``) a payment at the till."""
        request_id = uuid.uuid4()
        device = self.plan.reader
        message: Tap | Pay = (
            Tap(id=request_id, ts=_now(), device=device, card=card) if amount is None
            else Pay(id=request_id, ts=_now(), device=device, card=card, amount=amount))
        self._publish("tap" if amount is None else "pay",
                      topics.req(self.plan.school, self.plan.edge), message.to_json(), 1,
                      response_topic=self.resp_topic, correlation_data=str(request_id).encode())

    async def goodbye(self) -> None:
        """Say offline (retained) and disconnect cleanly, so the broker sends no Will."""
        if self.connected:
            self.client.publish(self.status_topic, self._status(EdgeState.OFFLINE), qos=1,
                                retain=True)
            self.stats.sent["status"] += 1
        # The broker reads the offline status before the DISCONNECT behind it on the socket.
        await self.client.disconnect()


async def _pause(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; True when it is time to stop."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0.0))
    except TimeoutError:
        return False
    return True


class Fleet:
    """The simulated boxes of ``schools``; ``await run(stop)`` until ``stop`` is set."""

    def __init__(self, schools: list[SchoolPlan], options: FleetOptions,
                 on_progress: Callable[[str], None] | None = None) -> None:
        self.schools = schools
        self.options = options
        self.stats = FleetStats()
        self.on_progress = on_progress or (lambda text: log.info("%s", text))
        self.rng = random.Random(options.seed)
        start = options.start or datetime.now(CITY_TIMEZONE).time()
        self.air_clock = SimClock(speed=options.speed, start=start)
        self.edges: list[SimEdge] = []
        self.cards = {school.id: [s.card for s in school.students] for school in schools}

    def _make_edges(self) -> None:
        # Built inside the running loop: gmqtt clients bind to it.
        seed = self.options.seed * 100_003
        self.edges = [SimEdge(plan, self.options, self.air_clock, self.stats, seed + i)
                      for i, plan in enumerate(p for s in self.schools for p in s.edges)]

    async def run(self, stop: asyncio.Event) -> FleetStats:
        """Connect every box, run their traffic until ``stop``, then say goodbye."""
        self._make_edges()
        parts = urlsplit(self.options.mqtt_url)
        host, ssl = parts.hostname or "127.0.0.1", parts.scheme == "mqtts"
        port = parts.port or (8883 if ssl else 1883)
        try:
            await self._connect_all(host, port, ssl, stop)
            if stop.is_set():
                return self.stats
            self.on_progress(f"fleet: {len(self.edges)} edges of {len(self.schools)} schools "
                             f"connected to {self.options.mqtt_url}")
            async with asyncio.TaskGroup() as group:
                for edge in self.edges:
                    group.create_task(self._edge_loop(edge, stop), name=f"fleet-{edge.plan.edge}")
                group.create_task(self._requests(stop, pay=False), name="fleet-taps")
                group.create_task(self._requests(stop, pay=True), name="fleet-pays")
        finally:
            await asyncio.gather(*(edge.goodbye() for edge in self.edges),
                                 return_exceptions=True)
        return self.stats

    async def _connect_all(self, host: str, port: int, ssl: bool, stop: asyncio.Event) -> None:
        gap = 1.0 / self.options.connects_per_s
        pending: set[asyncio.Task[None]] = set()
        for edge in self.edges:
            if stop.is_set():
                break
            pending.add(asyncio.create_task(
                edge.connect(host, port, ssl, self.options.keepalive)))
            await asyncio.sleep(gap)
        # A refused or failed first connection is a setup error: it stops the fleet (after
        # every attempt has ended, so none is left running unwatched).
        for outcome in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

    async def _edge_loop(self, edge: SimEdge, stop: asyncio.Event) -> None:
        options = self.options
        # Spread the boxes over the interval, as real boxes started at different times are.
        if await _pause(stop, self.rng.uniform(0, options.telemetry_s)):
            return
        next_beat = time.monotonic() + self.rng.uniform(0, options.heartbeat_s)
        while True:
            edge.telemetry()
            if time.monotonic() >= next_beat:
                edge.heartbeat()
                next_beat += options.heartbeat_s
            if await _pause(stop, options.telemetry_s):
                return

    async def _requests(self, stop: asyncio.Event, *, pay: bool) -> None:
        rate = self.options.pays_per_s if pay else self.options.taps_per_s
        edges = [e for e in self.edges if e.plan.is_canteen == pay and self.cards[e.plan.school]]
        if rate <= 0 or not edges:
            await stop.wait()
            return
        while not await _pause(stop, self.rng.expovariate(rate)):
            edge = self.rng.choice(edges)
            card = self.rng.choice(self.cards[edge.plan.school])
            edge.request(card, self.rng.choice(PRICES) if pay else None)


def run_fleet(schools: list[SchoolPlan], options: FleetOptions, *,
              on_progress: Callable[[str], None] | None = None,
              report_every_s: float = 10.0) -> FleetStats:
    """Run the fleet until SIGINT or SIGTERM (Ctrl-C), printing progress; return its stats."""
    import signal

    progress = on_progress or (lambda text: log.info("%s", text))
    # gmqtt logs every connection's open and close at INFO: hundreds of lines that say nothing.
    if not log.isEnabledFor(logging.DEBUG):
        logging.getLogger("gmqtt").setLevel(logging.WARNING)

    async def main() -> FleetStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        fleet = Fleet(schools, options, on_progress=progress)
        runner = asyncio.create_task(fleet.run(stop))
        while True:
            done, _ = await asyncio.wait({runner}, timeout=report_every_s)
            if done:
                return runner.result()  # stopped, or failed (the error goes up from here)
            if not stop.is_set():
                progress(f"fleet: {fleet.stats.line()}")

    return asyncio.run(main())
