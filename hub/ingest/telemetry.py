"""The telemetry sink: batches readings into line protocol, writes them, then acknowledges."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from hub.ingest.batcher import BatchWorker, RetryableError
from hub.ingest.devicemap import DeviceMap, DeviceTag
from hub.ingest.lineproto import escape_measurement, escape_tag, line, timestamp_ns
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


class LineBuilder:
    """``telemetry_line`` with each series' text cached as a %-template (the hot path)."""

    def __init__(self, devices: DeviceMap) -> None:
        self.devices = devices
        #: (school, edge, device, field names) -> (the device's tag when built, template)
        self._templates: dict[tuple[str, ...], tuple[object, str]] = {}

    def _template(self, key: tuple[str, ...], tag: DeviceTag) -> str:
        school, edge, device, *names = key
        tags = {"school": school, "edge": edge, "device": device, "room": tag.room}
        head = escape_measurement(tag.kind) + "".join(
            f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(tags.items()) if v)
        # Literal % signs of names and tags are doubled: the text is a %-template.
        fields = ",".join(escape_tag(name).replace("%", "%%") + "=%r" for name in names)
        template = f"{head.replace('%', '%%')} {fields},seq=%di %d"
        if len(self._templates) > 200_000:
            self._templates.clear()  # a bound, not an expected case
        self._templates[key] = (tag, template)
        return template

    def line(self, topic: Topic, message: Telemetry) -> str:
        """The same text as ``telemetry_line``."""
        device = topic.device or message.id
        values = message.values
        for value in values.values():
            # Decoded readings are finite floats, for which %r is what field_value gives.
            if type(value) is not float or value - value != 0.0:
                return telemetry_line(topic, message, self.devices)
        key = (topic.school, topic.edge, device, *values)
        tag = self.devices.tag(topic.school, topic.edge, device)
        cached = self._templates.get(key)
        template = cached[1] if cached is not None and cached[0] is tag else \
            self._template(key, tag)
        return template % (*values.values(), message.seq, timestamp_ns(message.ts))


class TelemetrySink(BatchWorker[Telemetry]):
    """Writes telemetry batches to InfluxDB (or only to the live state when there is none)."""

    sink_name = "telemetry"

    def __init__(self, *, writer: TelemetryWriter | None, devices: DeviceMap, live: LiveState,
                 metrics: HubMetrics, ack: Callable[[Delivery], None],
                 batch_size: int, batch_wait: float,
                 ack_all: Callable[[list[Delivery]], None] | None = None) -> None:
        super().__init__(metrics=metrics, ack=ack, batch_size=batch_size, batch_wait=batch_wait,
                         ack_all=ack_all)
        self.writer = writer
        self.devices = devices
        self.live = live
        self._lines = LineBuilder(devices)

    def store(self, items: list[tuple[Topic, Any]]) -> None:
        """Write the batch as one request; refused points are counted and dropped."""
        if self.writer is None:
            return
        build = self._lines.line
        lines = [build(topic, message) for topic, message in items]
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
        # Counted first: the points are visible in the store already.
        self.metrics.points_written.inc(len(lines))
        self.metrics.write_latency.observe(time.perf_counter() - started)
        self.metrics.batch_size.observe(len(lines))

    def after_store(self, items: list[tuple[Topic, Any]]) -> None:
        """Show the stored readings on the live wall: one update per device and batch."""
        # Merged in order as LiveState would: a reading older than the newest one is ignored.
        newest: dict[tuple[str, str, str], list[Any]] = {}
        get = newest.get
        for topic, message in items:
            key = (topic.school, topic.edge, topic.device or message.id)
            seen = get(key)
            if seen is None:
                newest[key] = [message.ts, dict(message.values)]
            elif message.ts >= seen[0]:
                seen[0] = message.ts
                seen[1].update(message.values)
        for (school, edge, device), (ts, values) in newest.items():
            tag = self.devices.tag(school, edge, device)
            self.live.update_reading(school, edge, device, tag.kind, tag.room, ts, values)
