"""The hub's MQTT link: paho-mqtt 2, MQTT 5, persistent session, acknowledgements sent late."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hub.metrics import HubMetrics
from hub.settings import HubSettings
from protocol import topics

log = logging.getLogger(__name__)

#: Subscription identifiers (MQTT 5) tell which of our two subscriptions delivered a message.
SUB_SHARED, SUB_STATUS = 1, 2

#: How long the broker keeps our session (and queues our messages) while the hub is down.
SESSION_EXPIRY_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Delivery:
    """What is needed to acknowledge one received message later."""

    mid: int
    qos: int
    generation: int


class MqttLink:
    """One paho client with its network loop in its own thread; sinks call ``ack`` when done."""

    def __init__(
        self,
        settings: HubSettings,
        metrics: HubMetrics,
        on_message: Callable[[mqtt.MQTTMessage, Delivery], None],
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._on_message = on_message
        #: Bumped on every (re)connect: a packet id is only meaningful in its connection, so an
        #: ack for an older connection is skipped and the broker redelivers that message.
        self._generation = 0
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._closing = False
        self._pending_subacks = 2
        self.client = self._build_client()

    def _build_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.mqtt_client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if s.mqtt_username:
            client.username_pw_set(s.mqtt_username, s.mqtt_password)
        if s.mqtt_tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        # Our own publishes (answers to bad requests) are few; no need to bound them.
        client.max_queued_messages_set(0)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
        return client

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; paho reconnects by itself when the link drops."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        # Without this Mosquitto allows 20 unacknowledged messages; late acks would throttle.
        props.ReceiveMaximum = self.settings.receive_maximum
        self.client.connect_async(
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            keepalive=30,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    def pause(self) -> None:
        """Stop taking new messages (they stay unacknowledged and come back next session)."""
        self._closing = True

    def stop(self) -> None:
        """Disconnect (keeping the session on the broker) and stop the network thread."""
        self._closing = True
        props = Properties(PacketTypes.DISCONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.disconnect(properties=props)
        self.client.loop_stop()
        self._connected.clear()
        self.metrics.mqtt_connected.set(0)

    @property
    def connected(self) -> bool:
        """Whether the link is up and subscribed."""
        return self._connected.is_set() and self._subscribed.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Block until connected and subscribed, or ``timeout``; return whether it is."""
        return self._connected.wait(timeout) and self._subscribed.wait(timeout)

    # -- callbacks (network thread) ------------------------------------------------------------

    def _handle_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags,
                        reason: ReasonCode, properties: Properties | None) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the connection: %s", reason)
            return
        self._generation += 1
        log.info("MQTT connected to %s as %s (session present: %s)",
                 self.settings.mqtt_url, self.settings.mqtt_client_id, flags.session_present)
        self._subscribed.clear()
        self._pending_subacks = 2
        for topic, sub_id in ((topics.HUB_SHARED_SUBSCRIPTION, SUB_SHARED),
                              (topics.HUB_STATUS_SUBSCRIPTION, SUB_STATUS)):
            props = Properties(PacketTypes.SUBSCRIBE)
            props.SubscriptionIdentifier = sub_id
            client.subscribe(topic, qos=1, properties=props)
        self._connected.set()
        self.metrics.mqtt_connected.set(1)

    def _handle_subscribe(self, client: mqtt.Client, userdata: Any, mid: int,
                          reasons: list[ReasonCode], properties: Properties | None) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            log.error("MQTT subscription refused: %s", ", ".join(failed))
            return
        self._pending_subacks -= 1
        if self._pending_subacks <= 0:
            self._subscribed.set()

    def _handle_disconnect(self, client: mqtt.Client, userdata: Any, flags: mqtt.DisconnectFlags,
                           reason: ReasonCode, properties: Properties | None) -> None:
        self._connected.clear()
        self._subscribed.clear()
        self.metrics.mqtt_connected.set(0)
        if not self._closing:
            log.warning("MQTT link lost (%s); reconnecting", reason)

    def _handle_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self._closing:
            return  # left unacknowledged: the broker keeps it for the next session
        self._on_message(msg, Delivery(msg.mid, msg.qos, self._generation))

    # -- called from sink threads --------------------------------------------------------------

    def ack(self, delivery: Delivery) -> None:
        """Acknowledge a QoS 1 message whose effect is durable (a no-op for QoS 0)."""
        if delivery.qos == 0 or delivery.generation != self._generation:
            return
        if not self._connected.is_set():
            return
        rc = self.client.ack(delivery.mid, delivery.qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.debug("ack of mid %s not sent: %s", delivery.mid, rc)

    def publish(self, topic: str, payload: bytes, qos: int = 1,
                properties: Properties | None = None) -> None:
        """Publish one message of ours (thread-safe in paho)."""
        self.client.publish(topic, payload, qos=qos, properties=properties)
