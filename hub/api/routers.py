"""Every router the hub serves, one explicit line each."""

from __future__ import annotations

from fastapi import APIRouter


def api_routers() -> list[APIRouter]:
    """The routers, in the order their paths appear in the OpenAPI docs."""
    from hub.api.attendance import router as attendance
    from hub.api.commands import router as commands
    from hub.api.health import router as health
    from hub.api.people import router as people
    from hub.api.reports import router as reports
    from hub.api.system import router as system
    from hub.api.wallet import router as wallet
    from hub.web.console import router as console
    from hub.web.routes import router as web

    return [system, web, console, wallet, people, attendance, reports, commands, health]
