"""The hub's MQTT link: gmqtt (asyncio, own thread), MQTT 5, persistent session, late acks.

gmqtt keeps the connection (connect, reconnect, subscribe, keepalive, our own publishes). The
inbound PUBLISH, the hot path, is parsed here instead of by gmqtt's handler: gmqtt's late-ack
mode creates an asyncio task per message and writes one PUBACK per send, which held the hub to a
fraction of the broker's rate (see benchmarks/ingest.py). Here a message is routed at once and
its PUBACK is written later, for a whole batch in one write, after the sink stored it.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from gmqtt import Client, Subscription
from gmqtt.mqtt.constants import UNLIMITED_RECONNECTS, MQTTv50, MQTTv311
from gmqtt.mqtt.package import Package

from hub.metrics import HubMetrics
from hub.settings import HubSettings
from protocol import topics

log = logging.getLogger(__name__)

#: Subscription identifiers (MQTT 5) tell which of our subscriptions delivered a message: the
#: main one (shared, or plain for a single worker) and the direct one to statuses.
SUB_MAIN, SUB_STATUS = 1, 2

#: How long the broker keeps our session (and queues our messages) while the hub is down.
SESSION_EXPIRY_S = 7 * 24 * 3600

CONNECT_TIMEOUT_S = 10.0


#: What is needed to acknowledge one received message later (from any thread): its packet id
#: and the connection it came on (``generation << 16 | packet id``). An int, not an object: one
#: is made per message on the hot path.
Delivery = int

#: A QoS 0 message: nothing to acknowledge (packet ids and generations start at 1).
NO_ACK: Delivery = 0

#: ``(topic, payload, properties, delivery)``; properties as gmqtt gives them (lists of values).
MessageHandler = Callable[[str, bytes, dict[str, Any], Delivery], None]

#: The properties block Mosquitto puts on messages of our main subscription (id 1), and what
#: gmqtt's parser makes of it; any other block goes through gmqtt's parser.
_MAIN_ONLY = bytes((2, 0x0B, SUB_MAIN))
#: Shared by every message of the main subscription; handlers only read properties.
_MAIN_PROPERTIES: dict[str, Any] = {"subscription_identifier": [SUB_MAIN]}
#: A bare PUBACK (remaining length 2) is "success" in MQTT 5, and the only form in 3.1.1; as a
#: big-endian 32-bit word it is this with the packet id in the low 16 bits.
_PUBACK_WORD = 0x40020000


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """An MQTT variable byte integer at ``pos``: (value, position after it)."""
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise ValueError("malformed variable byte integer")


def _nothing() -> None:
    pass


def _seen(connection: Any, parsed: int) -> int:
    """Note incoming data for gmqtt's keepalive; return how much of the buffer was parsed."""
    if parsed:
        connection._last_data_in = time.monotonic()
    return parsed


class MqttLink:
    """One gmqtt client with its event loop in its own thread; sinks call ``ack`` when done."""

    def __init__(self, settings: HubSettings, metrics: HubMetrics,
                 on_message: MessageHandler) -> None:
        self.settings = settings
        self.metrics = metrics
        self._on_message = on_message
        self._on_burst_end: Callable[[], None] = _nothing
        self.v5 = settings.mqtt_protocol == "5"
        #: Shared subscriptions need MQTT 5 (and a broker that keeps them across restarts).
        self.shared = settings.mqtt_shared and self.v5
        #: Bumped on every connect and disconnect: a packet id is only meaningful in its
        #: connection, so an ack for an older one is skipped and the broker redelivers.
        self._generation = 0
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._closing = False
        self._pending_subacks = 0
        self._subscriptions: list[tuple[Subscription, int]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread_id: int | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._loop_ready = threading.Event()
        self.client = self._build_client()

    def _build_client(self) -> Client:
        s = self.settings
        client = Client(
            s.mqtt_client_id,
            clean_session=False,
            optimistic_acknowledgement=False,
            session_expiry_interval=SESSION_EXPIRY_S,
            # Without this Mosquitto allows 20 unacknowledged messages; late acks would throttle.
            receive_maximum=s.receive_maximum,
        )
        if s.mqtt_username:
            client.set_auth_credentials(s.mqtt_username, s.mqtt_password)
        client.set_config({"reconnect_retries": UNLIMITED_RECONNECTS, "reconnect_delay": 1})
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
        handler = client._package_handler
        self._gmqtt_publish_handler = handler._handle_publish_packet
        self._parse_properties = handler._parse_properties
        # gmqtt looks packet handlers up by name on the handler object: ours wins.
        handler._handle_publish_packet = self._handle_publish_packet
        return client

    def set_handler(self, on_message: MessageHandler,
                    on_burst_end: Callable[[], None] | None = None) -> None:
        """Route messages to ``on_message`` from now on (before ``start``).

        ``on_burst_end`` is called after the messages of each chunk read off the connection
        (tens to hundreds at full speed): the place for work done once per burst, not per
        message.
        """
        self._on_message = on_message
        self._on_burst_end = on_burst_end or _nothing

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the network thread; it connects (and reconnects) in the background."""
        self._thread = threading.Thread(target=self._run, name="hub-mqtt", daemon=True)
        self._thread.start()
        self._loop_ready.wait(10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(self._loop_error)
        self._loop, self._loop_thread_id = loop, threading.get_ident()
        self._stop = asyncio.Event()
        self._loop_ready.set()
        try:
            loop.run_until_complete(self._main())
        finally:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _main(self) -> None:
        assert self._stop is not None
        delay = 1.0
        # gmqtt reconnects by itself once connected; the first connection is ours to retry.
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(
                    self.client.connect(self.settings.mqtt_host, self.settings.mqtt_port,
                                        ssl=self.settings.mqtt_tls, keepalive=30,
                                        version=MQTTv50 if self.v5 else MQTTv311),
                    CONNECT_TIMEOUT_S)
                break
            except Exception as error:  # noqa: BLE001 - refused, unreachable, timed out: retry
                log.warning("MQTT broker %s not reachable (%s); retrying in %.0f s",
                            self.settings.mqtt_url, error or type(error).__name__, delay)
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                except TimeoutError:
                    pass
                delay = min(delay * 2, 10.0)
        await self._stop.wait()
        try:
            await asyncio.wait_for(
                self.client.disconnect(session_expiry_interval=SESSION_EXPIRY_S), 5)
        except Exception as error:  # noqa: BLE001 - the session stays on the broker anyway
            log.debug("MQTT disconnect: %r", error)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), asyncio.CancelledError):
            return
        loop.default_exception_handler(context)

    def pause(self) -> None:
        """Stop taking new messages (they stay unacknowledged and come back next session)."""
        self._closing = True

    def stop(self) -> None:
        """Disconnect (keeping the session on the broker) and stop the network thread."""
        self._closing = True
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:
                pass  # the loop ended already
        if self._thread is not None:
            self._thread.join(10)
        self._connected.clear()
        self._subscribed.clear()
        self.metrics.mqtt_connected.set(0)

    @property
    def connected(self) -> bool:
        """Whether the link is up and subscribed."""
        return self._connected.is_set() and self._subscribed.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Block until connected and subscribed, or ``timeout``; return whether it is."""
        return self._connected.wait(timeout) and self._subscribed.wait(timeout)

    # -- callbacks (network thread) ------------------------------------------------------------

    def _handle_connect(self, client: Client, session_present: int, result: int,
                        properties: dict[str, Any]) -> None:
        self._generation += 1
        log.info("MQTT connected to %s as %s (session present: %s)",
                 self.settings.mqtt_url, self.settings.mqtt_client_id, bool(session_present))
        self._subscribed.clear()
        self._install_reader()
        if not self._subscriptions:
            wanted = ([(topics.HUB_SHARED_SUBSCRIPTION, SUB_MAIN),
                       (topics.HUB_STATUS_SUBSCRIPTION, SUB_STATUS)] if self.shared
                      else [(topics.HUB_PLAIN_SUBSCRIPTION, SUB_MAIN)])
            self._subscriptions = [(Subscription(t, qos=1), sub_id) for t, sub_id in wanted]
        self._pending_subacks = len(self._subscriptions)
        for sub, sub_id in self._subscriptions:
            # Resubscribing on every connect also covers a broker that lost the subscription.
            client.resubscribe(sub, **({"subscription_identifier": sub_id} if self.v5 else {}))
        self._connected.set()
        self.metrics.mqtt_connected.set(1)

    def _install_reader(self) -> None:
        """Have this connection's read loop hand PUBLISH packets straight to us.

        gmqtt wraps every packet in a Package and passes it through three calls (a debug log
        and two clock reads among them) before our handler; at tens of thousands of messages a
        second that was a third of the network thread. Other packets still go its way.
        """
        connection = self.client._connection
        protocol = getattr(connection, "_protocol", None)
        if protocol is None or not callable(getattr(protocol, "_read_packet", None)):
            # Not the gmqtt we know: its read loop hands us each PUBLISH, a burst of one.
            def publish_alone(cmd: int, raw: bytes) -> None:
                self._handle_publish_packet(cmd, raw)
                self._on_burst_end()

            self.client._package_handler._handle_publish_packet = publish_alone
            return
        gmqtt_read = protocol._read_packet
        handler = self.client._package_handler
        put_package = connection.put_package
        on_publish = self._handle_publish_packet
        on_message, on_burst_end = self._on_message, self._on_burst_end
        # The usual message inline: QoS 0 or 1 (DUP and RETAIN flags change nothing here: a
        # redelivered backlog is as hot), MQTT 5, from the main subscription (its properties
        # block is _MAIN_ONLY). Anything else takes on_publish. By first byte: the packet id's
        # length.
        usual: dict[int, int] = {0x30 | flags: 2 if flags & 0x02 else 0
                                 for flags in range(16) if not flags & 0x04} if self.v5 else {}

        def read_packets(data: bytes) -> int:
            if getattr(handler, "current_connection", connection) is not connection:
                return int(gmqtt_read(data))  # superseded: gmqtt drops what it still reads
            try:
                return read_burst(data)
            finally:
                on_burst_end()

        def read_burst(data: bytes) -> int:
            pos, size = 0, len(data)
            while size - pos >= 2:
                length, shift, start = 0, 0, pos + 1
                while True:
                    if start >= size:
                        return _seen(connection, pos)  # the header is not complete yet
                    byte = data[start]
                    start += 1
                    length |= (byte & 0x7F) << shift
                    if not byte & 0x80:
                        break
                    shift += 7
                    if shift > 21:
                        return -1  # malformed: gmqtt's loop drops the connection
                end = start + length
                if end > size:
                    break
                cmd = data[pos]
                id_size = usual.get(cmd)
                if id_size is not None and end - start >= 5 and not self._closing:
                    topic_end = start + 2 + ((data[start] << 8) | data[start + 1])
                    payload_at = topic_end + id_size + 3
                    if data[payload_at - 3:payload_at] == _MAIN_ONLY and payload_at <= end:
                        try:
                            topic = data[start + 2:topic_end].decode()
                        except UnicodeDecodeError:
                            topic = None
                        if topic is not None:
                            on_message(topic, data[payload_at:end], _MAIN_PROPERTIES,
                                       self._generation << 16 | data[topic_end] << 8
                                       | data[topic_end + 1] if id_size else NO_ACK)
                            pos = end
                            continue
                    on_publish(cmd, data[start:end])
                elif cmd & 0xF0 == 0x30:
                    on_publish(cmd, data[start:end])
                else:
                    put_package(Package(cmd, data[start:end]))
                pos = end
            return _seen(connection, pos)

        protocol._read_packet = read_packets

    def _handle_subscribe(self, client: Client, mid: int, granted: tuple[int, ...],
                          properties: dict[str, Any]) -> None:
        failed = [hex(code) for code in granted if code >= 0x80]
        if failed:
            log.error("MQTT subscription refused: %s", ", ".join(failed))
            return
        self._pending_subacks -= 1
        if self._pending_subacks <= 0 and not self._subscribed.is_set():
            self._subscribed.set()
            log.info("MQTT subscribed to %s",
                     ", ".join(sub.topic for sub, _ in self._subscriptions))

    def _handle_disconnect(self, client: Client, packet: object, exc: object = None) -> None:
        self._generation += 1
        self._connected.clear()
        self._subscribed.clear()
        self.metrics.mqtt_connected.set(0)
        if not self._closing:
            log.warning("MQTT link lost; reconnecting")

    def _handle_publish_packet(self, cmd: int, raw: bytes) -> None:
        qos = (cmd >> 1) & 3
        if qos == 2:  # never granted (we subscribe at QoS 1); gmqtt's own path, to be safe
            self._gmqtt_publish_handler(cmd, raw)
            return
        if self._closing:
            return  # left unacknowledged: the broker keeps it for the next session
        try:
            end = 2 + ((raw[0] << 8) | raw[1])
            topic = raw[2:end].decode()
            if qos:
                mid = (raw[end] << 8) | raw[end + 1]
                end += 2
            if not self.v5:
                self._deliver(topic, raw[end:], {}, qos, mid if qos else 0)
                return
            size, start = _varint(raw, end)
            block = raw[end:start + size]
            if block == _MAIN_ONLY:
                properties = _MAIN_PROPERTIES
            else:
                properties, _ = self._parse_properties(block)
                if properties is None:
                    raise ValueError("malformed properties")
            payload = raw[start + size:]
        except (IndexError, ValueError) as error:
            log.warning("malformed PUBLISH packet skipped: %s", error)
            return
        self._deliver(topic, payload, properties, qos, mid if qos else 0)

    def _deliver(self, topic: str, payload: bytes, properties: dict[str, Any], qos: int,
                 mid: int) -> None:
        self._on_message(topic, payload, properties,
                         self._generation << 16 | mid if qos else NO_ACK)

    async def _handle_message(self, client: Client, topic: str, payload: bytes, qos: int,
                              properties: dict[str, Any]) -> int:
        # Only reached for QoS 2, which our subscriptions never grant.
        self._on_message(topic, payload, properties, NO_ACK)
        return 0

    def _send_acks(self, deliveries: Iterable[Delivery]) -> None:
        """Write the PUBACKs of this connection's deliveries in one go (network thread)."""
        generation = self._generation
        connection = self.client._connection
        if connection is None or connection.is_closing() or not self._connected.is_set():
            return
        acks = [_PUBACK_WORD | d & 0xFFFF for d in deliveries if d >> 16 == generation]
        if acks:
            connection.send_package(struct.pack(f">{len(acks)}I", *acks))

    # -- called from any thread ----------------------------------------------------------------

    def ack(self, delivery: Delivery) -> None:
        """Acknowledge a QoS 1 message whose effect is durable (a no-op for QoS 0)."""
        if delivery:
            self.ack_all((delivery,))

    def ack_all(self, deliveries: Iterable[Delivery]) -> None:
        """Acknowledge many messages with one wake-up of the network thread and one write."""
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread_id:
            self._send_acks(deliveries)
            return
        pending = [d for d in deliveries if d]
        if pending:
            try:
                loop.call_soon_threadsafe(self._send_acks, pending)
            except RuntimeError:
                pass  # the loop is closed: the broker redelivers next session

    def publish(self, topic: str, payload: bytes, qos: int = 1,
                correlation: bytes | None = None, expiry_s: int | None = None) -> None:
        """Publish one message of ours (from any thread); ``expiry_s``: MQTT 5 message expiry,
        after which the broker drops it if still undelivered (ignored on MQTT 3.1.1)."""
        props: dict[str, Any] = {} if correlation is None else {"correlation_data": correlation}
        if expiry_s is not None and self.v5:
            props["message_expiry_interval"] = expiry_s
        if self._loop is None:
            return
        if threading.get_ident() == self._loop_thread_id:
            self.client.publish(topic, payload, qos=qos, **props)
        else:
            self._loop.call_soon_threadsafe(
                lambda: self.client.publish(topic, payload, qos=qos, **props))
