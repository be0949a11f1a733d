"""What the network thread does with each message: parse, decode, route. Nothing slow."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from hub.ingest.devicemap import DeviceMap
from hub.ingest.mqtt import SUB_STATUS, Delivery
from hub.live import LiveState
from hub.metrics import HubMetrics
from protocol import Code, Heartbeat, ProtocolError, Response, Status, topics
from protocol.decode import MAX_PAYLOAD, decode, salvage_id
from protocol.fast import decode_telemetry
from protocol.topics import Topic, TopicKind

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A decoded request with the MQTT details needed to answer it."""

    request: Any
    correlation: bytes | None


class Sink(Protocol):
    """A consumer thread's queue: it stores the item, then acknowledges its delivery."""

    def put(self, topic: Topic, message: Any, delivery: Delivery) -> None:
        """Queue one decoded message."""


class RateLimitedLog:
    """Log a warning at most once per ``every`` seconds per key, with how many were skipped."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._last: dict[str, tuple[float, int]] = {}

    def warning(self, key: str, text: str, *args: object) -> None:
        """Log ``text % args`` unless this key was logged less than ``every`` seconds ago."""
        now = time.monotonic()
        last, skipped = self._last.get(key, (float("-inf"), 0))
        if now - last < self.every:
            self._last[key] = (last, skipped + 1)
            return
        self._last[key] = (now, 0)
        suffix = f" (+{skipped} similar not logged)" if skipped else ""
        log.warning(text + suffix, *args)


#: Entries of the parsed-topic cache before it starts over (a bound on memory, ~100 B each).
TOPIC_CACHE = 200_000

_IGNORED = frozenset({TopicKind.RESP, TopicKind.CMD})


class Router:
    """Routes decoded messages to the sinks and answers undecodable requests."""

    def __init__(
        self,
        *,
        metrics: HubMetrics,
        live: LiveState,
        devices: DeviceMap,
        telemetry: Sink,
        registry: Sink,
        requests: Sink,
        ack: Callable[[Delivery], None],
        publish: Callable[[str, bytes, int, bytes | None], None],
        dedupe_status: bool = True,
        commands: Sink | None = None,
    ) -> None:
        self.metrics = metrics
        self.live = live
        self.devices = devices
        self.telemetry = telemetry
        self.registry = registry
        self.requests = requests
        self.ack = ack
        self.publish = publish
        self.dedupe_status = dedupe_status
        self.commands = commands
        self.bad_log = RateLimitedLog()
        self._in = {kind: metrics.messages_in.labels(kind.value) for kind in TopicKind}
        #: Parsed topics by name: each device sends on the same few topics again and again.
        self._topics: dict[str, Topic] = {}
        #: Telemetry topics seen before: the hot path skips the rest.
        self._telemetry: dict[str, Topic] = {}
        self._telemetry_put = telemetry.put
        #: Telemetry received since the last ``flush_counts`` (a Counter per message cost 5 %).
        self._telemetry_in = 0
        self._telemetry_counter = self._in[TopicKind.TELEMETRY]

    def on_message(self, topic_name: str, payload: bytes, properties: dict[str, Any],
                   delivery: Delivery) -> None:
        """Handle one message from the network thread."""
        seen = self._telemetry.get(topic_name)
        if seen is not None:
            self._telemetry_in += 1
            try:
                message = decode_telemetry(payload)
            except ProtocolError as error:
                self._bad_payload(seen, payload, properties, delivery, error)
                return
            except Exception as error:  # noqa: BLE001 - one odd payload must not stop the link
                self._bad("telemetry", "unexpected", delivery, "cannot decode telemetry: %r",
                          error)
                return
            self._telemetry_put(seen, message, delivery)
            return
        if self.dedupe_status and _redundant_status_copy(topic_name, properties):
            # Every worker takes statuses on its own subscription (each needs the device map);
            # the copy the shared subscription also delivers is redundant.
            self.ack(delivery)
            return
        topic = self._topics.get(topic_name)
        if topic is None:
            try:
                topic = topics.parse(topic_name)
            except (ProtocolError, UnicodeDecodeError) as error:
                self._bad("unknown", "topic", delivery, "bad topic: %s", error)
                return
            if len(self._topics) >= TOPIC_CACHE:
                self._topics.clear()
            self._topics[topic_name] = topic
        kind = topic.kind
        if kind is TopicKind.TELEMETRY:
            if len(self._telemetry) >= TOPIC_CACHE:
                self._telemetry.clear()
            self._telemetry[topic_name] = topic
            self.on_message(topic_name, payload, properties, delivery)
            return
        self._in[kind].inc()
        if kind in _IGNORED:
            self.ack(delivery)  # our own outbound traffic, seen through the wildcard
            return
        try:
            message = decode(kind, payload)
        except ProtocolError as error:
            self._bad_payload(topic, payload, properties, delivery, error)
            return
        except Exception as error:  # noqa: BLE001 - one odd payload must not stop the link
            self._bad(kind.value, "unexpected", delivery, "cannot decode %s: %r", kind.value, error)
            return
        if kind is TopicKind.TELEMETRY:
            self.telemetry.put(topic, message, delivery)
        elif kind is TopicKind.STATUS:
            self._status(topic, message, delivery)
        elif kind is TopicKind.HEARTBEAT:
            self._heartbeat(topic, message, delivery)
        elif kind is TopicKind.EVENT:
            self.metrics.events.inc()
            self.ack(delivery)
        elif kind is TopicKind.REQ:
            correlation = properties.get("correlation_data")
            self.requests.put(topic, Incoming(message, correlation[0] if correlation else None),
                              delivery)
        elif self.commands is not None:
            self.commands.put(topic, message, delivery)  # acknowledged once recorded
        else:
            self.ack(delivery)  # a hub without the command service: nothing to record

    def flush_counts(self) -> None:
        """Add the telemetry counted since the last call to the metrics (network thread)."""
        if self._telemetry_in:
            self._telemetry_counter.inc(self._telemetry_in)
            self._telemetry_in = 0

    def _bad_payload(self, topic: Topic, payload: bytes, properties: dict[str, Any],
                     delivery: Delivery, error: ProtocolError) -> None:
        kind = topic.kind
        reason = "too_large" if len(payload) > MAX_PAYLOAD else "payload"
        self._bad(kind.value, reason, delivery, "bad %s from %s/%s: %s",
                  kind.value, topic.school, topic.edge, error)
        if kind is TopicKind.REQ:
            self._answer_bad_request(topic, payload, properties)

    def _bad(self, kind: str, reason: str, delivery: Delivery, text: str, *args: object) -> None:
        self.metrics.bad_messages.labels(kind, reason).inc()
        self.bad_log.warning(f"{kind}:{reason}", text, *args)
        # It can never become good: acknowledge so the broker does not redeliver poison.
        self.ack(delivery)

    def _status(self, topic: Topic, status: Status, delivery: Delivery) -> None:
        for info in status.devices:
            self.devices.set_device(topic.school, topic.edge, info.id, info.kind, info.room or "")
        since = self.devices.accept_status(topic.school, topic.edge, status, datetime.now(UTC))
        if since is not None:
            self.live.update_edge(topic.school, topic.edge, state=status.state.value, ts=since,
                                  status=status)
        self.registry.put(topic, status, delivery)

    def _heartbeat(self, topic: Topic, heartbeat: Heartbeat, delivery: Delivery) -> None:
        self.live.update_edge(topic.school, topic.edge, ts=heartbeat.ts, heartbeat=heartbeat)
        self.registry.put(topic, heartbeat, delivery)

    def _answer_bad_request(self, topic: Topic, payload: bytes, props: dict[str, Any]) -> None:
        request_id = salvage_id(payload)
        if request_id is None:
            return
        answer = Response.for_code(request_id, Code.ERROR_BAD_REQUEST).to_json()
        # Always the edge's own resp topic (the ACL lets it read nothing else), whatever
        # response topic the request named; the correlation data is echoed for MQTT 5 edges.
        correlation = props.get("correlation_data")
        self.publish(topics.resp(topic.school, topic.edge), answer, 1,
                     correlation[0] if correlation else None)
        self.metrics.bad_requests_answered.inc()


def _redundant_status_copy(topic: str, properties: dict[str, Any]) -> bool:
    """A message on a status topic that came through the shared subscription alone."""
    if not topic.endswith("/status") or topic.count("/") != 4:
        return False
    ids = properties.get("subscription_identifier")
    return isinstance(ids, list) and bool(ids) and SUB_STATUS not in ids
