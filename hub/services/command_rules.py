"""What a command request must look like: known names, their arguments, a sane timeout.

Pure functions over the request body; errors name the field and say what is wrong in
Vietnamese and English, for the API's 422 and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 600.0


class CommandError(Exception):
    """A command that cannot be sent; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, vi: str, en: str, field: str | None = None) -> None:
        super().__init__(en)
        self.status, self.vi, self.en, self.field = status, vi, en, field

    def detail(self) -> dict[str, str]:
        """The API's error body: both languages, and the field at fault when there is one."""
        out = {"vi": self.vi, "en": self.en}
        if self.field is not None:
            out["field"] = self.field
        return out


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NoArgs(_Args):
    """Commands that take no arguments."""


class BoardPowerArgs(_Args):
    """``board.power``: switch the room's interactive board on or off."""

    on: bool


#: Every command an edge understands, with the model of its ``args``.
COMMANDS: dict[str, type[_Args]] = {
    "reboot": NoArgs,
    "reload": NoArgs,
    "identify": NoArgs,
    "sync": NoArgs,
    "board.power": BoardPowerArgs,
}


#: Commands with a physical effect: the broker drops them at their deadline (MQTT 5 message
#: expiry) rather than keep them for a box that is away, so a box back after hours does not
#: reboot or switch a board by surprise. The others wait in the box's session and may be
#: answered late (``late_ok``).
EXPIRE_AT_DEADLINE = frozenset({"reboot", "board.power"})


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A validated request to send one command."""

    cmd: str
    args: dict[str, Any]
    timeout_s: float

    @property
    def expiry_s(self) -> int | None:
        """Seconds the broker may keep the command for an absent box; None: its session's."""
        return max(1, round(self.timeout_s)) if self.cmd in EXPIRE_AT_DEADLINE else None


def _bad(field: str, vi: str, en: str) -> CommandError:
    return CommandError(422, vi, en, field)


def parse_args(cmd: str, args: Any) -> dict[str, Any]:
    """``args`` checked against what ``cmd`` takes; CommandError naming the field otherwise."""
    if not isinstance(args, dict):
        raise _bad("args", "Trường args phải là một đối tượng JSON",
                   "Field args must be a JSON object")
    try:
        return COMMANDS[cmd].model_validate(args).model_dump()
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(["args", *(str(part) for part in first["loc"])])
        if first["type"] == "extra_forbidden":
            raise _bad(field, f"Lệnh {cmd} không nhận tham số {field}",
                       f"Command {cmd} takes no argument {field}") from None
        if first["type"] == "missing":
            raise _bad(field, f"Lệnh {cmd} cần tham số {field}",
                       f"Command {cmd} needs argument {field}") from None
        raise _bad(field, f"Tham số {field} không hợp lệ: {first['msg']}",
                   f"Argument {field} is not valid: {first['msg']}") from None


def parse_request(body: Any) -> CommandRequest:
    """The body of ``POST .../commands`` (``{cmd, args, timeout_s}``), checked."""
    if not isinstance(body, dict):
        raise _bad("body", "Nội dung phải là một đối tượng JSON", "Body must be a JSON object")
    extra = sorted(set(body) - {"cmd", "args", "timeout_s"})
    if extra:
        raise _bad(extra[0], f"Trường {extra[0]} không được hỗ trợ",
                   f"Field {extra[0]} is not supported")
    cmd = body.get("cmd")
    if not isinstance(cmd, str) or cmd not in COMMANDS:
        known = ", ".join(COMMANDS)
        raise _bad("cmd", f"Trường cmd: lệnh {cmd!r} không tồn tại (hợp lệ: {known})",
                   f"Field cmd: unknown command {cmd!r} (known: {known})")
    args = parse_args(cmd, body.get("args", {}))
    timeout = body.get("timeout_s", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
            1 <= timeout <= MAX_TIMEOUT_S):
        raise _bad("timeout_s", f"Trường timeout_s phải là số giây từ 1 đến {MAX_TIMEOUT_S:g}",
                   f"Field timeout_s must be a number of seconds from 1 to {MAX_TIMEOUT_S:g}")
    return CommandRequest(cmd, args, float(timeout))
