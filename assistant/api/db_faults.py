"""Telling a database outage and unstorable characters apart from real bugs, and logging an outage in one line."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from sqlalchemy import exc as sa_exc
from starlette.types import Scope

log = logging.getLogger("assistant.api.database")

# The database refused, dropped or timed out (connect, pool or statement): the request may succeed later.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, sa_exc.DisconnectionError,
)
MAX_CHAIN = 8  # how far along __cause__ / __context__ / .orig an error is followed
MAX_REASON_CHARS = 160


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < MAX_CHAIN:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)


def is_database_outage(exc: BaseException) -> bool:
    for error in _chain(exc):
        if isinstance(error, OUTAGE_ERRORS):
            return True
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return True
    return False


def has_bad_characters_cause(exc: BaseException) -> bool:
    """A lone surrogate that could not be encoded, or a NUL that PostgreSQL refused to store."""
    for error in _chain(exc):
        if isinstance(error, UnicodeEncodeError) and "surrogate" in str(error.reason):
            return True
        if isinstance(error, ValueError | sa_exc.DataError) and "NUL" in str(error) and "0x00" in str(error):
            return True
    return False


def reason(exc: BaseException) -> str:
    """Class and first line of the driver's message: "connection refused", "statement timeout" — no SQL."""
    orig = getattr(exc, "orig", None)
    inner = orig if isinstance(orig, BaseException) else exc
    first = (str(inner).strip().splitlines() or [""])[0][:MAX_REASON_CHARS]
    return f"{type(exc).__name__}/{type(inner).__name__}: {first}"


def route_of(scope: Scope) -> str:
    """The route's template (``/sessions/{session_id}/messages``), so ids and tokens in paths stay out of logs."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    return "/" + str(scope.get("path", "")).lstrip("/").split("/", 1)[0] + "/…"


def log_outage(scope: Scope, exc: BaseException, *, streaming: bool) -> None:
    what = "stream ended" if streaming else "503"
    log.warning("database unavailable: %s %s → %s (%s)", scope.get("method", ""), route_of(scope), what, reason(exc))
