"""The demo's fallback broker when Mosquitto is not installed: amqtt, in process.

amqtt speaks MQTT 3.1.1 only and has no shared subscriptions, so clients that use it must be set
to protocol 3.1.1 and the hub to a plain subscription; the demo does both and says so.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """An amqtt broker on ``host:port``, started and stopped inside the running event loop."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._broker: Any = None

    @property
    def url(self) -> str:
        """``mqtt://host:port``."""
        return f"mqtt://{self.host}:{self.port}"

    async def start(self) -> None:
        """Listen on the port (amqtt binds in ``start``)."""
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "sys_interval": 0,
            "auth": {"allow-anonymous": True},
            "topic-check": {"enabled": False},
        }
        self._broker = Broker(config)
        await self._broker.start()
        log.info("embedded amqtt broker listening on %s", self.url)

    async def stop(self) -> None:
        """Shut the broker down."""
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
