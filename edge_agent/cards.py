"""Card taps at doors, gates and tills: into the outbox first, then an answer on the screen.

Every tap becomes a request with a fresh ``id`` committed to the outbox before anything is
shown, so nothing the reader accepted is lost. With the link up the hub's answer (matched by
``re``) is shown if it comes within ``answer_timeout_s``; otherwise a door answers from the roster
(the hub still decides that same tap once it arrives) and a till says "try again" without
approving. With the link down at tap time a till applies the offline rule (``offline.py``) and an
approved sale goes to the outbox as ``pay`` with ``offline: true``, which the hub never refuses.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from device_drivers.base import CardReader, DriverError
from edge_agent.answers import Answer, AnswerBoard
from edge_agent.backoff import Backoff
from edge_agent.link import Link
from edge_agent.localdb import LocalDb
from edge_agent.offline import Decision, door_decision, till_decision
from edge_agent.outbox import Kind, Outbox
from edge_agent.settings import DeviceConfig, EdgeConfig, HubSettings
from edge_agent.snapshots import BALANCES, Snapshots
from edge_agent.supervisor import Health
from protocol import topics
from protocol.codes import Code
from protocol.messages import Pay, PayItem, Response, Tap, now

log = logging.getLogger(__name__)

#: The largest sale a till takes, as the ``pay`` contract allows.
MAX_SALE = 10_000_000


@dataclass(frozen=True, slots=True)
class Sale:
    """What the cashier entered: the amount in đồng and the optional lines."""

    amount: int
    items: tuple[PayItem, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON the till page shows."""
        items = [i.model_dump() for i in self.items] if self.items else []
        return {"amount": self.amount, "items": items}


@dataclass(frozen=True, slots=True)
class _Attempt:
    """A ``pay`` sent for the current sale that got no answer in time."""

    card: str
    request: uuid.UUID
    payload: bytes
    sale: Sale


class Till:
    """One canteen till: the pending sale the next tap pays."""

    def __init__(self, device: DeviceConfig) -> None:
        self.device_id = device.id
        self.offline_limit = device.offline_limit
        self.sale: Sale | None = None
        self._attempt: _Attempt | None = None
        self.changed = asyncio.Event()

    def set_sale(self, amount: int, items: list[dict[str, Any]] | list[PayItem] | None = None) -> Sale:
        """Make ``amount`` đồng (and ``items``) the sale the next tap pays; ValueError if bad."""
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_SALE:
            raise ValueError(f"amount must be a whole number of đồng from 1 to {MAX_SALE}")
        lines: tuple[PayItem, ...] | None = None
        if items:
            try:
                lines = tuple(i if isinstance(i, PayItem) else PayItem.model_validate(i)
                              for i in items)
            except ValidationError as error:
                raise ValueError(f"bad items: {error.errors(include_url=False)[0]['msg']}") from None
        self.sale = Sale(amount, lines)
        self._attempt = None  # a new sale is a new payment: it gets a new request id
        return self.sale

    def clear(self) -> None:
        """No sale pending (after it was paid)."""
        self.sale = None
        self._attempt = None


class CardFlow:
    """Runs every card reader and turns taps into requests and answers."""

    def __init__(
        self,
        config: EdgeConfig,
        outbox: Outbox,
        link: Link,
        snapshots: Snapshots,
        db: LocalDb,
        board: AnswerBoard,
        health: dict[str, Health],
    ) -> None:
        assert config.hub is not None or not config.card_readers
        self._config = config
        self._hub: HubSettings | None = config.hub
        self._outbox = outbox
        self._link = link
        self._snapshots = snapshots
        self._db = db
        self.board = board
        self._health = health
        self._topic = topics.req(config.school, config.edge)
        self.devices = {d.id: d for d in config.card_readers}
        self.tills = {d.id: Till(d) for d in config.card_readers if d.role == "till"}
        self._locks = {d: asyncio.Lock() for d in self.devices}
        self._waiting: dict[uuid.UUID, asyncio.Future[Response]] = {}
        self.late_answers = 0
        link.on_response(self._answer_arrived)

    # -- readers -----------------------------------------------------------------------------

    async def run(self) -> None:
        """One supervised task per card reader, until cancelled."""
        async with asyncio.TaskGroup() as tg:
            for device in self.devices.values():
                tg.create_task(self._run_reader(device), name=f"reader-{device.id}")

    async def _run_reader(self, device: DeviceConfig) -> None:
        health = self._health[device.id]
        backoff = Backoff(self._config.device_retry_min_s, self._config.device_retry_max_s)
        while True:
            try:
                reader: CardReader = device.spec.driver_factory(device.driver_config)
                async with reader:
                    health.driver_stats = getattr(reader, "stats", None)
                    health.ok, health.last_error = True, None
                    log.info("card reader %s (%s, %s) opened", device.id, device.driver,
                             device.role)
                    try:
                        while True:
                            read = await reader.next_card()
                            backoff.reset()
                            health.readings += 1
                            health.last_ts = read.ts
                            await self.present(device.id, read.card, read.ts)
                    finally:
                        health.close_driver()
            except DriverError as error:
                health.ok = False
                health.errors += 1
                health.last_error = f"{type(error).__name__}: {error}"
                delay = backoff.next_delay()
                log.warning("card reader %s failed (%s); retrying in %.1f s", device.id,
                            health.last_error, delay)
                await asyncio.sleep(delay)

    # -- taps --------------------------------------------------------------------------------

    async def present(self, device_id: str, card: str, ts: datetime | None = None) -> Answer:
        """Handle one card presented at ``device_id`` and show the answer (also for tools)."""
        device = self.devices[device_id]
        ts = ts or now()
        ts = ts if ts.tzinfo is not None else ts.astimezone()
        async with self._locks[device_id]:
            try:
                if device.role == "till":
                    answer = await self._pay(device, card, ts)
                else:
                    answer = await self._tap(device, card, ts)
            except ValidationError as error:
                # The driver gave a card outside the contract: a driver bug, but the queue of
                # students must go on.
                log.error("card %r from %s refused by the contract: %s", card, device_id, error)
                answer = Answer(device_id, device.role or "", Code.DECLINED_UNKNOWN_CARD,
                                offline=True)
            self.board.show(answer)
            return answer

    async def _request(self, request: Tap | Pay, payload: bytes | None = None) -> Response | None:
        """Commit ``request`` to the outbox; with the link up, wait briefly for its answer."""
        assert self._hub is not None
        online = self._link.connected.is_set()
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiting[request.id] = future  # before the put: a quick answer must not be missed
        try:
            await self._outbox.put(self._topic, payload or request.to_json(), 1, Kind.REQUEST)
            if not online:
                return None
            try:
                return await asyncio.wait_for(future, self._hub.answer_timeout_s)
            except TimeoutError:
                log.info("no answer to %s %s in %.1f s", request.type, request.id,
                         self._hub.answer_timeout_s)
                return None
        finally:
            self._waiting.pop(request.id, None)

    def _answer_arrived(self, response: Response) -> None:
        future = self._waiting.get(response.re)
        if future is not None and not future.done():
            future.set_result(response)
            return
        self.late_answers += 1
        for till in self.tills.values():
            attempt = till._attempt
            if attempt is not None and attempt.request == response.re:
                # The sale the till gave up waiting for was decided after all: say so.
                if response.ok and till.sale is attempt.sale:
                    till.clear()
                else:
                    till._attempt = None
                self.board.show(Answer(till.device_id, "till", response.code, response.re,
                                       data=response.data))
                return
        log.debug("answer to %s arrived after its tap was answered locally", response.re)

    async def _tap(self, device: DeviceConfig, card: str, ts: datetime) -> Answer:
        tap = Tap(id=uuid.uuid4(), ts=ts, device=device.id, card=card)
        role = device.role or "door"
        response = await self._request(tap)
        if response is not None:
            return Answer(device.id, role, response.code, tap.id, data=response.data)
        decision = door_decision(self._snapshots.roster, card)
        return Answer(device.id, role, decision.code, tap.id, offline=True, data=decision.data)

    async def _pay(self, device: DeviceConfig, card: str, ts: datetime) -> Answer:
        till = self.tills[device.id]
        sale = till.sale
        if sale is None:
            return Answer(device.id, "till", Code.TILL_NO_SALE)
        if self._link.connected.is_set():
            return await self._pay_online(till, sale, card, ts)
        if till._attempt is not None and till._attempt.sale is sale:
            # A ``pay`` for this sale waits in the outbox and the hub may still approve it;
            # approving again offline could take the money twice. The cashier can re-enter the
            # sale to start a new payment.
            return Answer(till.device_id, "till", Code.ERROR_NO_ANSWER, till._attempt.request,
                          offline=True, data={"amount": sale.amount})
        return await self._pay_offline(till, sale, card, ts)

    async def _pay_online(self, till: Till, sale: Sale, card: str, ts: datetime) -> Answer:
        attempt = till._attempt
        if attempt is not None and attempt.card == card and attempt.sale is sale:
            # The same card again for a sale that got no answer: the same id, so the hub takes
            # the money at most once and a retry gets the stored answer.
            request_id, payload = attempt.request, attempt.payload
        else:
            request_id, payload = uuid.uuid4(), None
        pay = Pay(id=request_id, ts=ts, device=till.device_id, card=card, amount=sale.amount,
                  items=sale.items)
        payload = payload or pay.to_json()
        response = await self._request(pay, payload)
        if response is None:
            till._attempt = _Attempt(card, request_id, payload, sale)
            return Answer(till.device_id, "till", Code.ERROR_NO_ANSWER, request_id,
                          data={"amount": sale.amount})
        if response.ok and till.sale is sale:
            till.clear()
        elif not response.ok:
            till._attempt = None  # decided: the next tap is a new payment
        data = {"amount": sale.amount} | response.data
        return Answer(till.device_id, "till", response.code, request_id, data=data)

    async def _pay_offline(self, till: Till, sale: Sale, card: str, ts: datetime) -> Answer:
        day = ts.astimezone(self._config.zone).date().isoformat()
        spent = await self._db.spending(card, day)
        decision: Decision = till_decision(
            self._snapshots.roster, self._snapshots.balances, card, sale.amount, spent,
            offline_limit=till.offline_limit,
            balances_from_today=self._snapshots.fetched_day(BALANCES) == day,
        )
        if decision.code is not Code.APPROVED:
            # Nothing was sold: nothing for the hub to settle.
            return Answer(till.device_id, "till", decision.code, offline=True,
                          data=decision.data | {"amount": sale.amount})
        pay = Pay(id=uuid.uuid4(), ts=ts, device=till.device_id, card=card, amount=sale.amount,
                  items=sale.items, offline=True)
        # The spending first: a crash between the two makes the limit stricter, never looser.
        await self._db.record_sale(str(pay.id), till.device_id, card, sale.amount, day,
                                   time.time())
        entry = await self._outbox.put(self._topic, pay.to_json(), 1, Kind.REQUEST)
        await self._db.link_sale(str(pay.id), entry.id)
        till.clear()
        log.info("offline sale %s of %d đồng to %s approved at %s", pay.id, sale.amount, card,
                 till.device_id)
        return Answer(till.device_id, "till", Code.APPROVED, pay.id, offline=True,
                      data=decision.data)
