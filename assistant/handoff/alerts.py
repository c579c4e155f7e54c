"""Emergency alerts: raised by the engine, shown at once on every staff page, acknowledged by a person, escalated
when nobody does in time.

- ``raise_alert``: the Alert row and an audit entry in the caller's transaction; ``alert.raised`` is published
  only after that transaction commits, so no page shows an alert that is not stored.
- ``acknowledge``: a conditional UPDATE, so of two staff clicking at once one gets it and the other is told
  who; the resident's conversation gets a system message saying that a person has the request.
- ``escalate_overdue``: the background loop of every worker calls it; the conditional UPDATE makes it happen
  once per alert whichever worker gets there first. Administrators see it on every page (``alert.escalated``)
  and the department's webhook gets it through the one outbox.

Events carry only what the staff pages show: the masked text, the kind, the channel and the times.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

import assistant.events.models  # noqa: F401  # maps Alert.escalated_at and OutboxMessage.alert_id
from assistant.bulletins import WARNING_ALERT_KIND
from assistant.clock import CHINA, as_utc, china_seconds, now_utc
from assistant.communities.scope import COMMUNITY_FIELD, scope, visible
from assistant.events.after_commit import publish_after_commit
from assistant.events.bus import ALERT_ACKNOWLEDGED, ALERT_ESCALATED, ALERT_RAISED, EventBus
from assistant.handoff import conversation
from assistant.handoff.outbox import enqueue_alert
from assistant.kiosks import KIOSK_ALERT_KIND
from assistant.labels import zh
from assistant.storage.models import Alert, AuditLog, ChatSession

log = logging.getLogger(__name__)

ACKNOWLEDGED_MESSAGE = "社区工作人员已收到您的求助，正在处理。"
ESCALATED_NOTE = "已超时未处理，已通知管理员和部门"
MAX_TEXT = 1000
# A broken kiosk and a disaster warning are for staff to see, not a resident waiting: never escalated.
NEVER_ESCALATED = (KIOSK_ALERT_KIND, WARNING_ALERT_KIND)
OPEN_LIMIT = 50  # more open alerts than this at once is a disaster the page cannot fix by listing them


def view(alert: Alert) -> dict[str, Any]:
    """An alert as the staff pages show it (the text is masked before it is stored)."""
    created = as_utc(alert.created_at)
    acknowledged = as_utc(alert.acknowledged_at)
    escalated = as_utc(getattr(alert, "escalated_at", None))
    return {
        "id": alert.id, "kind": alert.kind, "kind_label": zh(alert.kind, "alert_kind"),
        "channel": alert.channel, "channel_label": zh(alert.channel, "channel"), "text": alert.text,
        "at": created.astimezone(CHINA).isoformat(timespec="seconds") if created else None,
        "at_text": china_seconds(created),
        "acknowledged_by": alert.acknowledged_by, "acknowledged_at_text": china_seconds(acknowledged),
        "escalated": escalated is not None, "escalated_note": ESCALATED_NOTE if escalated else "",
        # Who may receive it: that community's staff and city staff (assistant.communities.scope).
        COMMUNITY_FIELD: alert.community_code,
        # Alerts of one disaster warning (one per community it covers) share a group: pages show them as one.
        "group": alert.session_id if alert.kind == WARNING_ALERT_KIND else None,
    }


def raise_alert(db: Session, bus: EventBus, session_id: str, channel: str, kind: str, masked_text: str,
                now: dt.datetime | None = None, community: str | None = None) -> Alert:
    """Stores an alert (``masked_text`` must already be masked) and announces it once it is committed.

    ``community``: the conversation's, when its row may not be stored yet (a first message); else the
    conversation's is taken when the alert is flushed (``assistant.communities.directory.stamp_community``).
    """
    alert = Alert(session_id=session_id, channel=channel, kind=kind or "emergency", text=masked_text[:MAX_TEXT],
                  created_at=as_utc(now) or now_utc(), community_code=community)
    db.add(alert)
    db.flush()
    db.add(AuditLog(actor="system", action="alert.raise", target=f"alert:{alert.id}", detail=alert.kind))
    publish_after_commit(db, bus, ALERT_RAISED, view(alert))
    log.warning("emergency alert %s raised (%s, %s)", alert.id, alert.kind, channel)
    return alert


@dataclass(frozen=True)
class Acknowledgement:
    ok: bool  # True: this user has it now; False: see ``message``
    message: str  # what to tell the staff member, in Chinese
    alert: dict[str, Any] | None = None


def acknowledge(db: Session, bus: EventBus, alert_id: int, user: str,
                now: dt.datetime | None = None, who: object = None) -> Acknowledgement:
    """``who`` (the staff user) may acknowledge only their community's alerts; others are "not found"."""
    now = as_utc(now) or now_utc()
    found = db.get(Alert, alert_id)
    if found is None or not visible(found, who):
        return Acknowledgement(False, "没有这条紧急求助。")
    taken = db.execute(update(Alert).where(Alert.id == alert_id, Alert.acknowledged_by.is_(None))
                       .values(acknowledged_by=user, acknowledged_at=now))
    alert = db.get(Alert, alert_id)
    if alert is None:
        return Acknowledgement(False, "没有这条紧急求助。")
    db.refresh(alert)
    if taken.rowcount != 1:
        who = alert.acknowledged_by or "其他工作人员"
        return Acknowledgement(False, f"{who}已在{china_seconds(alert.acknowledged_at)}处理这条求助。", view(alert))
    db.add(AuditLog(actor=user, action="alert.acknowledge", target=f"alert:{alert.id}", detail=alert.kind))
    chat = db.get(ChatSession, alert.session_id)
    if chat is not None:
        conversation.post(db, chat, "system", ACKNOWLEDGED_MESSAGE, now)
    shown = view(alert)
    publish_after_commit(db, bus, ALERT_ACKNOWLEDGED, shown)
    log.info("alert %s acknowledged", alert.id)
    return Acknowledgement(True, "已确认，由您处理。请尽快联系居民。", shown)


def escalate_overdue(db: Session, bus: EventBus, now: dt.datetime, after_seconds: float,
                     department: str = "社区") -> list[int]:
    """Escalates every alert unacknowledged for ``after_seconds``; returns the ids this call escalated."""
    now = as_utc(now) or now_utc()  # SQLite compares stored UTC text: the bound value must be UTC too
    cutoff = now - dt.timedelta(seconds=max(after_seconds, 0))
    overdue = list(db.scalars(select(Alert.id).where(Alert.acknowledged_by.is_(None), Alert.escalated_at.is_(None), Alert.kind.not_in(NEVER_ESCALATED),
                                                     Alert.created_at <= cutoff).order_by(Alert.id).limit(100)))
    escalated: list[int] = []
    for alert_id in overdue:
        # Conditional: another worker, or an acknowledgement a moment ago, may have got there first.
        result = db.execute(update(Alert).where(Alert.id == alert_id, Alert.acknowledged_by.is_(None),
                                                Alert.escalated_at.is_(None)).values(escalated_at=now))
        if result.rowcount != 1:
            continue
        alert = db.get(Alert, alert_id)
        if alert is None:
            continue
        db.refresh(alert)
        db.add(AuditLog(actor="system", action="alert.escalate", target=f"alert:{alert.id}",
                        detail=f"{alert.kind}，{int(after_seconds)}秒内无人确认"))
        enqueue_alert(db, alert, department, now)
        publish_after_commit(db, bus, ALERT_ESCALATED, view(alert))
        log.warning("alert %s not acknowledged in %ss: escalated", alert.id, int(after_seconds))
        escalated.append(alert.id)
    return escalated


def open_alerts(db: Session, limit: int = OPEN_LIMIT, who: object = None) -> list[dict[str, Any]]:
    query = scope(select(Alert).where(Alert.acknowledged_by.is_(None)), Alert, who)
    rows = db.scalars(query.order_by(Alert.id.desc()).limit(limit))
    return [view(a) for a in rows]


def recent_alerts(db: Session, limit: int = 200, who: object = None) -> list[dict[str, Any]]:
    """Open alerts first (newest first), then the handled ones (newest first); ``who``'s community only."""
    rows = list(db.scalars(scope(select(Alert), Alert, who).order_by(Alert.id.desc()).limit(limit)))
    rows.sort(key=lambda a: a.acknowledged_by is not None)  # stable: keeps newest first within each group
    return [view(a) for a in rows]
