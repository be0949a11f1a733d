"""The hub's FastAPI app: ``create_app(settings)``; ingest runs inside the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub.api.routers import api_routers
from hub.auth import TokenSigner
from hub.db.engine import make_engine
from hub.db.migrate import upgrade_to_head
from hub.health.monitor import HealthMonitor
from hub.ingest.service import Ingest
from hub.live import LiveState
from hub.metrics import HubMetrics
from hub.services.attendance_notify import WebhookSender
from hub.settings import HubSettings

log = logging.getLogger(__name__)


def create_app(settings: HubSettings) -> FastAPI:
    """A hub app for ``settings``; nothing connects until the app's lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade_to_head, settings.db_url)
        engine = make_engine(settings.db_url)
        metrics = HubMetrics()
        live = LiveState()
        ingest = Ingest(settings, engine=engine, live=live, metrics=metrics)
        app.state.settings, app.state.engine, app.state.metrics = settings, engine, metrics
        app.state.live, app.state.ingest = live, ingest
        notifier = WebhookSender(engine)
        app.state.health = health = HealthMonitor(engine, live)
        await asyncio.to_thread(ingest.start)
        notifier.start()
        await asyncio.to_thread(health.start)
        try:
            yield
        finally:
            await asyncio.to_thread(health.stop)
            notifier.stop()
            await asyncio.to_thread(ingest.stop)
            engine.dispose()

    app = FastAPI(
        title="Smart-school hub",
        description="Device registry, telemetry ingest and live wall / Trung tâm thiết bị",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.tokens = TokenSigner(settings.jwt_secret)
    if app.state.tokens.ephemeral:
        log.warning("SS_JWT_SECRET is not set: API tokens are signed with a per-process secret")
    for router in api_routers():
        app.include_router(router)
    return app
