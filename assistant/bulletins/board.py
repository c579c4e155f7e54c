"""The read model: a community's current warnings and notices, as kiosks and the web chat get them.

``BulletinBoard.for_community(code)`` is the JSON of ``GET /api/v1/bulletins`` (no personal data). Kiosks poll
it every ``bulletin_poll_seconds`` with ``If-None-Match``, so it is cached per community for
``BOARD_CACHE_SECONDS`` (a poll of every kiosk of a city costs a few queries a second, and a change still shows
within the 10 s the issue asks for); a change committed on this node clears the cache at once
(``announce.changed`` calls ``invalidate``).

``revision`` is the SHA-1 of the canonical JSON of the warnings and notices: it changes exactly when what a
resident sees changes (a warning expiring included), and is the same on every node.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from assistant.bulletins import levels
from assistant.bulletins.announce import LOCAL_BOARDS
from assistant.bulletins.models import EarlyWarning, Notice, WarningCommunity
from assistant.bulletins.notices import audience_label
from assistant.clock import CHINA, as_utc, now_utc
from assistant.communities.scope import default_code
from assistant.storage.db import session_scope

BOARD_CACHE_SECONDS = 1.0
BANNER_MAX_CHARS = 90  # the banner is one or two lines of 30 sp text across the screen
SPEECH_MAX_CHARS = 240  # spoken twice: longer than this and residents stop listening
MAX_WARNINGS = 20
MAX_NOTICES = 50
NOTICE_IMAGE_URL = "/api/v1/notices/{id}/image"  # served by assistant/api/routes/bulletins.py (image_of)


def _iso(value: dt.datetime | None) -> str | None:
    value = as_utc(value)
    return value.astimezone(CHINA).isoformat(timespec="seconds") if value else None


def day_time(value: dt.datetime | None) -> str:
    """12月5日 08:00 (China time)."""
    value = as_utc(value)
    if value is None:
        return ""
    local = value.astimezone(CHINA)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def dates_text(start: dt.datetime, end: dt.datetime) -> str:
    """12月5日 08:00 至 18:00 (same day), else 12月5日 08:00 至 12月6日 18:00."""
    first, last = as_utc(start).astimezone(CHINA), as_utc(end).astimezone(CHINA)  # type: ignore[union-attr]
    until = f"{last:%H:%M}" if first.date() == last.date() else day_time(end)
    return f"{day_time(start)} 至 {until}"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in "。！？!?." else f"{text}。"


def warning_json(row: EarlyWarning, settings: Any) -> dict[str, Any]:
    title = levels.title(row.event, row.level)
    body = row.instruction or row.description or row.headline
    point = f"集合地点：{row.assembly_point}" if row.assembly_point else ""
    expires = day_time(row.expires)
    until = f"（有效至{expires}）" if expires else ""
    banner = _clip("。".join(p.rstrip("。") for p in (body, point) if p), BANNER_MAX_CHARS - len(title) - len(until))
    speech = "".join(_sentence(p) for p in (f"{row.sender_name}发布{title}" if row.sender_name else title,
                                           row.headline if row.headline and not row.instruction else "",
                                           row.instruction, point))
    return {
        "id": row.id, "event": row.event, "level": row.level, "level_label": levels.label(row.level),
        "title": title, "headline": row.headline, "description": row.description, "instruction": row.instruction,
        "area": row.area_desc, "sender_name": row.sender_name, "source": row.source,
        "assembly_point": row.assembly_point, "severity": row.severity, "urgency": row.urgency,
        "banner": levels.at_or_above(row.level, settings.warning_min_level),
        "effective": _iso(row.effective or row.sent), "expires": _iso(row.expires), "expires_text": expires,
        "banner_text": f"{title}：{banner}{until}" if banner else f"{title}{until}",
        "speech": _clip(speech, SPEECH_MAX_CHARS), "colors": levels.colors(row.level),
        "repeat_seconds": int(settings.warning_repeat_seconds),
    }


def notice_json(row: Notice) -> dict[str, Any]:
    return {
        "id": row.id, "title": row.title, "body": row.body, "category": row.category,
        "audience_min_age": row.audience_min_age, "audience_max_age": row.audience_max_age,
        "audience_label": audience_label(row.audience_min_age, row.audience_max_age),
        "valid_from": _iso(row.valid_from), "valid_to": _iso(row.valid_to),
        "dates_text": dates_text(row.valid_from, row.valid_to),
        "image_url": NOTICE_IMAGE_URL.format(id=row.id) if row.image_type else None,
        "published_at": _iso(row.published_at),
    }


def current_warnings(db: Session, code: str, now: dt.datetime) -> list[EarlyWarning]:
    """Active, unexpired warnings covering ``code``: most severe first, then newest."""
    rows = list(db.scalars(
        select(EarlyWarning).join(WarningCommunity, WarningCommunity.warning_id == EarlyWarning.id)
        .where(WarningCommunity.community_code == code, EarlyWarning.status == "active",
               (EarlyWarning.expires.is_(None)) | (EarlyWarning.expires > now))
        .order_by(EarlyWarning.sent.desc(), EarlyWarning.id.desc()).limit(MAX_WARNINGS * 5)))
    rows.sort(key=lambda r: -levels.rank(r.level))  # stable: newest first within a level
    return rows[:MAX_WARNINGS]


def current_notices(db: Session, code: str, now: dt.datetime) -> list[Notice]:
    """Published notices valid now, of ``code`` or the whole city: newest first."""
    return list(db.scalars(
        select(Notice).where(Notice.status == "published", Notice.valid_from <= now, Notice.valid_to >= now,
                             (Notice.community_code == code) | Notice.community_code.is_(None))
        .order_by(Notice.published_at.desc(), Notice.id.desc()).limit(MAX_NOTICES)))


def revision_of(warnings: list[dict[str, Any]], notices: list[dict[str, Any]]) -> str:
    canonical = json.dumps({"warnings": warnings, "notices": notices}, ensure_ascii=False, sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha1(canonical.encode("utf-8"), usedforsecurity=False).hexdigest()  # a content tag


def build(db: Session, code: str, settings: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    """The board of ``code`` read in ``db`` (uncached)."""
    now = as_utc(now) or now_utc()
    warnings = [warning_json(w, settings) for w in current_warnings(db, code, now)]
    notices = [notice_json(n) for n in current_notices(db, code, now)]
    return {"revision": revision_of(warnings, notices), "community": code,
            "poll_seconds": float(settings.bulletin_poll_seconds), "warnings": warnings, "notices": notices}


class BulletinBoard:
    """Each community's board, cached briefly (``AppContext.bulletins``)."""

    def __init__(self, sessions: sessionmaker[Session], settings: Any,
                 cache_seconds: float = BOARD_CACHE_SECONDS) -> None:
        self._sessions = sessions
        self._settings = settings
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        LOCAL_BOARDS.add(self)  # cleared after a change commits on this node (announce.changed)

    def for_community(self, code: str | None, now: dt.datetime | None = None) -> dict[str, Any]:
        """The board of ``code`` (None: the default community). The dict is shared: do not change it."""
        key = code or ""
        if now is None:
            with self._lock:
                hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < self._cache_seconds:
                return hit[1]
        with session_scope(self._sessions) as db:
            board = build(db, code or default_code(db), self._settings, now)
        if now is None:
            with self._lock:
                self._cache[key] = (time.monotonic(), board)
        return board

    def invalidate(self, code: str | None = None) -> None:
        """Forgets the cached board of ``code`` (None: every community's)."""
        with self._lock:
            if code is None:
                self._cache.clear()
            else:
                self._cache.pop(code, None)
                self._cache.pop("", None)  # the default community's board, asked for without a code
