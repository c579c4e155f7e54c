"""Prometheus metrics: ``GET /metrics`` and the few calls that feed it.

What is measured (no label ever carries a resident's text, a session id, an address or a number):

- ``shequ_turns_total{channel, action}`` and ``shequ_turn_seconds{channel}``: every chat turn, recorded by the
  dialogue engine through ``observe_turn`` (kiosk, web, API, WeChat alike);
- ``shequ_http_request_seconds{method, route, status}``: time to the response's first byte, by route
  *template* (``/api/v1/sessions/{session_id}/history``), so ids never become labels; a server-push stream
  counts its start, not its hour of life;
- read from the database at scrape time (``metrics_db_timeout_seconds`` at most; left out when it does not
  answer): ``shequ_outbox_messages{status}`` (pending / failed), ``shequ_handoffs_waiting{status}``,
  ``shequ_kiosks_online`` (from the hook ``set_kiosks_online_source``: 0 until the kiosk fleet plugs in).

Several worker processes (gunicorn, ``shequ serve --workers N``): set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
directory writable by the service before the processes start (deploy/gunicorn.conf.py empties it and marks
dead workers); each scrape then sums all workers of the node. Without it, each process reports its own counts.

Access: only addresses in ``Settings.metrics_allowed_ips`` (default loopback and private networks) get an
answer, the rest 403; behind nginx the client is the one ``client_address`` believes (``trusted_proxies``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.storage.db import session_scope

if TYPE_CHECKING:
    from assistant.context import AppContext

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Labels outside these sets are counted as "other": a label value never comes from what a client sent.
CHANNELS = frozenset({"web", "kiosk", "api", "wechat", "wecom"})
ACTIONS = frozenset({"answer", "clarify", "fallback", "handoff", "emergency", "ticket", "smalltalk"})
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
# A turn takes tens of milliseconds when all is well; seconds mean the database or the model is struggling.
TURN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OUTBOX_STATUSES = ("pending", "failed")  # delivered rows are history, not depth
HANDOFF_STATUS_NAMES = {"排队中": "queued", "接待中": "serving", "留言": "message"}

TURNS = Counter("shequ_turns_total", "Chat turns answered, by channel and action", ["channel", "action"])
TURN_SECONDS = Histogram("shequ_turn_seconds", "Time to answer one chat turn", ["channel"], buckets=TURN_BUCKETS)
HTTP_SECONDS = Histogram("shequ_http_request_seconds", "Time to the first byte of the response, by route template",
                         ["method", "route", "status"], buckets=HTTP_BUCKETS)

# One thread for scrape-time queries: a silent database keeps it, and later scrapes time out behind it.
_queries = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metrics")


def _zero_kiosks(_db: Session) -> int:
    return 0


_kiosks_online: Callable[[Session], int] = _zero_kiosks


def set_kiosks_online_source(source: Callable[[Session], int]) -> None:
    """The kiosk fleet's hook: ``source(db)`` returns how many kiosks count as online now."""
    global _kiosks_online
    _kiosks_online = source


def observe_turn(channel: str, action: str, seconds: float) -> None:
    """Called once per stored turn by the dialogue engine; never raises (metrics must not cost an answer)."""
    try:
        channel = channel if channel in CHANNELS else "other"
        TURNS.labels(channel, action if action in ACTIONS else "other").inc()
        TURN_SECONDS.labels(channel).observe(seconds)
    except Exception as exc:  # pragma: no cover - prometheus_client does not fail on these
        log.warning("turn metric not recorded: %s", type(exc).__name__)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class HttpMetricsMiddleware:
    """Plain ASGI (not BaseHTTPMiddleware), so streamed answers pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observed = False

        def observe(status: int) -> None:
            nonlocal observed
            if observed:
                return
            observed = True
            method = scope.get("method", "GET")
            HTTP_SECONDS.labels(method if method in METHODS else "other", _route_template(scope),
                                f"{status // 100}xx").observe(time.perf_counter() - started)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                observe(int(message.get("status", 500)))
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except Exception:
            observe(500)
            raise


@lru_cache(maxsize=8)
def allowed_networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for item in value.replace(";", ",").split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                log.warning("SHEQU_METRICS_ALLOWED_IPS: %r is not an IP address or network; ignored", item[:60])
    return tuple(networks)


def may_scrape(address: str, allowed: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in allowed_networks(allowed))


def read_database(context: AppContext) -> dict[str, dict[str, float]]:
    """The scrape-time figures, each family left out on its own if its query fails."""
    from assistant.handoff import inbox, outbox  # the handoff package is heavy; only scrapes need it here

    figures: dict[str, dict[str, float]] = {}
    readers: dict[str, Callable[[Session], dict[str, float]]] = {
        "outbox": lambda db: {s: float(outbox.counts(db).get(s, 0)) for s in OUTBOX_STATUSES},
        "handoffs": lambda db: {name: float(inbox.counts(db).get(status, 0))
                                for status, name in HANDOFF_STATUS_NAMES.items()},
        "kiosks": lambda db: {"": float(_kiosks_online(db))},
    }
    for family, reader in readers.items():
        try:
            with session_scope(context.sessions) as db:
                figures[family] = reader(db)
        except Exception as exc:
            log.warning("metrics: %s not read: %s", family, type(exc).__name__)
    return figures


class DatabaseFigures(Collector):
    """Gauges from one database read; computed per scrape, so correct whichever node answers."""

    def __init__(self, figures: dict[str, dict[str, float]]) -> None:
        self.figures = figures

    def collect(self) -> Iterable[Metric]:
        if "outbox" in self.figures:
            family = GaugeMetricFamily("shequ_outbox_messages", "Outbox messages not yet delivered", labels=["status"])
            for status, value in self.figures["outbox"].items():
                family.add_metric([status], value)
            yield family
        if "handoffs" in self.figures:
            family = GaugeMetricFamily("shequ_handoffs_waiting", "Live handoffs not yet closed", labels=["status"])
            for status, value in self.figures["handoffs"].items():
                family.add_metric([status], value)
            yield family
        if "kiosks" in self.figures:
            yield GaugeMetricFamily("shequ_kiosks_online", "Kiosks that reported in recently",
                                    value=self.figures["kiosks"][""])


def exposition(figures: dict[str, dict[str, float]]) -> bytes:
    scraped = CollectorRegistry()
    scraped.register(DatabaseFigures(figures))
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        workers = CollectorRegistry()
        multiprocess.MultiProcessCollector(workers)
        return generate_latest(workers) + generate_latest(scraped)
    return generate_latest(REGISTRY) + generate_latest(scraped)


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    # Imported here: the dialogue engine imports this module for observe_turn and must not pull the API in.
    from assistant.api.errors import error_body
    from assistant.auth.ratelimit import client_address

    context: AppContext = request.app.state.context
    if not may_scrape(client_address(request), context.settings.metrics_allowed_ips):
        return JSONResponse(error_body("forbidden", "无权查看", "metrics are not served to this address"), 403)
    timeout = context.settings.metrics_db_timeout_seconds
    loop = asyncio.get_running_loop()
    try:
        figures = await asyncio.wait_for(loop.run_in_executor(_queries, read_database, context), timeout)
    except TimeoutError:
        log.warning("metrics: the database did not answer within %.1f s", timeout)
        figures = {}
    return Response(exposition(figures), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
