"""The MQTT link: birth and Last Will, the outbox drained in order, commands answered.

The box keeps its MQTT session for ``mqtt.session_expiry_s`` while it is away, so a command
sent to a box that is down is delivered when it comes back (its ack then arrives late).

One ``aiomqtt.Client`` per connection (MQTT 5). On every connect the link subscribes to its
``cmd`` topic, publishes the retained birth ``status`` and drains the outbox oldest first with a
window of QoS 1 messages awaiting PUBACK; an entry leaves the outbox only once it and every older
one were acknowledged, so after a broken connection the drain resumes at the oldest unacknowledged
entry (a few may be sent twice; the hub applies each ``id``/``seq`` once). An entry the broker
refused (an MQTT 5 PUBACK reason code such as "Not authorized") moves to the outbox's refused
table instead: kept on the box, counted in the heartbeat, and queued again by a ``sync`` command
once the broker's configuration is mended. Connection loss is seen by the message iterator,
which ends the connection's task group; reconnects back off with jitter.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import aiomqtt
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.backoff import Backoff
from edge_agent.commands import CommandDesk, CommandHandler
from edge_agent.mqtt_client import CheckedClient
from edge_agent.outbox import Entry, Kind, Outbox
from edge_agent.settings import EdgeConfig
from protocol import topics
from protocol.codes import Code
from protocol.decode import decode_as, salvage_id
from protocol.errors import ProtocolError
from protocol.messages import Command, DeviceInfo, EdgeState, Response, Status, now

log = logging.getLogger(__name__)

#: Takes every answer the hub sends on this edge's ``resp`` topic.
ResponseHandler = Callable[[Response], None]

#: How long a clean stop waits for the broker to take the offline status.
_GOODBYE_TIMEOUT_S = 5.0


class _Stopping(Exception):
    """Raised inside a connection's task group to end it for a clean stop."""


class Link:
    """The edge's connection to the broker; ``await link.run()`` until ``link.stop()``."""

    def __init__(self, config: EdgeConfig, outbox: Outbox, devices: Sequence[DeviceInfo],
                 commands: CommandDesk | None = None) -> None:
        self._config = config
        self._mqtt = config.mqtt
        self._outbox = outbox
        self._devices = tuple(devices)
        self._connection_id: str | None = None
        self._status_topic = topics.status(config.school, config.edge)
        self._cmd_topic = topics.cmd(config.school, config.edge)
        self._ack_topic = topics.cmd_ack(config.school, config.edge)
        self._resp_topic = topics.resp(config.school, config.edge)
        self._client: CheckedClient | None = None
        self._stop = asyncio.Event()
        self._backoff = Backoff(self._mqtt.reconnect_min_s, self._mqtt.reconnect_max_s)
        self._on_response: ResponseHandler | None = None
        #: Answers commands once per id (with a command log when the agent gives one).
        self.commands = commands if commands is not None else CommandDesk()
        self.commands.on("identify", self._identify)
        self.commands.on("sync", self._sync)
        self.commands.on("reload", self._reload)
        #: Set while a connection is up and the birth was acknowledged.
        self.connected = asyncio.Event()
        #: Set by an ``identify`` command; a local screen or LED clears it once shown.
        self.identify_requested = asyncio.Event()
        self.connections = 0
        self.published = 0
        self.responses = 0
        self.responses_bad = 0
        #: Topics with a refusal logged already: one line per topic, not per message.
        self._refused_topics: set[str] = set()
        #: Entries refused and not yet passed by the acker (which must not delete them).
        self._refused_ids: set[int] = set()
        #: Moves to the refused table under way (tasks of their own: they outlive a session).
        self._refusing: set[asyncio.Task[None]] = set()

    # -- commands ----------------------------------------------------------------------------

    @property
    def commands_bad(self) -> int:
        """Command payloads that did not validate."""
        return self.commands.bad

    def on_command(self, name: str, handler: CommandHandler) -> None:
        """Answer command ``name`` with ``handler`` (replacing any built-in one)."""
        self.commands.on(name, handler)

    def on_response(self, handler: ResponseHandler) -> None:
        """Give every answer arriving on the ``resp`` topic to ``handler``."""
        self._on_response = handler

    def _response(self, payload: bytes) -> None:
        try:
            response = decode_as(Response, payload)
        except ProtocolError as error:
            self.responses_bad += 1
            log.warning("bad answer on %s ignored: %s", self._resp_topic, error)
            return
        self.responses += 1
        if self._on_response is not None:
            self._on_response(response)

    async def _identify(self, command: Command) -> tuple[Code, dict[str, Any]]:
        log.warning(
            "identify requested by command %s: this is edge %s", command.id, self._config.edge
        )
        self.identify_requested.set()
        return Code.CMD_OK, {"edge": self._config.edge}

    async def _sync(self, command: Command) -> tuple[Code, dict[str, Any]]:
        requeued = await self._outbox.requeue_refused()
        log.info(
            "sync requested by command %s; outbox has %d waiting (%d the broker refused before)",
            command.id, self._outbox.backlog, requeued,
        )
        self._refused_topics.clear()
        self._outbox.changed.set()
        return Code.CMD_OK, {"outbox": self._outbox.backlog, "requeued": requeued}

    async def _reload(self, command: Command) -> tuple[Code, dict[str, Any]]:
        log.info("reload requested by command %s (configuration is read at start)", command.id)
        return Code.CMD_OK, {}

    async def _answer(self, client: CheckedClient, message: aiomqtt.Message) -> None:
        payload = message.payload if isinstance(message.payload, bytes) else b""
        reply = await self.commands.answer(payload)
        if reply is None:
            client.ack(message)
            return
        # QoS 1: this returns once the broker has the ack (PUBACK), and only then may an
        # effect such as a reboot take the box away.
        await client.publish(self._ack_topic, reply.ack, qos=1)
        # Only now is the command done with: a box that died before this gets it again (and
        # answers a command id it has seen with the stored ack).
        client.ack(message)
        if reply.after_ack is not None:
            try:
                await reply.after_ack()
            except Exception:  # noqa: BLE001 - the ack is out; the failure is logged
                log.exception("command effect after the ack failed")

    async def _commands(self, client: CheckedClient, tg: asyncio.TaskGroup) -> None:
        # The iterator raises MqttError when the connection drops: that ends the session.
        async for message in client.messages:
            if message.topic.matches(self._cmd_topic):
                tg.create_task(self._answer(client, message), name="link-command")
                continue  # acknowledged once answered
            if message.topic.matches(self._resp_topic):
                self._response(message.payload if isinstance(message.payload, bytes) else b"")
            else:
                log.warning("message on unexpected topic %s ignored", message.topic)
            client.ack(message)

    # -- outbox ------------------------------------------------------------------------------

    async def _drain(self, client: CheckedClient, tg: asyncio.TaskGroup) -> None:
        window = asyncio.Semaphore(self._mqtt.inflight)
        inflight: deque[tuple[Entry, asyncio.Task[None]]] = deque()
        more = asyncio.Event()
        tg.create_task(self._acker(inflight, more), name="link-acker")
        # Refusals of the last session are set aside first, or they would be sent again.
        await asyncio.gather(*self._refusing, return_exceptions=True)
        self._refused_ids.clear()
        cursor = 0
        while True:
            # Clear before looking, so a put that lands after the look still wakes us.
            self._outbox.changed.clear()
            batch = await self._outbox.peek(cursor, self._mqtt.inflight)
            if not batch:
                await self._outbox.changed.wait()
                continue
            for entry in batch:
                await window.acquire()
                task = tg.create_task(self._send(client, entry, window), name="link-publish")
                inflight.append((entry, task))
                more.set()
                cursor = entry.id

    def _properties(self, entry: Entry) -> Properties | None:
        """A request's MQTT 5 response topic and correlation data (its ``id``)."""
        if entry.kind is not Kind.REQUEST or self._mqtt.protocol != "5":
            return None
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.ResponseTopic = self._resp_topic
        request_id = salvage_id(entry.payload)
        if request_id is not None:
            properties.CorrelationData = str(request_id).encode()
        return properties

    async def _send(self, client: CheckedClient, entry: Entry, window: asyncio.Semaphore) -> None:
        try:
            # For QoS 1 this returns once the PUBACK arrived (a refusal goes to _refused).
            await client.publish_tagged(
                entry,
                entry.topic,
                entry.payload,
                qos=entry.qos,
                properties=self._properties(entry),
                timeout=self._mqtt.publish_timeout_s,
            )
        finally:
            window.release()
        if entry.id not in self._refused_ids:
            self.published += 1

    def _refused(self, entry: Entry, reason: str) -> None:
        """The broker refused ``entry`` (paho's PUBACK callback): keep it aside, at once."""
        self._refused_ids.add(entry.id)
        task = asyncio.get_running_loop().create_task(
            self._outbox.refuse([(entry.id, reason)]), name="link-refuse")
        self._refusing.add(task)
        task.add_done_callback(self._refusing.discard)
        if entry.topic not in self._refused_topics:
            if len(self._refused_topics) < 1000:
                self._refused_topics.add(entry.topic)
            log.error("the broker refused a message on %s (%s); it is kept in the outbox's "
                      "refused table, and a sync command sends it again", entry.topic, reason)

    async def _acker(
        self, inflight: deque[tuple[Entry, asyncio.Task[None]]], more: asyncio.Event
    ) -> None:
        while True:
            if not inflight:
                more.clear()
                await more.wait()
                continue
            head = inflight[0][1]
            await asyncio.wait([head])
            if head.cancelled() or head.exception() is not None:
                return  # the task group reports the failure and ends the session
            done: list[int] = []
            while inflight and inflight[0][1].done() and not inflight[0][1].cancelled():
                if inflight[0][1].exception() is not None:
                    break
                entry = inflight.popleft()[0]
                if entry.id in self._refused_ids:
                    self._refused_ids.discard(entry.id)  # moved aside, not delivered
                else:
                    done.append(entry.id)
            await self._outbox.ack(done)

    # -- connection --------------------------------------------------------------------------

    def _status(self, state: EdgeState) -> bytes:
        devices = self._devices if state is EdgeState.ONLINE else ()
        return Status(ts=now(), state=state, fw=self._config.firmware, devices=devices,
                      session=self._connection_id).to_json()

    def _make_client(self) -> CheckedClient:
        # A new session per connection: its Will and its birth carry the same id.
        self._connection_id = uuid.uuid4().hex
        tls_context = None
        if self._mqtt.tls:
            cafile = str(self._mqtt.ca_file) if self._mqtt.ca_file else None
            tls_context = ssl.create_default_context(cafile=cafile)
        password = self._mqtt.password.get_secret_value() if self._mqtt.password else None
        v5 = self._mqtt.protocol == "5"
        persistent = self._mqtt.session_expiry_s > 0
        connect_properties = None
        if v5 and persistent:
            connect_properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            connect_properties.SessionExpiryInterval = self._mqtt.session_expiry_s
        client = CheckedClient(
            self._mqtt.host,
            self._mqtt.port,
            on_refused=self._refused,
            username=self._mqtt.username,
            password=password,
            identifier=self._config.client_id,
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            # A kept session queues the commands sent while the box is away (MQTT 3.1.1: until
            # the broker's persistent_client_expiration; MQTT 5: session_expiry_s).
            clean_session=None if v5 else not persistent,
            clean_start=not persistent if v5 else MQTT_CLEAN_START_FIRST_ONLY,
            properties=connect_properties,
            will=aiomqtt.Will(
                self._status_topic, self._status(EdgeState.OFFLINE), qos=1, retain=True
            ),
            keepalive=self._mqtt.keepalive,
            timeout=self._mqtt.publish_timeout_s,
            max_inflight_messages=self._mqtt.inflight,
            tls_context=tls_context,
            # A tap is one small packet: without this, Nagle holds it for the previous one's ACK.
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )
        # aiomqtt warns above 10 pending calls; our window is deliberate.
        client.pending_calls_threshold = self._mqtt.inflight + 16
        return client

    async def _session(self) -> None:
        async with self._make_client() as client:
            # Subscribed before the birth: once the hub sees the box online, commands reach it.
            await client.subscribe(self._cmd_topic, qos=1)
            if self._on_response is not None:
                await client.subscribe(self._resp_topic, qos=1)
            await client.publish(
                self._status_topic, self._status(EdgeState.ONLINE), qos=1, retain=True
            )
            self.connections += 1
            self._backoff.reset()
            self._client = client
            self.connected.set()
            log.info(
                "connected to %s as %s; %d waiting in the outbox",
                self._mqtt.url,
                self._config.client_id,
                self._outbox.backlog,
            )
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._commands(client, tg), name="link-commands")
                    tg.create_task(self._drain(client, tg), name="link-drain")
                    tg.create_task(self._until_stop(), name="link-stop")
            except* _Stopping:
                await client.publish(
                    self._status_topic,
                    self._status(EdgeState.OFFLINE),
                    qos=1,
                    retain=True,
                    timeout=_GOODBYE_TIMEOUT_S,
                )
            finally:
                self._client = None
                self.connected.clear()

    async def _until_stop(self) -> None:
        await self._stop.wait()
        raise _Stopping

    async def run(self) -> None:
        """Stay connected (reconnecting with backoff) until ``stop()`` is called."""
        while not self._stop.is_set():
            try:
                await self._session()
            except* aiomqtt.MqttError as group:
                reasons = "; ".join(str(e) or type(e).__name__ for e in group.exceptions)
                log.warning("MQTT link to %s lost or refused: %s", self._mqtt.url, reasons)
            if self._stop.is_set():
                break
            delay = self._backoff.next_delay()
            log.info("reconnecting in %.1f s", delay)
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
            except TimeoutError:
                pass
        log.info("MQTT link stopped")

    def stop(self) -> None:
        """Ask ``run()`` to say offline, disconnect and return."""
        self._stop.set()

    async def publish_volatile(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 0 outside the outbox (heartbeats); False when not connected."""
        client = self._client
        if client is None:
            return False
        try:
            await client.publish(topic, payload, qos=0)
        except aiomqtt.MqttError as error:
            log.info("volatile publish to %s failed: %s", topic, error)
            return False
        return True
