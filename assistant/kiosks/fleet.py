"""Watching the fleet: alerts for kiosks that went silent or ran out of paper, the online count, the page rows.

``sweep_kiosks`` runs in the background worker (``OrdersWorker.run_once``): a kiosk silent for longer than
``Settings.kiosk_offline_minutes``, or whose last heartbeat said 缺纸, gets one alert (kind ``kiosk``) for its
community's staff; the alert's id is kept on the kiosk (``open_alerts``) so the next sweep does not raise it
again, and the sweep that sees the kiosk well again closes it (acknowledged by 系统). Kiosks are read
``FOR UPDATE SKIP LOCKED`` (PostgreSQL) so two workers sweeping at once never raise the same alert twice.

A kiosk registered but never heard from is being installed: it is listed as 未连接过 and raises nothing.
While a kiosk is offline its paper state is unknown: its paper alert is left as it is.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from assistant.clock import as_utc, china_time, now_utc
from assistant.events.after_commit import publish_after_commit
from assistant.events.bus import ALERT_ACKNOWLEDGED, ALERT_RAISED, EventBus
from assistant.handoff.alerts import view
from assistant.kiosks import KIOSK_ALERT_KIND, KIOSK_CHANNEL
from assistant.kiosks.models import Kiosk
from assistant.storage.models import Alert, AuditLog

log = logging.getLogger(__name__)

OFFLINE = "offline"
NO_PAPER = "no_paper"
PROBLEMS = (OFFLINE, NO_PAPER)
SYSTEM_ACTOR = "system"  # audit actor (labelled 系统)
CLOSED_BY = "系统"  # Alert.acknowledged_by, shown as is on the alerts page
MAX_SWEEP = 500  # kiosks handled per sweep; a city has a few hundred at most
SESSION_PREFIX = "kiosk:"  # Alert.session_id of a device alert: there is no conversation behind it

HEALTH_LABELS: dict[str, dict[str, str]] = {
    "printer": {"ok": "正常", "low_paper": "纸快用完", "no_paper": "缺纸", "offline": "故障或未连接",
                "none": "未配置"},
    "reader": {"ok": "正常", "offline": "未连接", "none": "未配置"},
    "microphone": {"ok": "正常", "offline": "不可用", "none": "未配置"},
}
UNREPORTED = "未上报"
UNKNOWN_ZH = "未知"


@dataclass(frozen=True)
class SweepChange:
    kiosk_id: int
    problem: str  # offline | no_paper
    raised: bool  # True: an alert was raised; False: the open one was closed
    alert_id: int


def offline_after(settings: Any) -> dt.timedelta:
    return dt.timedelta(minutes=max(float(settings.kiosk_offline_minutes), 0.0))


def is_online(kiosk: Kiosk, now: dt.datetime, settings: Any) -> bool:
    seen = as_utc(kiosk.last_seen_at)
    return seen is not None and now - seen <= offline_after(settings)


def duration_zh(delta: dt.timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} 分钟"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时"
    return f"{minutes // (24 * 60)} 天"


def called(kiosk: Kiosk) -> str:
    """How the alert names the kiosk: 「3号自助机」 as registered, else 自助机「大厅」."""
    return kiosk.name if kiosk.name.endswith(("自助机", "一体机")) else f"自助机「{kiosk.name}」"


def _problems_now(kiosk: Kiosk, now: dt.datetime, settings: Any) -> dict[str, bool | None]:
    """Each problem: True (present), False (gone), None (cannot tell: leave its alert as it is)."""
    if kiosk.last_seen_at is None:
        return {OFFLINE: None, NO_PAPER: None}
    if not is_online(kiosk, now, settings):
        return {OFFLINE: True, NO_PAPER: None}
    return {OFFLINE: False, NO_PAPER: (kiosk.health or {}).get("printer") == NO_PAPER}


def _text(kiosk: Kiosk, problem: str, now: dt.datetime) -> str:
    if problem == OFFLINE:
        silent = now - (as_utc(kiosk.last_seen_at) or now)
        return f"{called(kiosk)}离线 {duration_zh(silent)}"
    return f"{called(kiosk)}缺纸，请尽快换纸"


def _raise(db: Session, events: EventBus, kiosk: Kiosk, problem: str, now: dt.datetime) -> Alert:
    # Built here rather than by alerts.raise_alert: the community is the kiosk's (there is no conversation to
    # inherit one from) and must be set before the first flush stamps the default one.
    alert = Alert(session_id=f"{SESSION_PREFIX}{kiosk.id}", channel=KIOSK_CHANNEL, kind=KIOSK_ALERT_KIND,
                  text=_text(kiosk, problem, now), created_at=now, community_code=kiosk.community_code)
    db.add(alert)
    db.flush()
    db.add(AuditLog(actor=SYSTEM_ACTOR, action="alert.raise", target=f"alert:{alert.id}",
                    detail=f"kiosk:{kiosk.id} {problem}"))
    publish_after_commit(db, events, ALERT_RAISED, view(alert))
    log.warning("kiosk %s: %s, alert %s raised", kiosk.id, problem, alert.id)
    return alert


def _close(db: Session, events: EventBus, kiosk: Kiosk, problem: str, alert_id: int, now: dt.datetime) -> bool:
    """Closes the open alert (unless staff already did); True when this call closed it."""
    closed = db.execute(update(Alert).where(Alert.id == alert_id, Alert.acknowledged_by.is_(None))
                        .values(acknowledged_by=CLOSED_BY, acknowledged_at=now)).rowcount == 1
    if closed:
        alert = db.get(Alert, alert_id)
        if alert is not None:
            db.refresh(alert)
            db.add(AuditLog(actor=SYSTEM_ACTOR, action="alert.acknowledge", target=f"alert:{alert_id}",
                            detail=f"kiosk:{kiosk.id} {problem} 已恢复"))
            publish_after_commit(db, events, ALERT_ACKNOWLEDGED, view(alert))
    log.info("kiosk %s: %s over, alert %s closed", kiosk.id, problem, alert_id)
    return closed


def sweep_kiosks(db: Session, events: EventBus, now: dt.datetime, settings: Any) -> list[SweepChange]:
    """Raises an alert per new problem and closes the alerts of problems that are over; returns what changed."""
    now = as_utc(now) or now_utc()
    query = (select(Kiosk).where(Kiosk.active.is_(True)).order_by(Kiosk.id).limit(MAX_SWEEP)
             .with_for_update(skip_locked=True))
    changes: list[SweepChange] = []
    for kiosk in db.scalars(query):
        open_alerts = dict(kiosk.open_alerts or {})
        for problem, present in _problems_now(kiosk, now, settings).items():
            alert_id = open_alerts.get(problem)
            if present and alert_id is None:
                alert = _raise(db, events, kiosk, problem, now)
                open_alerts[problem] = alert.id
                changes.append(SweepChange(kiosk.id, problem, True, alert.id))
            elif present is False and alert_id is not None:
                _close(db, events, kiosk, problem, int(alert_id), now)
                del open_alerts[problem]
                changes.append(SweepChange(kiosk.id, problem, False, int(alert_id)))
        if open_alerts != (kiosk.open_alerts or {}):
            kiosk.open_alerts = open_alerts  # reassigned: the JSON column notices a new object only
    return changes


def sweep_kiosks_in(context: Any, now: dt.datetime | None = None) -> list[SweepChange]:
    """``sweep_kiosks`` in its own transaction on an ``AppContext`` (the background worker's call)."""
    from assistant.storage.db import session_scope

    with session_scope(context.sessions) as db:
        return sweep_kiosks(db, context.events, now or now_utc(), context.settings)


def kiosks_online(db: Session, now: dt.datetime, settings: Any) -> int:
    """Active kiosks heard from within ``kiosk_offline_minutes`` (the ``shequ_kiosks_online`` gauge)."""
    since = (as_utc(now) or now_utc()) - offline_after(settings)
    return int(db.scalar(select(func.count(Kiosk.id)).where(Kiosk.active.is_(True), Kiosk.last_seen_at >= since))
               or 0)


def online_source(settings: Any) -> Callable[[Session], int]:
    """``kiosks_online`` at the moment of each scrape, for ``assistant.api.metrics.set_kiosks_online_source``."""
    return lambda db: kiosks_online(db, now_utc(), settings)


def page_row(kiosk: Kiosk, community_label: str, now: dt.datetime, settings: Any) -> dict[str, Any]:
    """One kiosk as the console lists it, every word in Chinese, times in China time."""
    now = as_utc(now) or now_utc()
    seen = as_utc(kiosk.last_seen_at)
    online = is_online(kiosk, now, settings)
    if seen is None:
        state = "未连接过"
    elif online:
        state = "在线"
    else:
        state = f"离线（{duration_zh(now - seen)}）"
    health = kiosk.health or {}
    devices = {device: labels.get(str(health[device]), UNKNOWN_ZH) if device in health else UNREPORTED
               for device, labels in HEALTH_LABELS.items()}
    return {"id": kiosk.id, "name": kiosk.name, "community": community_label, "online": online, "state": state,
            "printer": devices["printer"], "reader": devices["reader"], "microphone": devices["microphone"],
            "problem": (not online and seen is not None) or health.get("printer") == NO_PAPER,
            "version": kiosk.version or "—", "last_seen": china_time(seen, "%Y-%m-%d %H:%M:%S") if seen else "—"}
