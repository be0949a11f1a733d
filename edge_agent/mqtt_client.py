"""aiomqtt's client, keeping what aiomqtt drops: the broker's verdict in each PUBACK.

aiomqtt's ``publish`` returns once the PUBACK arrives whatever its reason code, so a message the
broker refused (MQTT 5: "Not authorized" when the ACL forbids the topic, "Quota exceeded", ...)
looked delivered. Here each publish may carry a tag, and ``on_refused(tag, reason)`` is called
from paho's own PUBACK callback: Mosquitto 2.0 closes the connection right after a "Not
authorized" PUBACK, which cancels the task awaiting the publish, so the verdict must be taken
where it arrives. MQTT 3.1.1 has no reason codes: a broker that drops a forbidden message still
acknowledges it as delivered.

Incoming messages are acknowledged by the caller (``ack``), not on arrival: a command is acked
to the broker once it is answered, so one that reaches a box dying before it could answer is
delivered again when the box is back.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties

#: The tag of the publish being made in this task, read inside aiomqtt's ``publish``.
_TAG: ContextVar[object | None] = ContextVar("publish_tag", default=None)

RefusalHandler = Callable[[Any, str], None]


class CheckedClient(aiomqtt.Client):
    """An ``aiomqtt.Client`` that tells ``on_refused`` which tagged publishes were refused."""

    def __init__(self, *args: Any, on_refused: RefusalHandler,  # noqa: ANN401 - aiomqtt's
                 **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(*args, **kwargs)
        self._client.manual_ack_set(True)
        self.on_refused = on_refused
        #: Tags of publishes awaiting their PUBACK, by packet id.
        self._tags: dict[int, object] = {}
        paho_publish = self._client.publish

        def publish(*args: Any, **kwargs: Any) -> mqtt.MQTTMessageInfo:  # noqa: ANN401
            info = paho_publish(*args, **kwargs)
            tag = _TAG.get()
            if tag is not None:
                self._tags[info.mid] = tag
            return info

        self._client.publish = publish  # type: ignore[method-assign]

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int,  # noqa: ANN401
                    reason_code: Any, properties: Properties) -> None:  # noqa: ANN401
        tag = self._tags.pop(mid, None)
        if tag is not None and getattr(reason_code, "is_failure", False):
            self.on_refused(tag, str(reason_code))
        super()._on_publish(client, userdata, mid, reason_code, properties)

    def ack(self, message: aiomqtt.Message) -> None:
        """Acknowledge an incoming message to the broker (every one must be, once handled)."""
        if message.qos:
            self._client.ack(message.mid, message.qos)

    async def publish_tagged(self, tag: object, topic: str, payload: bytes, *, qos: int,
                             properties: Properties | None = None,
                             timeout: float | None = None) -> None:
        """``publish``, with ``tag`` handed to ``on_refused`` if the broker refuses it."""
        _TAG.set(tag)
        try:
            await self.publish(topic, payload, qos=qos, properties=properties, timeout=timeout)
        finally:
            _TAG.set(None)
