"""Commands to edges (``/api/v1``): send one, follow it, list an edge's history.

Admins command every edge; a technician commands the edges of the school in their token (every
school without a school claim). The console sends with ``POST``, then polls ``GET
/api/v1/commands/{id}`` until the state is no longer ``sent``.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request

from hub.auth import Principal, Role, forbid_unless, require
from hub.services.command_rules import CommandError, parse_request
from hub.services.commands import HISTORY_MAX, CommandService

router = APIRouter(prefix="/api/v1", tags=["commands"])
IDENT = r"^[a-z0-9][a-z0-9-]{0,63}$"
SchoolId = Annotated[str, Path(pattern=IDENT)]
EdgeId = Annotated[str, Path(pattern=IDENT)]
Commander = Annotated[Principal, require(Role.ADMIN, Role.TECHNICIAN)]


def may_command(caller: Principal, school: str) -> bool:
    """Admins, and technicians of ``school`` or of every school (no school claim)."""
    if caller.role is Role.ADMIN:
        return True
    return caller.role is Role.TECHNICIAN and caller.school in (None, school)


def _service(request: Request) -> CommandService:
    service: CommandService = request.app.state.ingest.commands
    return service


def _http(error: CommandError) -> HTTPException:
    return HTTPException(error.status, detail=error.detail())


@router.post("/edges/{school}/{edge}/commands", status_code=202)
def send_command(school: SchoolId, edge: EdgeId, request: Request, caller: Commander,
                 body: Annotated[Any, Body()]) -> dict[str, Any]:
    """Send ``{cmd, args, timeout_s}`` to the edge; 202 with the record (state ``sent``)."""
    forbid_unless(may_command(caller, school))
    try:
        parsed = parse_request(body)
        return _service(request).send(school, edge, parsed, sent_by=caller.subject,
                                      sent_role=caller.role.value)
    except CommandError as error:
        raise _http(error) from None


@router.get("/commands/{command_id}")
def get_command(command_id: UUID, request: Request, caller: Commander) -> dict[str, Any]:
    """One command's record: its state, and the edge's answer once it came."""
    record = _service(request).get(command_id)
    if record is None:
        raise HTTPException(404, detail={"vi": "Không tìm thấy lệnh", "en": "Unknown command"})
    forbid_unless(may_command(caller, record["school"]))
    return record


@router.get("/edges/{school}/{edge}/commands")
def command_history(school: SchoolId, edge: EdgeId, request: Request, caller: Commander,
                    limit: Annotated[int, Query(ge=1, le=HISTORY_MAX)] = 50,
                    ) -> dict[str, Any]:
    """The edge's commands, newest first."""
    forbid_unless(may_command(caller, school))
    try:
        commands = _service(request).history(school, edge, limit)
    except CommandError as error:
        raise _http(error) from None
    return {"school": school, "edge": edge, "commands": commands}
