"""The telemetry sink: batches readings into line protocol, writes them, then acknowledges."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from hub.ingest.batcher import BatchWorker, RetryableError
from hub.ingest.devicemap import DeviceMap, DeviceTag
from hub.ingest.lineproto import escape_measurement, escape_tag, line, timestamp_ns
from hub.ingest.mqtt import Delivery
from hub.live import LiveState
from hub.metrics import HubMetrics
from hub.storage.influx import RejectedWriteError, RetryableWriteError, TelemetryWriter
from protocol import Telemetry
from protocol.fast import FastTelemetry
from protocol.topics import Topic

log = logging.getLogger(__name__)


def telemetry_line(topic: Topic, message: Telemetry | FastTelemetry, devices: DeviceMap) -> str:
    """The point of one telemetry message: measurement = the device's kind."""
    device = topic.device or message.id
    tag = devices.tag(topic.school, topic.edge, device)
    tags = {"school": topic.school, "edge": topic.edge, "device": device, "room": tag.room}
    return line(tag.kind, tags, message.values, message.seq, message.ts)


#: Entries of a line cache before it starts over (a bound, not an expected case).
LINE_CACHE = 200_000


def _readings(names: tuple[str, ...]) -> Callable[[dict[str, float]], tuple[float, ...]]:
    """The values of ``names`` in that order, as a tuple; KeyError if one is missing."""
    if len(names) == 1:
        (name,) = names
        return lambda values: (values[name],)
    return itemgetter(*names)  # type: ignore[return-value]


class LineBuilder:
    """``telemetry_line`` with each series' text cached as a %-template (the hot path).

    The router hands over one Topic object per topic name, so the template of a device's usual
    message is found by that object's identity; it stands while the device map is unchanged
    and the message has the same field names (the fields are written in the template's order).
    """

    def __init__(self, devices: DeviceMap) -> None:
        self.devices = devices
        #: (school, edge, device, field names) -> (the device's tag when built, template)
        self._templates: dict[tuple[str, ...], tuple[object, str]] = {}
        #: id(topic) -> (topic, device map version, field count, readings getter, template)
        self._by_topic: dict[int, tuple[Topic, int, int, Any, str]] = {}

    def _template(self, key: tuple[str, ...], tag: DeviceTag) -> str:
        school, edge, device, *names = key
        tags = {"school": school, "edge": edge, "device": device, "room": tag.room}
        head = escape_measurement(tag.kind) + "".join(
            f",{escape_tag(k)}={escape_tag(v)}" for k, v in sorted(tags.items()) if v)
        # Literal % signs of names and tags are doubled: the text is a %-template.
        fields = ",".join(escape_tag(name).replace("%", "%%") + "=%r" for name in names)
        template = f"{head.replace('%', '%%')} {fields},seq=%di %d"
        if len(self._templates) > LINE_CACHE:
            self._templates.clear()
        self._templates[key] = (tag, template)
        return template

    def line(self, topic: Topic, message: Telemetry | FastTelemetry) -> str:
        """The same point as ``telemetry_line``."""
        values = message.values
        known = self._by_topic.get(id(topic))
        # The fast decoder vouches that its readings are finite floats (%r is then exact).
        if (known is not None and known[0] is topic and known[1] == self.devices.version
                and len(values) == known[2] and type(message) is FastTelemetry):
            try:
                readings = known[3](values)
            except KeyError:
                pass  # other field names: a template of its own
            else:
                return known[4] % (*readings, message.seq, timestamp_ns(message.ts))
        return self._line(topic, message)

    def _line(self, topic: Topic, message: Telemetry | FastTelemetry) -> str:
        device = topic.device or message.id
        values = message.values
        for value in values.values():
            # Decoded readings are finite floats, for which %r is what field_value gives.
            if type(value) is not float or value - value != 0.0:
                return telemetry_line(topic, message, self.devices)
        version = self.devices.version
        names = tuple(values)
        key = (topic.school, topic.edge, device, *names)
        tag = self.devices.tag(topic.school, topic.edge, device)
        cached = self._templates.get(key)
        template = cached[1] if cached is not None and cached[0] is tag else \
            self._template(key, tag)
        if topic.device is not None and type(message) is FastTelemetry:
            if len(self._by_topic) > LINE_CACHE:
                self._by_topic.clear()
            self._by_topic[id(topic)] = (topic, version, len(names), _readings(names), template)
        return template % (*values.values(), message.seq, timestamp_ns(message.ts))


class TelemetrySink(BatchWorker[Telemetry]):
    """Writes telemetry batches to InfluxDB (or only to the live state when there is none)."""

    sink_name = "telemetry"

    def __init__(self, *, writer: TelemetryWriter | None, devices: DeviceMap, live: LiveState,
                 metrics: HubMetrics, ack: Callable[[Delivery], None],
                 batch_size: int, batch_wait: float,
                 ack_all: Callable[[list[Delivery]], None] | None = None,
                 concurrency: int = 1) -> None:
        super().__init__(metrics=metrics, ack=ack, batch_size=batch_size, batch_wait=batch_wait,
                         ack_all=ack_all, concurrency=concurrency)
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
        # The router gives one Topic object per topic name, so its id is a cheap key (a tuple
        # of names per message cost more than the rest); a topic naming no device is keyed by
        # the device the message names.
        newest: dict[object, list[Any]] = {}
        get = newest.get
        for topic, message in items:
            key = id(topic) if topic.device else (topic, message.id)
            seen = get(key)
            if seen is None:
                newest[key] = [topic.school, topic.edge, topic.device or message.id,
                               message.ts, dict(message.values)]
            elif message.ts >= seen[3]:
                seen[3] = message.ts
                seen[4].update(message.values)
        for school, edge, device, ts, values in newest.values():
            tag = self.devices.tag(school, edge, device)
            self.live.update_reading(school, edge, device, tag.kind, tag.room, ts, values)
