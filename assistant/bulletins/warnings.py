"""Ingesting warnings: new, duplicate, update, cancel, expiry; manual warnings take the same path.

``ingest`` is called for every CAP document the feed or the push endpoint accepts, and for a manual warning.
It keeps one row per (sender, identifier): a second delivery — the next poll of the feed, or two workers at
once — is a ``duplicate`` (the unique key decides a race: the loser's INSERT fails inside a SAVEPOINT and
nothing else of its transaction is lost). Only ``status=Actual`` alerts reach residents; an alert already
expired, or covering none of our communities, is ``ignored`` (the latter is stored, so the next poll is a
cheap duplicate, and city staff can see it was received).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.auth.deps import StaffUser
from assistant.bulletins import BulletinError, levels
from assistant.bulletins.announce import announce, changed
from assistant.bulletins.areas import COMMUNITY_GEOCODE, communities_for
from assistant.bulletins.cap import CapAlert, CapArea
from assistant.bulletins.models import EarlyWarning, WarningCommunity
from assistant.clock import CHINA, as_utc, china_time, now_utc
from assistant.communities.models import Community
from assistant.communities.scope import community_of
from assistant.events.bus import EventBus
from assistant.storage.models import AuditLog

log = logging.getLogger(__name__)

ACTUAL = "Actual"
KEY_MAX = 200  # sender and identifier columns
MANUAL_MAX_HOURS = 72.0
MANUAL_TEXT_MAX = 300  # headline, instruction, assembly point: read aloud twice, so short
DEFAULT_LIFETIME_HOURS = 24.0  # a CAP alert without <expires> is shown this long (after effective, or sent)  # a manual warning longer than three days is re-issued, not left on screens
ISSUERS = ("staff", "approver")  # and admin (StaffUser.has_role)
STATUS_LABELS = {"active": "生效中", "cancelled": "已解除", "superseded": "已更新", "expired": "已过期"}


class WarningError(BulletinError):
    """A staff action on a warning was refused; the message is Chinese and shown as is."""


@dataclass(frozen=True)
class IngestResult:
    action: str  # new | updated | cancelled | duplicate | ignored
    warning_id: int | None
    communities: tuple[str, ...] = ()
    reason: str = ""  # not_actual | expired | no_area | unknown_reference | too_long | race ("" for the rest)


@dataclass(frozen=True)
class ManualWarning:
    event: str  # 转移安置, 暴雨 …
    level: str  # blue | yellow | orange | red
    headline: str
    instruction: str
    assembly_point: str
    communities: tuple[str, ...]
    expires_hours: float


def _existing(db: Session, sender: str, identifier: str) -> EarlyWarning | None:
    return db.scalar(select(EarlyWarning).where(EarlyWarning.sender == sender,
                                                EarlyWarning.identifier == identifier))


def _codes_of(db: Session, warning_id: int) -> set[str]:
    return set(db.scalars(select(WarningCommunity.community_code).where(WarningCommunity.warning_id == warning_id)))


def _row(alert: CapAlert, source: str, level: str, issued_by: str, status: str) -> EarlyWarning:
    return EarlyWarning(
        source=source, sender=alert.sender, identifier=alert.identifier, msg_type=alert.msg_type, status=status,
        event=alert.event[:100], level=level, severity=alert.severity[:20], urgency=alert.urgency[:20],
        certainty=alert.certainty[:20], headline=alert.headline[:300], description=alert.description,
        instruction=alert.instruction, area_desc="、".join(a.description for a in alert.areas if a.description),
        geocodes=[[name, value] for area in alert.areas for name, value in area.geocodes],
        sender_name=alert.sender_name[:200], assembly_point=alert.assembly_point[:300], sent=as_utc(alert.sent),
        effective=as_utc(alert.effective), onset=as_utc(alert.onset), expires=as_utc(alert.expires),
        issued_by=issued_by[:80])


def _insert(db: Session, row: EarlyWarning) -> bool:
    """Adds ``row``; False when another transaction stored the same (sender, identifier) first."""
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError:
        return False
    return True


def _end_referenced(db: Session, alert: CapAlert, status: str, by: int | None, now: dt.datetime) -> dict[int, set[str]]:
    """Marks the active warnings ``alert`` references as ``status``; returns their ids and communities."""
    ended: dict[int, set[str]] = {}
    for sender, identifier in alert.references:
        old = _existing(db, sender, identifier)
        if old is None or old.status != "active":
            continue
        result = db.execute(update(EarlyWarning).where(EarlyWarning.id == old.id, EarlyWarning.status == "active")
                            .values(status=status, superseded_by=by, updated_at=now))
        if result.rowcount == 1:  # conditional: a concurrent cancel of the same warning counts once
            ended[old.id] = _codes_of(db, old.id)
    return ended


def ingest(db: Session, bus: EventBus, alert: CapAlert, *, source: str = "cap", settings: Any,
           now: dt.datetime | None = None, issued_by: str = "") -> IngestResult:
    """Stores what ``alert`` means for our communities and announces it (see the module docstring)."""
    now = as_utc(now) or now_utc()
    if alert.status != ACTUAL:
        return IngestResult("ignored", None, (), "not_actual")
    if not alert.sender or not alert.identifier or len(alert.sender) > KEY_MAX or len(alert.identifier) > KEY_MAX:
        return IngestResult("ignored", None, (), "too_long")
    known = _existing(db, alert.sender, alert.identifier)
    if known is not None:
        return IngestResult("duplicate", known.id, tuple(sorted(_codes_of(db, known.id))))
    if alert.msg_type == "Cancel":
        return _cancel(db, bus, alert, source, settings, now)
    expires = as_utc(alert.expires)
    if expires is not None and expires <= now:
        return IngestResult("ignored", None, (), "expired")
    level = levels.level_of(alert.severity, alert.event, alert.headline, alert.extra)
    codes = communities_for(db, alert.areas)
    row = _row(alert, source, level, issued_by, "active")
    if row.expires is None:  # a warning with no expiry would stay on every screen until someone cancels it
        row.expires = (row.effective or row.sent) + dt.timedelta(hours=DEFAULT_LIFETIME_HOURS)
    if not _insert(db, row):
        return IngestResult("duplicate", None, (), "race")
    db.add_all(WarningCommunity(warning_id=row.id, community_code=code) for code in codes)
    ended = _end_referenced(db, alert, "superseded", row.id, now) if alert.msg_type == "Update" else {}
    touched = set(codes).union(*ended.values())
    if not codes:
        if ended:
            changed(db, bus, touched)  # the update moved the warning away from us: the old one goes
        log.info("warning %s/%s covers none of our communities", source, row.id)
        return IngestResult("ignored", row.id, (), "no_area")
    action = "updated" if ended else "new"
    announce(db, bus, row, codes, action, settings, now)
    if touched - set(codes):
        changed(db, bus, touched)
    return IngestResult(action, row.id, tuple(codes))


def _cancel(db: Session, bus: EventBus, alert: CapAlert, source: str, settings: Any,
            now: dt.datetime) -> IngestResult:
    # The Cancel itself is kept (status cancelled, no communities): the next poll finds it a duplicate.
    row = _row(alert, source, levels.level_of(alert.severity, alert.event, alert.headline, alert.extra), "",
               "cancelled")
    if not _insert(db, row):
        return IngestResult("duplicate", None, (), "race")
    ended = _end_referenced(db, alert, "cancelled", None, now)
    if not ended:
        return IngestResult("ignored", row.id, (), "unknown_reference")
    codes = sorted(set().union(*ended.values()))
    first = db.get(EarlyWarning, next(iter(ended)))
    if first is not None:
        announce(db, bus, first, codes, "cancelled", settings, now)
    return IngestResult("cancelled", next(iter(ended)), tuple(codes))


# ---------------------------------------------------------------- staff: manual warnings, cancel, list

def _require_issuer(user: StaffUser) -> None:
    if not user.has_role(*ISSUERS):
        raise WarningError("您的角色不能发布或解除预警")


def manual_alert(user: StaffUser, form: ManualWarning, now: dt.datetime) -> CapAlert:
    """The CAP alert a manual warning is: sender ``shequ:<username>``, a fresh identifier, one area per
    community (by code, so it covers exactly those)."""
    level = form.level if form.level in levels.LEVEL_INFO else levels.DEFAULT_LEVEL
    return CapAlert(
        identifier=uuid.uuid4().hex, sender=f"shequ:{user.username}", sent=now, status=ACTUAL, msg_type="Alert",
        event=form.event.strip()[:100], severity=levels.LEVEL_SEVERITY[level], urgency="Immediate",
        certainty="Observed", headline=form.headline.strip()[:300], instruction=form.instruction.strip(),
        sender_name="社区居委会", effective=now, expires=now + dt.timedelta(hours=form.expires_hours),
        areas=tuple(CapArea(code, ((COMMUNITY_GEOCODE, code),)) for code in form.communities),
        assembly_point=form.assembly_point.strip()[:300], extra={"预警颜色": levels.label(level)})


def issue_manual(db: Session, bus: EventBus, user: StaffUser, form: ManualWarning, settings: Any,
                 now: dt.datetime | None = None) -> IngestResult:
    """A warning staff issue (转移安置 with its assembly point): shown and announced like a CAP one."""
    _require_issuer(user)
    now = as_utc(now) or now_utc()
    own = community_of(user)
    wanted = tuple(dict.fromkeys(c.strip() for c in form.communities if c.strip()))
    if not wanted:
        raise WarningError("请选择要发布预警的社区")
    if own is not None and set(wanted) != {own}:
        raise WarningError("您只能向本社区发布预警")
    if not form.event.strip() or not (form.headline.strip() or form.instruction.strip()):
        raise WarningError("请填写预警类型和内容")
    if max(len(form.headline), len(form.instruction), len(form.assembly_point)) > MANUAL_TEXT_MAX:
        raise WarningError(f"每一项内容请不要超过{MANUAL_TEXT_MAX}字")
    if form.level not in levels.LEVEL_INFO:
        raise WarningError("请选择预警等级")
    if not 0 < form.expires_hours <= MANUAL_MAX_HOURS:
        raise WarningError(f"有效时间请填 1 到 {int(MANUAL_MAX_HOURS)} 小时")
    known = set(db.scalars(select(Community.code).where(Community.code.in_(wanted), Community.active.is_(True))))
    if known != set(wanted):
        raise WarningError("所选社区不存在或已停用")
    form = ManualWarning(form.event, form.level, form.headline, form.instruction, form.assembly_point, wanted,
                         form.expires_hours)
    result = ingest(db, bus, manual_alert(user, form, now), source="manual", settings=settings, now=now,
                    issued_by=user.username)
    if result.action != "new" or set(result.communities) != set(wanted):
        raise WarningError("所选社区不存在或已停用")
    db.add(AuditLog(actor=user.username, action="warning.issue", target=f"warning:{result.warning_id}",
                    detail=f"{form.event} {levels.label(form.level)} {','.join(result.communities)}"[:2000]))
    return result


def _visible(db: Session, user: StaffUser, warning: EarlyWarning) -> bool:
    own = community_of(user)
    return own is None or own in _codes_of(db, warning.id)


def cancel_warning(db: Session, bus: EventBus, user: StaffUser, warning_id: int, settings: Any,
                   now: dt.datetime | None = None) -> None:
    """Ends a warning early (解除). Community staff may end only a manual warning of their own community alone;
    a CAP warning or one covering other communities is for city staff."""
    _require_issuer(user)
    now = as_utc(now) or now_utc()
    warning = db.get(EarlyWarning, warning_id)
    if warning is None or not _visible(db, user, warning):
        raise WarningError("找不到这条预警")
    codes = _codes_of(db, warning.id)
    own = community_of(user)
    if own is not None and (warning.source != "manual" or codes != {own}):
        raise WarningError("这条预警涉及其他社区或来自气象等部门，只能由市里的工作人员解除")
    result = db.execute(update(EarlyWarning).where(EarlyWarning.id == warning_id, EarlyWarning.status == "active")
                        .values(status="cancelled", updated_at=now))
    if result.rowcount != 1:
        raise WarningError("这条预警已经解除或过期")
    db.refresh(warning)
    db.add(AuditLog(actor=user.username, action="warning.cancel", target=f"warning:{warning.id}",
                    detail=f"{warning.event} {levels.label(warning.level)}"))
    announce(db, bus, warning, codes, "cancelled", settings, now)


def expire_warnings(db: Session, bus: EventBus, now: dt.datetime | None = None) -> list[int]:
    """Marks active warnings past their expiry ``expired`` (the board already hides them; this keeps lists
    and counts right). Called by the background worker; returns the ids it expired."""
    now = as_utc(now) or now_utc()
    due = list(db.scalars(select(EarlyWarning.id).where(EarlyWarning.status == "active",
                                                        EarlyWarning.expires.is_not(None),
                                                        EarlyWarning.expires <= now).limit(500)))
    expired: list[int] = []
    touched: set[str] = set()
    for warning_id in due:
        result = db.execute(update(EarlyWarning).where(EarlyWarning.id == warning_id,
                                                       EarlyWarning.status == "active")
                            .values(status="expired", updated_at=now))
        if result.rowcount == 1:
            expired.append(warning_id)
            touched |= _codes_of(db, warning_id)
    if touched:
        changed(db, bus, touched)
    return expired


def view(db: Session, warning: EarlyWarning) -> dict[str, Any]:
    """A warning as the console lists it."""
    effective = as_utc(warning.effective) or as_utc(warning.sent)
    return {
        "id": warning.id, "source": warning.source, "source_label": "社区发布" if warning.source == "manual" else "预警发布系统",
        "event": warning.event, "level": warning.level, "level_label": levels.label(warning.level),
        "title": levels.title(warning.event, warning.level), "headline": warning.headline,
        "instruction": warning.instruction, "assembly_point": warning.assembly_point, "area": warning.area_desc,
        "sender_name": warning.sender_name, "status": warning.status,
        "status_label": STATUS_LABELS.get(warning.status, warning.status),
        "communities": sorted(_codes_of(db, warning.id)), "issued_by": warning.issued_by,
        "effective": effective.astimezone(CHINA).isoformat(timespec="seconds") if effective else None,
        "effective_text": china_time(effective), "expires_text": china_time(warning.expires),
        "colors": levels.colors(warning.level),
    }


def list_warnings(db: Session, user: StaffUser, *, include_past: bool = False, limit: int = 100,
                  now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Warnings for the console, newest first: active ones (past ones too with ``include_past``); community
    staff see those covering their community."""
    now = as_utc(now) or now_utc()
    query = select(EarlyWarning).where(EarlyWarning.msg_type != "Cancel")
    own = community_of(user)
    if own is not None:
        query = query.where(EarlyWarning.id.in_(select(WarningCommunity.warning_id)
                                                .where(WarningCommunity.community_code == own)))
    if not include_past:
        query = query.where(EarlyWarning.status == "active",
                            (EarlyWarning.expires.is_(None)) | (EarlyWarning.expires > now))
    rows = db.scalars(query.order_by(EarlyWarning.sent.desc(), EarlyWarning.id.desc()).limit(limit))
    return [view(db, row) for row in rows]
