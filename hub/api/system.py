"""``/healthz``, ``/metrics`` and the device registry listing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hub.auth import Principal, Role, forbid_unless, require
from hub.db.queries import list_edges

router = APIRouter()


@router.get("/healthz", tags=["system"])
def healthz(request: Request) -> JSONResponse:
    """200 while the MQTT link is up, 503 when it is down; says how the stores are."""
    state = request.app.state
    mqtt_up = state.ingest.link.connected
    if state.ingest.writer is None:
        influx = "none"
    else:
        influx = "failing" if state.ingest.telemetry.failing else "ok"
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        db = "ok"
    except SQLAlchemyError:
        db = "down"
    body = {"mqtt": mqtt_up, "influx": influx, "db": db}
    return JSONResponse(body, status_code=200 if mqtt_up else 503)


@router.get("/metrics", tags=["system"])
def metrics(request: Request) -> Response:
    """Prometheus text exposition of this hub's metrics."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/devices", tags=["devices"])
def devices(
    request: Request,
    caller: Annotated[Principal, require(Role.ADMIN, Role.STAFF, Role.TECHNICIAN)],
    school: str | None = Query(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$"),
    state: Literal["online", "offline", "unknown"] | None = None,
) -> dict[str, Any]:
    """Edges with their devices and state, from the registry (a school's staff and technicians
    see their own school's: they name it, or it is taken from their token)."""
    if caller.role is not Role.ADMIN:
        # Without a school in the token only a city-wide technician sees every school.
        school = school or caller.school
        forbid_unless(school == caller.school if caller.school is not None
                      else caller.role is Role.TECHNICIAN)
    return {"edges": list_edges(request.app.state.engine, school=school, state=state)}
