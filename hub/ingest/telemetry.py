"""The telemetry sink: batches readings into line protocol, writes them, then acknowledges."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from hub.ingest.batcher import BatchWorker, RetryableError
from hub.ingest.devicemap import DeviceMap
from hub.ingest.lineproto import line
from hub.ingest.mqtt import Delivery
from hub.live import LiveState
from hub.metrics import HubMetrics
from hub.storage.influx import RejectedWriteError, RetryableWriteError, TelemetryWriter
from protocol import Telemetry
from protocol.topics import Topic

log = logging.getLogger(__name__)


def telemetry_line(topic: Topic, message: Telemetry, devices: DeviceMap) -> str:
    """The point of one telemetry message: measurement = the device's kind."""
    device = topic.device or message.id
    tag = devices.tag(topic.school, topic.edge, device)
    tags = {"school": topic.school, "edge": topic.edge, "device": device, "room": tag.room}
    return line(tag.kind, tags, message.values, message.seq, message.ts)


class TelemetrySink(BatchWorker[Telemetry]):
    """Writes telemetry batches to InfluxDB (or only to the live state when there is none)."""

    sink_name = "telemetry"

    def __init__(self, *, writer: TelemetryWriter | None, devices: DeviceMap, live: LiveState,
                 metrics: HubMetrics, ack: Callable[[Delivery], None],
                 batch_size: int, batch_wait: float) -> None:
        super().__init__(metrics=metrics, ack=ack, batch_size=batch_size, batch_wait=batch_wait)
        self.writer = writer
        self.devices = devices
        self.live = live

    def store(self, items: list[tuple[Topic, Any]]) -> None:
        """Write the batch as one request; refused points are counted and dropped."""
        if self.writer is None:
            return
        lines = [telemetry_line(topic, message, self.devices) for topic, message in items]
        started = time.perf_counter()
        try:
            self.writer.write(lines)
        except RetryableWriteError as error:
            self.metrics.write_failures.inc()
            raise RetryableError(str(error)) from error
        except RejectedWriteError as error:
            # No retry can make these points acceptable; keeping them would wedge the queue.
            self.metrics.points_rejected.inc(len(lines))
            log.error("telemetry batch of %d points refused: %s", len(lines), error)
            return
        self.metrics.write_latency.observe(time.perf_counter() - started)
        self.metrics.batch_size.observe(len(lines))
        self.metrics.points_written.inc(len(lines))

    def after_store(self, items: list[tuple[Topic, Any]]) -> None:
        """Show the stored readings on the live wall."""
        for topic, message in items:
            device = topic.device or message.id
            tag = self.devices.tag(topic.school, topic.edge, device)
            self.live.update_reading(topic.school, topic.edge, device, tag.kind, tag.room,
                                     message.ts, dict(message.values))
