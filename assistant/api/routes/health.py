"""Liveness and readiness probes.

``/healthz`` says the process answers (liveness: never touches the database). ``/readyz`` says it can serve:
the database answers and the knowledge base is loaded. A silent database must not hang the probe (a load
balancer would then hang too), so the checks run in a thread and the answer comes within
``READY_TIMEOUT_SECONDS`` either way.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from assistant.api.deps import ContextDep
from assistant.context import AppContext

READY_TIMEOUT_SECONDS = 1.5  # under the 2 s a probe may wait, leaving room for the request itself
# Checks stuck on a silent database keep their thread; a small pool bounds how many can pile up (later probes
# then wait in its queue and time out the same way).
_checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="readyz")

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


@router.get("/readyz")
async def readyz(context: ContextDep) -> JSONResponse:
    loop = asyncio.get_running_loop()
    try:
        checks = await asyncio.wait_for(loop.run_in_executor(_checks, _check, context), READY_TIMEOUT_SECONDS)
    except TimeoutError:
        checks = {"database": f"error: no answer within {READY_TIMEOUT_SECONDS} s"}
    ready = all(v.startswith("ok") for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503, headers={"Cache-Control": "no-store"})
