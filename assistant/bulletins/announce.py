"""What a new, changed or ended warning sets off: staff alerts, the ``bulletin.changed`` event, WeChat pushes.

Called by ``warnings.ingest`` (and ``cancel_warning`` / ``expire_warnings``) inside the caller's transaction:
alerts are rows of that transaction, and every event goes out only after it commits
(``publish_after_commit``), so no kiosk fetches a board that does not have the warning yet.

Staff alerts: one per covered community (each community's staff see their own), kind ``WARNING_ALERT_KIND``,
on the pseudo-conversation ``warning:<id>``, for a new or updated warning at or above
``Settings.warning_min_level``. They are never escalated (``assistant.handoff.alerts.escalate_overdue``):
a weather warning is the whole city's news, not one resident waiting for help.
"""

from __future__ import annotations

import datetime as dt
import logging
import weakref
from collections.abc import Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from assistant.bulletins import WARNING_ALERT_KIND, levels
from assistant.bulletins.models import EarlyWarning
from assistant.events.after_commit import publish_after_commit
from assistant.events.bus import BULLETIN_CHANGED, EventBus
from assistant.handoff.alerts import raise_alert
from pii import mask_text

log = logging.getLogger(__name__)

ALERT_CHANNEL = "system"
RAISING_ACTIONS = ("new", "updated")
ALL_COMMUNITIES = "*"  # in ``changed``: a city-wide notice changed every community's board
MAX_ALERTS_PER_WARNING = 500  # a city has a few hundred communities; more is a runaway area, not a warning
_PENDING_EVENT = "shequ.bulletin_changed"
_PENDING_LOCAL = "shequ.bulletin_local"

# The boards of this process (``board.BulletinBoard`` registers itself): cleared after a change commits here,
# so the next poll on this node shows it at once; other nodes' caches expire within BOARD_CACHE_SECONDS.
LOCAL_BOARDS: weakref.WeakSet[Any] = weakref.WeakSet()


def _invalidate_local(db: Session) -> None:
    codes: set[str] = db.info.pop(_PENDING_LOCAL, set())
    for board in list(LOCAL_BOARDS):
        if ALL_COMMUNITIES in codes:
            board.invalidate()
        else:
            for code in codes:
                board.invalidate(code)


def session_id_of(warning_id: int) -> str:
    return f"warning:{warning_id}"


def alert_text(warning: EarlyWarning) -> str:
    """The staff alert's text: the headline, or 暴雨橙色预警 when the issuer wrote none (masked anyway)."""
    text = warning.headline or levels.title(warning.event, warning.level)
    if warning.assembly_point:
        text = f"{text}（集合地点：{warning.assembly_point}）"
    return mask_text(text)


def changed(db: Session, bus: EventBus, communities: Iterable[str]) -> None:
    """``bulletin.changed`` naming the communities whose board changed, after the commit (merged per
    transaction: several notices or warnings changed at once send one event). Data:
    ``{"communities": [codes], "all": bool}`` — ``all`` when a city-wide notice changed (``ALL_COMMUNITIES``
    passed), and then every board changed: a listener refreshes when ``all or its code in communities``."""
    codes = set(communities)
    db.info.setdefault(_PENDING_EVENT, set()).update(codes)
    db.info.setdefault(_PENDING_LOCAL, set()).update(codes)
    if not event.contains(db, "after_commit", _invalidate_local):
        event.listen(db, "after_commit", _invalidate_local)

    def data(session: Session) -> dict[str, Any] | None:
        shown = session.info.pop(_PENDING_EVENT, set())
        if not shown:
            return None
        return {"communities": sorted(shown - {ALL_COMMUNITIES}), "all": ALL_COMMUNITIES in shown}

    publish_after_commit(db, bus, BULLETIN_CHANGED, data, key=BULLETIN_CHANGED)


def announce(db: Session, bus: EventBus, warning: EarlyWarning, communities: Iterable[str], action: str,
             settings: Any, now: dt.datetime | None = None) -> list[int]:
    """Alerts (for a new or updated warning at or above the configured level) and the change event; returns
    the ids of the alerts raised."""
    codes = sorted(set(communities))
    raised: list[int] = []
    if action in RAISING_ACTIONS and levels.at_or_above(warning.level, settings.warning_min_level):
        text = alert_text(warning)
        for code in codes[:MAX_ALERTS_PER_WARNING]:
            alert = raise_alert(db, bus, session_id_of(warning.id), ALERT_CHANNEL, WARNING_ALERT_KIND, text,
                                now, community=code)
            raised.append(alert.id)
        if len(codes) > MAX_ALERTS_PER_WARNING:
            log.warning("warning %s covers %d communities: alerts raised for the first %d", warning.id,
                        len(codes), MAX_ALERTS_PER_WARNING)
    # --- H2 (issue 17, WeChat pushes): the account's subscribers in these communities, through the outbox ---
    if action in RAISING_ACTIONS and levels.at_or_above(warning.level, settings.warning_min_level):
        _push_to_subscribers(db, warning, codes, settings, now)
    # --- end H2 ---
    changed(db, bus, codes)
    log.info("warning %s %s (%s, %d communities, %d alerts)", warning.id, action, warning.level, len(codes),
             len(raised))
    return raised


def _push_to_subscribers(db: Session, warning: EarlyWarning, codes: list[str], settings: Any,
                         now: dt.datetime | None) -> None:
    """(H2) WeChat/WeCom pushes in a SAVEPOINT: a failure there is logged and never loses the warning itself."""
    from assistant.bulletins.board import warning_json
    from assistant.channels.subscribers import enqueue_warning_pushes

    try:
        with db.begin_nested():
            enqueue_warning_pushes(db, settings, None, warning_json(warning, settings), codes, now)
    except Exception as e:
        log.error("warning %s: WeChat pushes not queued: %s", warning.id, type(e).__name__)
