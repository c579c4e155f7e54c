"""The FastAPI application: wiring only (routers, error handlers, startup)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from assistant.api.errors import install_error_handlers
from assistant.api.metrics import HttpMetricsMiddleware, set_kiosks_online_source
from assistant.api.metrics import router as metrics_router
from assistant.api.routes import asr, bulletins, channels, chat, health, rasa_webhook, sessions, web
from assistant.api.routes import events as event_routes
from assistant.api.routes import handoff as handoff_routes
from assistant.api.routes import kiosks as kiosk_routes
from assistant.api.routes import orders as order_routes
from assistant.api.routes import warnings_push as warning_push_routes
from assistant.api.security_headers import SecurityHeadersMiddleware
from assistant.console.wiring import install_console
from assistant.context import AppContext, create_context
from assistant.dialogue.factory import build_engine
from assistant.handoff import worker as handoff_worker
from assistant.kiosks.fleet import online_source
from assistant.logging_setup import configure_logging
from assistant.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, context: AppContext | None = None, *,
               warm_up_speech: bool = False) -> FastAPI:
    """The app. ``warm_up_speech``: load the speech model in the background at start when
    ``Settings.asr_warm_up`` asks for it (the served app does; tests and tools that never listen do not)."""
    settings = settings or (context.settings if context else get_settings())
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = context is None
        ctx = context or create_context(settings)
        app.state.context = ctx
        app.state.engine = build_engine(ctx)
        set_kiosks_online_source(online_source(ctx.settings))  # the /metrics gauge of kiosks online
        # Warm up: load the index and train/load the intent model before the first resident waits.
        app.state.engine.classifier.classify("你好")
        app.state.engine.understanding.prepare(ctx.kb.current())  # the encoder's example sets, embedded once
        if warm_up_speech and ctx.settings.asr_warm_up and ctx.speech.enabled:
            ctx.speech.warm_up()  # the speech model loads in the background; the first recording need not wait
        log.info("ready: %d knowledge-base entries", len(ctx.kb.current().entries))
        watcher = asyncio.create_task(ctx.kb.watch(), name="kb-revision-watch")  # publishes on other nodes
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            if owned:
                ctx.close()

    # The API docs are off unless enabled (SHEQU_API_DOCS): they map every route for whoever asks.
    docs = settings.api_docs
    app = FastAPI(title="社区小助手 shequ", version="0.1.0", lifespan=lifespan,
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
                  openapi_url="/openapi.json" if docs else None,
                  description="Community public-service assistant for Guangxi: chat API, web chat, staff console.")
    install_error_handlers(app)
    app.add_middleware(SecurityHeadersMiddleware)  # CSP, no framing, nosniff, no-store: every page and answer
    app.add_middleware(HttpMetricsMiddleware)  # request latency by route template for /metrics
    app.include_router(chat.router)
    app.include_router(asr.router)  # POST /api/v1/asr: a recorded question in, the text heard out
    app.include_router(rasa_webhook.router)
    app.include_router(health.router)
    app.include_router(metrics_router)  # GET /metrics (Prometheus), private addresses only
    app.include_router(web.router)
    app.include_router(sessions.router)  # a resident's conversation restored after a reload
    app.include_router(bulletins.router)  # notices and warnings for residents' screens (issue 17)
    app.include_router(channels.router)  # WeChat / WeCom callbacks: /channels/...
    app.include_router(warning_push_routes.router)  # POST /api/v1/warnings/cap: signed CAP pushes (issue 17)
    for router in (*handoff_routes.routers, *order_routes.routers):  # live handoff, work orders
        app.include_router(router)
    for router in kiosk_routes.routers:  # the kiosk fleet: /api/v1/kiosk/..., /staff/kiosks
        app.include_router(router)
    app.include_router(handoff_worker.router)  # outbox drain and handoff timeouts in the background
    app.include_router(event_routes.router)  # server push to staff pages: /staff/api/events
    install_console(app)  # staff console: /staff/...
    app.mount("/static", StaticFiles(directory=str(web.WEB_DIR / "static")), name="static")
    return app


def app_factory() -> FastAPI:
    """Entry point for uvicorn/gunicorn workers (``--factory``): each worker builds its own app."""
    return create_app(warm_up_speech=True)
