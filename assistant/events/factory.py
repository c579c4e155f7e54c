"""Builds the event bus named by ``Settings.events_url``, as printers are chosen by URI: the scheme picks it.

``memory:`` one process only (tests) · ``db:`` the application's database (default; every worker and node
that shares the database shares the events) · ``redis://host:port/db`` or ``rediss://…`` a Redis stream.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from assistant.events.bus import EventBus, MemoryBus

URI_HELP = "memory:、db: 或 redis://主机:端口/库号"


class EventBusConfigError(ValueError):
    """An events URL this module does not know; the message says which ones it does."""


def create_bus(url: str, sessions: sessionmaker[Session] | None = None) -> EventBus:
    scheme, colon, _ = (url or "db:").partition(":")
    scheme = scheme.lower()
    if not colon:
        raise EventBusConfigError(f"事件总线地址 {url!r} 不对，请用 {URI_HELP}")
    if scheme == "memory":
        return MemoryBus()
    if scheme == "db":
        if sessions is None:
            raise EventBusConfigError("db: 事件总线需要数据库")
        from assistant.events.db_bus import DbBus

        return DbBus(sessions)
    if scheme in ("redis", "rediss"):
        from assistant.events.redis_bus import RedisBus

        return RedisBus(url)
    raise EventBusConfigError(f"不认识的事件总线 {scheme!r}，请用 {URI_HELP}")
