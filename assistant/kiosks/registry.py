"""Registering kiosks, finding one by its device token, recording heartbeats, the configuration it pulls.

The token is ``kq_`` + 32 random bytes (URL-safe base64), printed once by ``shequ kiosks register``; the table
keeps its SHA-256 only, so a copy of the database lets nobody act as a kiosk. A token that is unknown or belongs
to a retired kiosk (``active`` false) finds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.clock import as_utc, now_utc
from assistant.communities.models import Community
from assistant.kiosks import KioskError
from assistant.kiosks.models import Kiosk
from assistant.storage.models import AuditLog

TOKEN_PREFIX = "kq_"
TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 200  # anything longer is not ours: refused before hashing
NAME_MAX_CHARS = 80
VERSION_MAX_CHARS = 40
MAX_UPTIME_SECONDS = 10 * 365 * 24 * 3600

# What each device may report; anything else is stored as "unknown" (a newer kiosk, a typo) rather than refused,
# so a heartbeat is never lost over one odd field.
HEALTH_VALUES: dict[str, frozenset[str]] = {
    "printer": frozenset({"ok", "low_paper", "no_paper", "offline", "none"}),
    "reader": frozenset({"ok", "offline", "none"}),
    "microphone": frozenset({"ok", "offline", "none"}),
}
UNKNOWN = "unknown"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class Registration:
    kiosk_id: int
    name: str
    community_code: str
    token: str  # shown once; never stored


def register_kiosk(db: Session, community_code: str, name: str, now: dt.datetime | None = None, *,
                   actor: str = "cli") -> Registration:
    """A new kiosk of an active community (its name new within that community), audited as ``actor``."""
    code, name = community_code.strip(), name.strip()
    if not name or len(name) > NAME_MAX_CHARS:
        raise KioskError(f"自助机名称不能为空，也不能超过 {NAME_MAX_CHARS} 个字")
    community = db.scalar(select(Community).where(Community.code == code))
    if community is None or not community.active:
        raise KioskError(f"没有编号为 {code} 的社区（先用 shequ communities import 导入）")
    taken = db.scalar(select(Kiosk.id).where(Kiosk.community_code == code, Kiosk.name == name,
                                             Kiosk.active.is_(True)))
    if taken is not None:
        raise KioskError(f"社区 {code} 已有名为「{name}」的自助机")
    token = new_token()
    kiosk = Kiosk(name=name, community_code=code, token_hash=hash_token(token), created_at=as_utc(now) or now_utc(),
                  version="", health={}, active=True, open_alerts={})
    db.add(kiosk)
    db.flush()
    db.add(AuditLog(actor=actor, action="kiosk.register", target=f"kiosk:{kiosk.id}", detail=f"{code} {name}"))
    return Registration(kiosk.id, name, code, token)


def find_by_token(db: Session, token: str | None) -> Kiosk | None:
    """The active kiosk this token belongs to, or None."""
    if not token or len(token) > MAX_TOKEN_CHARS or not token.startswith(TOKEN_PREFIX):
        return None
    return db.scalar(select(Kiosk).where(Kiosk.token_hash == hash_token(token), Kiosk.active.is_(True)))


def bearer_token(authorization: str | None) -> str | None:
    """``Authorization: Bearer TOKEN`` → TOKEN (None when absent or another scheme)."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def clean_health(health: Any) -> dict[str, str]:
    """The reported health reduced to the known devices and values."""
    reported = health if isinstance(health, dict) else {}
    cleaned: dict[str, str] = {}
    for device, allowed in HEALTH_VALUES.items():
        value = reported.get(device)
        if value is None:
            continue
        cleaned[device] = value if isinstance(value, str) and value in allowed else UNKNOWN
    return cleaned


def record_heartbeat(db: Session, kiosk: Kiosk, version: str, health: Any, uptime: float | None,
                     now: dt.datetime | None = None) -> None:
    kiosk.last_seen_at = as_utc(now) or now_utc()
    kiosk.version = (version or "").strip()[:VERSION_MAX_CHARS]
    kiosk.health = clean_health(health)  # a new dict: the JSON column notices reassignment, not mutation
    kiosk.uptime_seconds = None if uptime is None else int(min(max(uptime, 0), MAX_UPTIME_SECONDS))


def kiosk_config(kiosk: Kiosk, community_name: str, settings: Any) -> dict[str, Any]:
    """What a kiosk is told to use: its community (its chat turns belong to it), and a few settings."""
    return {
        "kiosk": {"id": kiosk.id, "name": kiosk.name},
        "community": {"code": kiosk.community_code, "name": community_name},
        "settings": {
            "heartbeat_seconds": settings.kiosk_heartbeat_seconds,
            "idle_seconds": settings.kiosk_idle_seconds,
            "asr_language": settings.kiosk_asr_language,
        },
    }


def community_name(db: Session, code: str) -> str:
    return db.scalar(select(Community.name).where(Community.code == code)) or code


def list_kiosks(db: Session, community_code: str | None = None) -> list[Kiosk]:
    """Active kiosks (of one community, or of the city when ``community_code`` is None), by community, name."""
    query = select(Kiosk).where(Kiosk.active.is_(True))
    if community_code is not None:
        query = query.where(Kiosk.community_code == community_code)
    return list(db.scalars(query.order_by(Kiosk.community_code, Kiosk.name, Kiosk.id)))
