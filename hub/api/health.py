"""Device health for technicians (``/api/v1/health``): edges and devices, the inventory, alerts
and each school's alert rules.

Admins see every school; technicians theirs (every school without a school in their token);
staff read their school. Writing (import, acknowledge, rules) is for admins and technicians.
Errors carry ``detail: {"vi": ..., "en": ...}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Body,
    Depends,
    HTTPException,
    Path,
    Query,
    Request,
    UploadFile,
)
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth import Principal, Role, forbid_unless, require
from hub.db.alerts import RESOLVED, AlertRow
from hub.db.inventory import InventoryRow
from hub.health.alerts import AlertError, acknowledge, alert_out
from hub.health.inventory_import import import_inventory
from hub.health.monitor import HealthMonitor
from hub.health.rule_store import describe_errors, get_school_rules, put_school_rules
from hub.health.views import edge_detail, inventory_out, select_edges
from hub.services.people.sheets import MAX_FILE_BYTES, ImportFileError

router = APIRouter(prefix="/api/v1/health", tags=["health"])

IDENT = r"^[a-z0-9][a-z0-9-]{0,63}$"
SchoolId = Annotated[str, Path(pattern=IDENT)]
EdgeId = Annotated[str, Path(pattern=IDENT)]
SchoolFilter = Annotated[str | None, Query(pattern=IDENT)]
Reader = Annotated[Principal, require(Role.ADMIN, Role.TECHNICIAN, Role.STAFF)]
Writer = Annotated[Principal, require(Role.ADMIN, Role.TECHNICIAN)]
WEBHOOK = re.compile(r"^(https?://\S+)?$")


def sees_all(caller: Principal) -> bool:
    """Admins and technicians without a school in their token see every school."""
    return caller.role is Role.ADMIN or (caller.role is Role.TECHNICIAN and caller.school is None)


def sees(caller: Principal, school: str) -> bool:
    """Whether the caller may see ``school``'s devices and alerts."""
    return sees_all(caller) or (caller.school is not None and caller.school == school)


def _school_filter(caller: Principal, school: str | None) -> str | None:
    """The school to list: the one asked for (403 if not the caller's), else all they see."""
    if school is not None:
        forbid_unless(sees(caller, school))
    return school


def db(request: Request) -> Iterator[Session]:
    """A session in a transaction, committed when the route returns; AlertError -> HTTP."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        try:
            with session.begin():
                yield session
        except AlertError as error:
            raise HTTPException(error.status, {"vi": error.vi, "en": error.en}) from None


Db = Annotated[Session, Depends(db, scope="function")]


def _monitor(request: Request) -> HealthMonitor:
    return request.app.state.health  # type: ignore[no-any-return]


@router.get("/edges")
def list_edges(request: Request, caller: Reader, school: SchoolFilter = None,
               room: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
               state: Literal["online", "offline", "unknown"] | None = None) -> dict[str, Any]:
    """Edges with their health, from the live state: filter by school, room, state."""
    school = _school_filter(caller, school)
    edges, devices = request.app.state.live.health_snapshot()
    return {"edges": select_edges(edges, devices, visible=lambda s: sees(caller, s),
                                  school=school, room=room, state=state,
                                  alerts=_monitor(request).tracker.counts_by_edge())}


@router.get("/edges/{school}/{edge}")
def get_edge(school: SchoolId, edge: EdgeId, request: Request, session: Db,
             caller: Reader) -> dict[str, Any]:
    """One edge: its figures, every device with its health and latest values, its hardware
    and its alerts (unresolved ones and the last resolved)."""
    forbid_unless(sees(caller, school))
    edges, devices = request.app.state.live.health_snapshot()
    found = next((e for e in edges if e.school == school and e.edge == edge), None)
    if found is None:
        raise HTTPException(404, {"vi": f"Không có hộp edge {school}/{edge}",
                                  "en": f"No edge {school}/{edge}"})
    inventory = session.scalars(select(InventoryRow).where(
        InventoryRow.school == school, InventoryRow.edge == edge)
        .order_by(InventoryRow.device, InventoryRow.asset_tag)).all()
    alerts = session.scalars(select(AlertRow).where(AlertRow.school == school,
                                                    AlertRow.edge == edge)
                             .order_by(AlertRow.id.desc()).limit(50)).all()
    mine = [d for d in devices if d.school == school and d.edge == edge]
    open_here = _monitor(request).tracker.counts_by_edge().get((school, edge), 0)
    return edge_detail(found, mine, open_here, inventory, [alert_out(a) for a in alerts])


@router.get("/inventory")
def list_inventory(session: Db, caller: Reader, school: SchoolFilter = None,
                   edge: Annotated[str | None, Query(pattern=IDENT)] = None) -> dict[str, Any]:
    """The hardware inventory (of one school, one edge)."""
    school = _school_filter(caller, school)
    query = select(InventoryRow).order_by(InventoryRow.school, InventoryRow.edge,
                                          InventoryRow.device, InventoryRow.asset_tag)
    if school is not None:
        query = query.where(InventoryRow.school == school)
    elif not sees_all(caller):  # their school only (none, without a school in the token)
        query = query.where(InventoryRow.school == caller.school)
    if edge is not None:
        query = query.where(InventoryRow.edge == edge)
    return {"items": [inventory_out(r) for r in session.scalars(query)]}


@router.post("/inventory/import")
def import_upload(file: UploadFile, request: Request, caller: Writer) -> dict[str, Any]:
    """Import a CSV (or XLSX) of boxes and devices; answers the report (counts and the rows
    rejected, with reasons in Vietnamese and English)."""
    data = file.file.read(MAX_FILE_BYTES + 1)
    try:
        report = import_inventory(request.app.state.engine, data, file.filename or "upload",
                                  may_write=lambda school: sees(caller, school))
    except ImportFileError as error:
        raise HTTPException(error.status, {"vi": error.vi, "en": error.en}) from None
    if report.created or report.updated:
        _monitor(request).inventory_changed()
    return report.model_dump()


@router.get("/alerts")
def list_alerts(session: Db, caller: Reader, school: SchoolFilter = None,
                state: Literal["open", "acked", "resolved", "active"] | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    """Alerts, newest first; ``active`` means open or acknowledged."""
    school = _school_filter(caller, school)
    query = select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)
    if school is not None:
        query = query.where(AlertRow.school == school)
    elif not sees_all(caller):
        query = query.where(AlertRow.school == caller.school)
    if state == "active":
        query = query.where(AlertRow.state != RESOLVED)
    elif state is not None:
        query = query.where(AlertRow.state == state)
    return {"alerts": [alert_out(a) for a in session.scalars(query)]}


@router.post("/alerts/{alert_id}/ack")
def ack_alert(alert_id: Annotated[int, Path(ge=1)], request: Request, session: Db,
              caller: Writer, after: BackgroundTasks) -> dict[str, Any]:
    """Acknowledge an alert (who and when are kept); 409 once it has resolved."""
    school = session.scalar(select(AlertRow.school).where(AlertRow.id == alert_id))
    if school is None:
        raise HTTPException(404, {"vi": f"Không có cảnh báo {alert_id}",
                                  "en": f"No alert {alert_id}"})
    forbid_unless(sees(caller, school))
    acked = acknowledge(session, alert_id, caller.subject, datetime.now(UTC))
    session.flush()
    after.add_task(_monitor(request).sender.wake)  # once committed, so the sender sees it
    return alert_out(acked)


@router.get("/schools/{school}/rules")
def get_rules(school: SchoolId, session: Db, caller: Reader) -> dict[str, Any]:
    """A school's alert rules: effective values, its own settings, the defaults, the webhook."""
    forbid_unless(sees(caller, school))
    return get_school_rules(session, school).as_dict(school)


def _invalid(errors: list[dict[str, str]]) -> HTTPException:
    first = errors[0]
    return HTTPException(422, {"vi": f"Thiết lập không hợp lệ: {first['vi']}",
                               "en": f"Invalid setting: {first['en']}",
                               "field": first["field"], "errors": errors})


@router.put("/schools/{school}/rules")
def put_rules(school: SchoolId, request: Request, session: Db, caller: Writer,
              body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Set a school's alert rules: the settings given replace the school's earlier ones (the
    rest take the defaults); ``webhook_url`` ("" removes it) receives the alert events."""
    forbid_unless(sees(caller, school))
    overrides = dict(body)
    webhook = overrides.pop("webhook_url", None)
    if webhook is not None and (not isinstance(webhook, str) or len(webhook) > 500
                                or not WEBHOOK.fullmatch(webhook)):
        raise _invalid([{"field": "webhook_url",
                         "vi": "webhook_url: phải là địa chỉ http(s):// (tối đa 500 ký tự)",
                         "en": "webhook_url: must be an http(s):// URL (at most 500)"}])
    try:
        saved = put_school_rules(session, school, overrides, webhook, caller.subject)
    except ValidationError as error:
        raise _invalid(describe_errors(error)) from None
    session.flush()
    _monitor(request).set_school_rules(school, saved)
    return saved.as_dict(school)
