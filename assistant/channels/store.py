"""Dedupe of inbound messages, numbered menus, and the session id of a WeChat user."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from assistant.channels.config import AccountConfig
from assistant.channels.models import ChannelInbound, ChannelMenu
from assistant.storage.db import session_scope
from assistant.storage.models import utcnow

log = logging.getLogger(__name__)

# An old menu is forgotten: "1" a day later is more likely a new question than a pick.
MENU_TTL = dt.timedelta(hours=2)
# WeChat retries within about 15 seconds; a day of keys is plenty.
INBOUND_TTL = dt.timedelta(days=1)
_PREFIX = {"wechat": "wx-", "wecom": "wc-"}


def session_id_for(account: AccountConfig, user_id: str) -> str:
    """A stable chat-session id per user that does not reveal the user. Keyed (HMAC with the callback
    token) because WeCom UserIDs are often guessable (pinyin names, phone numbers)."""
    key = account.token.get_secret_value().encode("utf-8")
    digest = hmac.new(key, f"{account.kind}:{account.app_id}:{user_id}".encode(), hashlib.sha256).hexdigest()
    return _PREFIX[account.kind] + digest[:40]


@dataclass(frozen=True)
class Claim:
    inbound_id: int
    new: bool
    status: str
    reply_text: str | None


def claim_inbound(factory: sessionmaker[Session], channel: str, dedupe_key: str, session_id: str,
                  msg_type: str) -> Claim:
    """Records a message once; a retry of the same message gets ``new=False`` and what was answered."""
    try:
        with session_scope(factory) as db:
            row = ChannelInbound(channel=channel, dedupe_key=dedupe_key, session_id=session_id,
                                 msg_type=msg_type[:30], status="processing")
            db.add(row)
            db.flush()
            return Claim(row.id, True, row.status, None)
    except IntegrityError:
        pass
    with session_scope(factory) as db:
        existing = db.scalar(select(ChannelInbound).where(ChannelInbound.channel == channel,
                                                          ChannelInbound.dedupe_key == dedupe_key))
        if existing is None:  # pruned between the two statements: treat as answered silently
            return Claim(0, False, "ignored", None)
        return Claim(existing.id, False, existing.status, existing.reply_text)


def finish_inbound(factory: sessionmaker[Session], inbound_id: int, status: str,
                   reply_text: str | None = None) -> None:
    with session_scope(factory) as db:
        db.execute(update(ChannelInbound).where(ChannelInbound.id == inbound_id)
                   .values(status=status, reply_text=reply_text))


def prune_inbound(factory: sessionmaker[Session], now: dt.datetime | None = None) -> int:
    cutoff = (now or utcnow()) - INBOUND_TTL
    with session_scope(factory) as db:
        return db.execute(delete(ChannelInbound).where(ChannelInbound.received_at < cutoff)).rowcount or 0


def load_menu(factory: sessionmaker[Session], session_id: str) -> list[str]:
    with session_scope(factory) as db:
        menu = db.get(ChannelMenu, session_id)
        if menu is None or not menu.payloads:
            return []
        updated = menu.updated_at if menu.updated_at.tzinfo else menu.updated_at.replace(tzinfo=dt.UTC)
        if utcnow() - updated > MENU_TTL:
            return []
        return [str(p) for p in menu.payloads]


def save_menu(factory: sessionmaker[Session], session_id: str, channel: str, payloads: list[str]) -> None:
    for _attempt in range(2):
        try:
            with session_scope(factory) as db:
                menu = db.get(ChannelMenu, session_id)
                if menu is None:
                    db.add(ChannelMenu(session_id=session_id, channel=channel, payloads=payloads))
                else:
                    menu.payloads = payloads
                    menu.updated_at = utcnow()
            return
        except IntegrityError:
            continue  # another worker inserted the row first: update it on the second pass
