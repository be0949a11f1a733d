"""Commands from the hub, carried out at most once per ``id``.

The broker may deliver a command twice (a redelivery after a lost PUBACK, a resumed session),
and the hub may send a copy. The desk keeps each command's ack in the box's local SQLite before
the ack is published, and answers a command it has seen with that same ack, without running it
again. Effects the ack must precede (a reboot) run only after the broker took the ack, so the
hub hears "done" before the box goes away, and a redelivery after the restart finds the ack.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from protocol.codes import Code, is_ok
from protocol.decode import decode_as, salvage_id
from protocol.errors import ProtocolError
from protocol.messages import Command, CommandAck

log = logging.getLogger(__name__)

#: Exit status of an agent that restarts itself on ``reboot`` (EX_TEMPFAIL): not 0, so
#: systemd's ``Restart=on-failure`` brings it back, and not 78, which stops the restarts.
RESTART_EXIT_CODE = 75

#: An effect that runs once the ack is with the broker.
AfterAck = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command handler decided: the ack's code and data, and an effect to run after."""

    code: Code
    data: dict[str, Any] = field(default_factory=dict)
    after_ack: AfterAck | None = None


#: A handler answers a code and data, or an Outcome when something must follow the ack.
CommandHandler = Callable[[Command], Awaitable[tuple[Code, dict[str, Any]] | Outcome]]


class CommandLog(Protocol):
    """Where the acks of commands answered are kept (``LocalDb``)."""

    async def recall_command(self, command_id: str) -> bytes | None:
        """The stored ack of ``command_id``, or None."""

    async def remember_command(self, command_id: str, cmd: str, ack: bytes,
                               received_at: float) -> None:
        """Keep the ack of ``command_id`` durably."""


@dataclass(frozen=True, slots=True)
class Reply:
    """The ack to publish, and what to run once the broker has it."""

    ack: bytes
    after_ack: AfterAck | None = None


class CommandDesk:
    """Turns ``cmd`` payloads into acks: decoded, run once per id, remembered."""

    def __init__(self, log_store: CommandLog | None = None) -> None:
        self._log = log_store
        self._handlers: dict[str, CommandHandler] = {}
        #: Commands being carried out: a copy arriving meanwhile waits for the same ack.
        self._running: dict[UUID, asyncio.Future[bytes]] = {}
        self.bad = 0
        self.executed = 0
        self.replayed = 0

    def on(self, name: str, handler: CommandHandler) -> None:
        """Answer command ``name`` with ``handler`` (replacing any earlier one)."""
        self._handlers[name] = handler

    async def answer(self, payload: bytes) -> Reply | None:
        """The reply to one ``cmd`` payload; None when it cannot be answered (no id)."""
        try:
            command = decode_as(Command, payload)
        except ProtocolError as error:
            self.bad += 1
            re = salvage_id(payload)
            log.warning("bad command (%s); %s", error, "answered" if re else "no id, not answered")
            if re is None:
                return None
            refusal = CommandAck(re=re, ok=False, code=Code.ERROR_BAD_REQUEST,
                                 data={"error": str(error)})
            return Reply(refusal.to_json())
        running = self._running.get(command.id)
        if running is not None:
            self.replayed += 1
            try:
                return Reply(await asyncio.shield(running))
            except asyncio.CancelledError:
                if running.cancelled():
                    return None  # the first copy was never answered: neither is this one
                raise
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        # Registered before the first await, so a copy arriving while we look is caught above.
        self._running[command.id] = future
        try:
            stored = await self._recall(command)
            if stored is not None:
                self.replayed += 1
                log.info("command %s (%s) seen before: answered with its stored ack",
                         command.id, command.cmd)
                future.set_result(stored)
                return Reply(stored)
            outcome = await self._run(command)
            ack = CommandAck(re=command.id, ok=is_ok(outcome.code), code=outcome.code,
                             data=outcome.data).to_json()
            await self._remember(command, ack)
            self.executed += 1
            future.set_result(ack)
            return Reply(ack, outcome.after_ack)
        finally:
            if not future.done():
                future.cancel()
            del self._running[command.id]

    async def _run(self, command: Command) -> Outcome:
        handler = self._handlers.get(command.cmd)
        if handler is None:
            log.warning("unknown command %r (%s)", command.cmd, command.id)
            return Outcome(Code.CMD_UNKNOWN, {"cmd": command.cmd})
        try:
            result = await handler(command)
        except Exception as error:  # noqa: BLE001 - reported to the sender, and logged
            log.exception("command %r (%s) failed", command.cmd, command.id)
            return Outcome(Code.CMD_FAILED, {"error": str(error)})
        return result if isinstance(result, Outcome) else Outcome(*result)

    async def _recall(self, command: Command) -> bytes | None:
        if self._log is None:
            return None
        try:
            return await self._log.recall_command(str(command.id))
        except sqlite3.Error as error:
            log.error("cannot read the command log (%s): command %s is carried out", error,
                      command.id)
            return None

    async def _remember(self, command: Command, ack: bytes) -> None:
        if self._log is None:
            return
        try:
            await self._log.remember_command(str(command.id), command.cmd, ack, time.time())
        except sqlite3.Error as error:
            # The ack still goes out; only a redelivery could now run the command again.
            log.error("cannot record command %s in the command log: %s", command.id, error)


def reboot_handler(argv: Sequence[str], request_exit: Callable[[int], None]) -> CommandHandler:
    """``reboot``: after the ack, run ``argv`` (``systemctl reboot``), or with an empty
    ``argv`` end this agent with RESTART_EXIT_CODE for its supervisor to start it again."""
    command_line = tuple(argv)

    async def restart_agent() -> None:
        log.warning("reboot: restarting the agent (exit status %d)", RESTART_EXIT_CODE)
        request_exit(RESTART_EXIT_CODE)

    async def run_command() -> None:
        log.warning("reboot: running %s", " ".join(command_line))
        process = await asyncio.create_subprocess_exec(*command_line)
        status = await process.wait()
        if status != 0:
            log.error("reboot: %s exited with status %d", " ".join(command_line), status)

    async def reboot(command: Command) -> Outcome:
        if not command_line:
            return Outcome(Code.CMD_OK, {"action": "restart-agent"}, restart_agent)
        if shutil.which(command_line[0]) is None:
            # Said now, while the ack can still say it: after the ack nobody would hear.
            return Outcome(Code.CMD_FAILED, {"error": f"{command_line[0]} not found"})
        return Outcome(Code.CMD_OK, {"action": " ".join(command_line)}, run_command)

    return reboot


class PowerSwitch(Protocol):
    """A device whose power the edge can switch (an interactive board's driver)."""

    async def set_power(self, on: bool) -> None:
        """Switch the device on or off; raise on failure."""


def board_power_handler(boards: Callable[[], Mapping[str, PowerSwitch]]) -> CommandHandler:
    """``board.power`` ``{"on": bool}``: forwarded to every interactive board that can switch
    its power; ``cmd.unsupported`` on a box without one."""

    async def board_power(command: Command) -> Outcome:
        on = command.args.get("on")
        if not isinstance(on, bool) or set(command.args) != {"on"}:
            return Outcome(Code.ERROR_BAD_REQUEST, {"error": 'args must be {"on": true|false}'})
        switches = boards()
        if not switches:
            return Outcome(Code.CMD_UNSUPPORTED, {
                "cmd": command.cmd, "reason": "no interactive board with power control here"})
        for device, switch in sorted(switches.items()):
            await switch.set_power(on)
            log.info("board.power: %s switched %s by command %s", device, "on" if on else "off",
                     command.id)
        return Outcome(Code.CMD_OK, {"on": on, "boards": sorted(switches)})

    return board_power
