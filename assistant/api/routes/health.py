"""Liveness and readiness probes.

``/healthz`` says the process answers (liveness: never touches the database). ``/readyz`` says it can serve:
the database answers and the knowledge base is loaded, and Redis answers a PING when ``events_url`` or
``rate_limit_url`` names it. A silent database or Redis must not hang the probe (a load balancer would then
hang too), so the checks run in threads and the answer comes within ``READY_TIMEOUT_SECONDS`` either way.

Redis carrying the events is required (without it alerts and live messages do not reach the other nodes);
Redis used only for rate limits is reported but does not make the node unready, because the limiter counts in
the database while Redis is away (``assistant/auth/ratelimit_redis.py``).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from assistant.api.deps import ContextDep
from assistant.context import AppContext

READY_TIMEOUT_SECONDS = 1.5  # under the 2 s a probe may wait, leaving room for the request itself
# Checks stuck on a silent database keep their thread; a small pool bounds how many can pile up (later probes
# then wait in its queue and time out the same way).
_checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="readyz")
_redis_checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="readyz-redis")
REDIS_PING_TIMEOUT_SECONDS = 1.0  # connect and answer; under READY_TIMEOUT_SECONDS
REDIS_SCHEMES = ("redis://", "rediss://")
RATE_LIMIT_FALLBACK = "ok (Redis 不通，限流暂用数据库计数)"

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _check(context: AppContext) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        with context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"  # no driver text: hosts stay private
    try:
        knowledge = context.kb.current()
        checks["knowledge_base"] = f"ok ({len(knowledge.entries)} entries, revision {knowledge.revision})"
    except Exception as exc:
        checks["knowledge_base"] = f"error: {type(exc).__name__}"
    return checks


@lru_cache(maxsize=4)
def _redis_client(url: str) -> Any:
    import redis  # only installations that use Redis load it

    return redis.Redis.from_url(url, socket_timeout=REDIS_PING_TIMEOUT_SECONDS,
                                socket_connect_timeout=REDIS_PING_TIMEOUT_SECONDS)


def redis_urls(events_url: str, rate_limit_url: str) -> dict[str, str]:
    """Check name → Redis URL, for the settings that name Redis (one PING when both name the same one)."""
    urls: dict[str, str] = {}
    if events_url.strip().lower().startswith(REDIS_SCHEMES):
        urls["redis_events"] = events_url.strip()
    if rate_limit_url.strip().lower().startswith(REDIS_SCHEMES):
        urls["redis_rate_limit"] = rate_limit_url.strip()
    return urls


def _check_redis(urls: dict[str, str]) -> dict[str, str]:
    answers: dict[str, str] = {}
    checks: dict[str, str] = {}
    for name, url in urls.items():
        if url not in answers:
            try:
                _redis_client(url).ping()
                answers[url] = "ok"
            except Exception as exc:
                answers[url] = f"error: {type(exc).__name__}"  # never the URL: it may hold a password
        checks[name] = answers[url]
    if checks.get("redis_rate_limit", "ok") != "ok":
        checks["redis_rate_limit"] = RATE_LIMIT_FALLBACK
    return checks


async def _within(pool: ThreadPoolExecutor, check: Any, argument: Any, names: list[str]) -> dict[str, str]:
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(loop.run_in_executor(pool, check, argument), READY_TIMEOUT_SECONDS)
    except TimeoutError:
        return {name: f"error: no answer within {READY_TIMEOUT_SECONDS} s" for name in names}


@router.get("/readyz")
async def readyz(context: ContextDep) -> JSONResponse:
    urls = redis_urls(context.settings.events_url, context.settings.rate_limit_url)
    database, redis_checks = await asyncio.gather(
        _within(_checks, _check, context, ["database"]),
        _within(_redis_checks, _check_redis, urls, list(urls)) if urls else asyncio.sleep(0, {}))
    checks = {**database, **redis_checks}
    if redis_checks.get("redis_rate_limit", "").startswith("error"):  # a timeout: the limiter falls back too
        checks["redis_rate_limit"] = RATE_LIMIT_FALLBACK
    ready = all(v.startswith("ok") for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503, headers={"Cache-Control": "no-store"})
