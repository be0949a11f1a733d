"""The ingest as one unit: MQTT link, router, telemetry sink and registry writer."""

from __future__ import annotations

import gc
import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from hub.db.registry import RegistryWriter, load_device_map
from hub.ingest.devicemap import DeviceMap
from hub.ingest.mqtt import MqttLink
from hub.ingest.router import Router
from hub.ingest.telemetry import TelemetrySink
from hub.live import LiveState
from hub.metrics import HubMetrics
from hub.services.commands import CommandService
from hub.services.handlers import request_handlers
from hub.services.requests import Handler, RequestSink
from hub.settings import HubSettings
from hub.storage.influx import TelemetryWriter, make_writer
from protocol import Code
from protocol.topics import Topic

log = logging.getLogger(__name__)

#: Days of the live counts are Ho Chi Minh City's.
CITY_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")


class Ingest:
    """Builds and runs the ingest; ``start()`` then ``stop()``, or use it as a context manager."""

    def __init__(self, settings: HubSettings, *, engine: Engine, live: LiveState | None = None,
                 metrics: HubMetrics | None = None,
                 writer: TelemetryWriter | None = None,
                 handlers: dict[str, Handler] | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.live = live or LiveState()
        self.metrics = metrics or HubMetrics()
        self.devices = DeviceMap()
        self.writer = writer if writer is not None else make_writer(settings)
        self.link = MqttLink(settings, self.metrics, self._route)
        self.telemetry = TelemetrySink(
            writer=self.writer, devices=self.devices, live=self.live, metrics=self.metrics,
            ack=self.link.ack, ack_all=self.link.ack_all, batch_size=settings.batch_size,
            batch_wait=settings.batch_wait_ms / 1000, concurrency=settings.write_concurrency,
        )
        self.registry = RegistryWriter(engine=engine, metrics=self.metrics, ack=self.link.ack)
        self.requests = RequestSink(
            engine=engine,
            handlers=handlers if handlers is not None else request_handlers(settings),
            metrics=self.metrics,
            ack=self.link.ack, publish=self.link.publish, on_decided=self._count_decision,
        )
        self.commands = CommandService(engine=engine, metrics=self.metrics,
                                       publish=self.link.publish, ack=self.link.ack,
                                       link_up=lambda: self.link.connected)
        self.router = Router(
            metrics=self.metrics, live=self.live, devices=self.devices,
            telemetry=self.telemetry, registry=self.registry, requests=self.requests,
            ack=self.link.ack,
            publish=self.link.publish, dedupe_status=self.link.shared,
            commands=self.commands.acks,
        )
        # One call less per message than going through ``_route``.
        self.link.set_handler(self.router.on_message, self.router.flush_counts)

    def _count_decision(self, topic: Topic, request: Any, code: str) -> None:
        """Feed the live wall's counts of taps and payments (no database scans)."""
        day = request.ts.astimezone(CITY_TIMEZONE).date().isoformat()
        if request.type == "tap":
            arrival = code in (Code.ATTENDANCE_PRESENT, Code.ATTENDANCE_LATE)
            self.live.record_decision(topic.school, day, "tap", arrival=arrival)
        elif request.type == "pay" and code == Code.APPROVED:
            self.live.record_decision(topic.school, day, "pay", amount=request.amount)

    def _route(self, *args: object) -> None:
        # Only until the router exists (see __init__); then the link calls it directly.
        self.router.on_message(*args)  # type: ignore[arg-type]

    def start(self) -> None:
        """Load the device map, start the sink threads, then connect."""
        # Ingest allocates millions of short-lived objects; with the default thresholds the
        # collector spends seconds per million messages walking long-lived ones (see
        # benchmarks/ingest.py). Freeze what start-up made, and collect less often, but not
        # so seldom that one young collection holds a door's answer: 100,000 gave pauses of
        # 40-90 ms (tap p99 11-75 ms in benchmarks/card.py), 10,000 a p99 of 8-9 ms for 2-3 %
        # of ingest throughput.
        gc.freeze()
        gc.set_threshold(10_000, 50, 100)
        known = load_device_map(self.engine, self.devices)
        if self.writer is None:
            log.warning("no telemetry store configured (SS_INFLUX_URL): telemetry is shown "
                        "live and acknowledged but not stored")
        log.info("ingest starting: %d known devices, telemetry store %s", known,
                 self.settings.influx_url or "none")
        self.telemetry.start()
        self.registry.start()
        self.requests.start()
        self.commands.start()
        self.link.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking messages, store and acknowledge what is queued, then disconnect."""
        self.link.pause()
        self.telemetry.stop(timeout)
        self.registry.stop(timeout)
        self.requests.stop(timeout)
        self.commands.stop(timeout)
        self.link.stop()
        if self.writer is not None:
            self.writer.close()

    def __enter__(self) -> Ingest:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
