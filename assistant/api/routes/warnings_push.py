"""``POST /api/v1/warnings/cap``: a CAP document pushed by the warning release system, signed.

The sender signs ``"<timestamp>.<body>"`` with HMAC-SHA256 and the shared ``Settings.warning_push_secret``
and sends ``X-Shequ-Timestamp`` (unix seconds) and ``X-Shequ-Signature: sha256=<hex>``. Refusals, checked
cheapest first and each answered in Chinese and English: a missing or malformed header 401; no secret
configured 503; a timestamp more than ``TIMESTAMP_WINDOW_SECONDS`` off or a signature that does not match 401
(all 401s alike); not XML by its Content-Type 415; a body over ``MAX_CAP_BYTES`` 413 (also when chunked); a body
``parse_cap`` refuses 422. Each refusal is one log line without the body.

The timestamp window is the callbacks' (``channels.replay.ReplayGuard.check_fresh``). Used signatures are not
stored as nonces: everything a push does is keyed by the alert's (sender, identifier), so a replay inside
the window is a ``duplicate`` by construction (200, nothing changes), which is also what a sender retrying
after a lost answer needs to see.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.requests import ClientDisconnect

from assistant.api.deps import ContextDep
from assistant.api.errors import error_body
from assistant.bulletins import CapError
from assistant.bulletins.cap import MAX_CAP_BYTES, parse_cap
from assistant.channels.replay import ReplayError, ReplayGuard
from assistant.context import AppContext
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)

TIMESTAMP_WINDOW_SECONDS = 300
TIMESTAMP_HEADER = "X-Shequ-Timestamp"
SIGNATURE_HEADER = "X-Shequ-Signature"
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
XML_TYPES = ("application/cap+xml", "application/xml", "text/xml")

router = APIRouter(prefix="/api/v1/warnings", tags=["warnings"])


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The header value a sender puts in ``X-Shequ-Signature`` (also for tests and tools)."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _unauthorised(reason: str) -> HTTPException:
    log.warning("warning push refused: %s", reason)  # the same answer for every reason; only the log says which
    return HTTPException(401, error_body("bad_signature", "签名不正确或已过期", "signature missing, wrong or expired"))


def _signature_headers(request: Request) -> tuple[str, str]:
    timestamp = (request.headers.get(TIMESTAMP_HEADER) or "").strip()
    match = _SIGNATURE.fullmatch((request.headers.get(SIGNATURE_HEADER) or "").strip())
    if not timestamp or match is None:
        raise _unauthorised("missing or malformed signature headers")
    return timestamp, match.group(1).lower()


def _check_fresh(timestamp: str, signature: str) -> None:
    try:
        # The signature itself stands in for the nonce the guard wants: it is unique per timestamp and body.
        ReplayGuard(None, TIMESTAMP_WINDOW_SECONDS).check_fresh(timestamp, signature)  # type: ignore[arg-type]
    except ReplayError as e:
        raise _unauthorised(str(e)) from None


async def _read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_CAP_BYTES:
            log.warning("warning push refused: body over %d bytes", MAX_CAP_BYTES)
            raise HTTPException(413, error_body("too_large", "预警内容太大", "CAP document too large"))
        chunks.append(chunk)
    return b"".join(chunks)


def _ingest(context: AppContext, data: bytes) -> dict[str, Any]:
    from assistant.bulletins import warnings

    alert = parse_cap(data)
    with session_scope(context.sessions) as db:
        result = warnings.ingest(db, context.events, alert, source="cap", settings=context.settings)
    log.info("warning push: %s warning %s (%d communities)%s", result.action, result.warning_id,
             len(result.communities), f": {result.reason}" if result.reason else "")
    return {"action": result.action, "warning_id": result.warning_id, "communities": list(result.communities)}


@router.post("/cap")
async def push_cap(request: Request, context: ContextDep) -> dict[str, Any]:
    """One CAP 1.2 alert in the body; answers what became of it: ``{"action", "warning_id", "communities"}``."""
    # A request without the signature headers is refused before the configuration is looked at: it could
    # not be checked either way, and it tells a client nothing about whether pushes are on.
    timestamp, signature = _signature_headers(request)
    secret = context.settings.warning_push_secret.get_secret_value()
    if not secret:
        log.warning("warning push refused: no SHEQU_WARNING_PUSH_SECRET configured")
        raise HTTPException(503, error_body("push_off", "预警推送没有开通", "warning push is not configured"))
    _check_fresh(timestamp, signature)
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in XML_TYPES:
        log.warning("warning push refused: content type %s", content_type[:40] or "missing")
        raise HTTPException(415, error_body("not_xml", "请用 CAP XML 格式", "use application/cap+xml"))
    try:
        body = await _read_body(request)
    except ClientDisconnect:
        log.info("warning push: the client went away before the body was complete")
        raise HTTPException(400, error_body("incomplete", "内容不完整", "incomplete body")) from None
    expected = sign(secret, timestamp, body).removeprefix("sha256=")
    if not hmac.compare_digest(expected, signature):
        raise _unauthorised("signature does not match")
    try:
        return await asyncio.to_thread(_ingest, context, body)
    except CapError as e:
        log.warning("warning push refused: %s", e)
        raise HTTPException(422, error_body("bad_cap", "预警内容格式不正确", f"not a valid CAP 1.2 alert: {e}")) from None
