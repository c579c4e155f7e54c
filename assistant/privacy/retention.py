"""Retention: what is past ``retention_days_conversations`` / ``retention_days_tickets``, and the purge.

The unit of a conversation is the session: its turns, unanswered questions, handoff requests, acknowledged
alerts and channel rows go with it, once its last activity is older than the conversation retention. A session
is kept, whatever its age, while an open work order points to it, its handoff is still active or an alert of
it is unacknowledged. A work order goes (with its events, extensions and outbox rows) once it has been ended
(办结, 回访, 已评价) and untouched for the ticket retention; an open one is never deleted. Rows without personal
data that have served their purpose (delivered outbox rows, old events, used nonces, empty rate limits,
expired staff sessions, old callback dedupe rows) go too.

Every "due" condition depends only on rows the purge never deletes (recent turns, open orders, active
handoffs, unacknowledged alerts), so the kinds can be deleted one after the other in batches, each batch its own
short transaction, and the dry run's counts are what the real run deletes. The audit log is never purged here:
it is the record of who did what.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from assistant.auth.models import SignInLimit, StaffSession
from assistant.channels.models import ChannelInbound, ChannelMenu, ChannelNonce
from assistant.clock import CHINA, as_utc, china_time, now_utc
from assistant.events.models import EventRow
from assistant.handoff.lifecycle import OPEN_STATUSES as OPEN_ORDER_STATUSES
from assistant.handoff.live import ACTIVE_STATUSES as ACTIVE_HANDOFF_STATUSES
from assistant.handoff.models import CHANNEL_KINDS, OutboxMessage, WorkOrderExtension
from assistant.privacy.models import PersonalDataKey, RetentionRun
from assistant.settings import Settings
from assistant.storage.db import session_scope
from assistant.storage.models import (
    Alert,
    AuditLog,
    ChatSession,
    HandoffRequest,
    Turn,
    UnansweredQuery,
    VoiceClip,
    WorkOrder,
    WorkOrderEvent,
)

log = logging.getLogger(__name__)

PURGE_ACTION = "privacy.purge"
BATCH_ROWS = 500  # rows per delete statement and transaction: short locks, even on a table of millions
# How long rows without personal data stay after they stopped being useful.
DELIVERED_OUTBOX_KEEP = dt.timedelta(days=30)  # a department asking "did you send it?" asks within weeks
EVENTS_KEEP = dt.timedelta(days=1)  # the db event bus prunes after minutes; this is the backstop
CHANNEL_INBOUND_KEEP = dt.timedelta(days=2)  # WeChat retries a callback within seconds
CHANNEL_OUTBOX_DONE_KEEP = dt.timedelta(days=7)
CHANNEL_OUTBOX_DONE = ("delivered", "failed")  # late WeChat/WeCom replies in the one outbox
NONCE_KEEP_WINDOWS = 2  # a nonce older than two callback windows can no longer be replayed (timestamp check)
RUNS_KEEP = dt.timedelta(days=400)


@dataclass(frozen=True)
class Cutoffs:
    now: dt.datetime
    conversations: dt.datetime
    tickets: dt.datetime
    nonce_window_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings, now: dt.datetime | None = None) -> Cutoffs:
        now = as_utc(now) or now_utc()
        return cls(now, now - dt.timedelta(days=settings.retention_days_conversations),
                   now - dt.timedelta(days=settings.retention_days_tickets), settings.channel_callback_window_seconds)


# ---------------------------------------------------------------- what is kept, what is due

def _open_order(session_id: Any) -> ColumnElement[bool]:
    return exists().where(WorkOrder.session_id == session_id, WorkOrder.status.in_(OPEN_ORDER_STATUSES))


def _active_handoff(session_id: Any) -> ColumnElement[bool]:
    return exists().where(HandoffRequest.session_id == session_id,
                          HandoffRequest.status.in_(ACTIVE_HANDOFF_STATUSES))


def _open_alert(session_id: Any) -> ColumnElement[bool]:
    return exists().where(Alert.session_id == session_id, Alert.acknowledged_at.is_(None))


def _session_old(c: Cutoffs, s: Any = ChatSession) -> ColumnElement[bool]:
    """No activity since the conversation cutoff (a live agent's message adds a turn without always touching
    the session row, hence the look at the turns)."""
    return and_(s.updated_at < c.conversations,
                ~exists().where(Turn.session_id == s.id, Turn.created_at >= c.conversations))


def session_due(c: Cutoffs, s: Any = ChatSession) -> ColumnElement[bool]:
    return and_(_session_old(c, s), ~_open_order(s.id), ~_active_handoff(s.id), ~_open_alert(s.id))


def _session_gone_or_due(c: Cutoffs, session_id: Any) -> ColumnElement[bool]:
    """The row's session no longer exists or goes in this purge (no kept session has that id)."""
    kept = aliased(ChatSession)
    return ~exists().where(kept.id == session_id, ~session_due(c, kept))


def order_due(c: Cutoffs, o: Any = WorkOrder) -> ColumnElement[bool]:
    return and_(o.status.not_in(OPEN_ORDER_STATUSES), o.updated_at < c.tickets,
                ~exists().where(WorkOrderEvent.order_id == o.id, WorkOrderEvent.at >= c.tickets))


def _order_gone_or_due(c: Cutoffs, order_id: Any) -> ColumnElement[bool]:
    kept = aliased(WorkOrder)
    return ~exists().where(kept.id == order_id, ~order_due(c, kept))


def handoff_due(c: Cutoffs, h: Any = HandoffRequest) -> ColumnElement[bool]:
    return and_(h.created_at < c.conversations, h.status.not_in(ACTIVE_HANDOFF_STATUSES),
                _session_gone_or_due(c, h.session_id))


def _handoff_gone_or_due(c: Cutoffs, handoff_id: Any) -> ColumnElement[bool]:
    kept = aliased(HandoffRequest)
    return ~exists().where(kept.id == handoff_id, ~handoff_due(c, kept))


def alert_due(c: Cutoffs, a: Any = Alert) -> ColumnElement[bool]:
    return and_(a.created_at < c.conversations, a.acknowledged_at.is_not(None), _session_gone_or_due(c, a.session_id))


def _alert_gone_or_due(c: Cutoffs, alert_id: Any) -> ColumnElement[bool]:
    kept = aliased(Alert)
    return ~exists().where(kept.id == alert_id, ~alert_due(c, kept))


@dataclass(frozen=True)
class Kind:
    """One kind of row the purge deletes: its table's key, when a row is due, and its date for the report."""

    name: str
    label: str
    model: Any
    key: Any  # the primary-key column batches are selected by
    due: Callable[[Cutoffs], ColumnElement[bool]]
    dated: Any  # the column whose minimum is the report's "oldest"
    recheck: bool = False  # repeat the condition in the delete: the key column is not unique alone


def _epoch(value: dt.datetime) -> float:
    return value.timestamp()


# In deletion order: children before parents, so a foreign key never waits on a cascade.
KINDS: tuple[Kind, ...] = (
    Kind("keys", "号码索引", PersonalDataKey, PersonalDataKey.id, lambda c: and_(
        or_(PersonalDataKey.session_id.is_(None), _session_gone_or_due(c, PersonalDataKey.session_id)),
        or_(PersonalDataKey.work_order_id.is_(None), _order_gone_or_due(c, PersonalDataKey.work_order_id)),
        or_(PersonalDataKey.handoff_request_id.is_(None),
            _handoff_gone_or_due(c, PersonalDataKey.handoff_request_id))), PersonalDataKey.created_at),
    Kind("order_outbox", "工单推送记录", OutboxMessage, OutboxMessage.id, lambda c: or_(
        and_(OutboxMessage.order_id.is_not(None), _order_gone_or_due(c, OutboxMessage.order_id)),
        and_(OutboxMessage.alert_id.is_not(None), _alert_gone_or_due(c, OutboxMessage.alert_id)),
        and_(OutboxMessage.kind == "webhook", OutboxMessage.status == "delivered",
             OutboxMessage.delivered_at < c.now - DELIVERED_OUTBOX_KEEP)),
        OutboxMessage.created_at),
    Kind("order_events", "工单办理记录", WorkOrderEvent, WorkOrderEvent.id,
         lambda c: _order_gone_or_due(c, WorkOrderEvent.order_id), WorkOrderEvent.at),
    Kind("order_extensions", "工单延期申请", WorkOrderExtension, WorkOrderExtension.id,
         lambda c: _order_gone_or_due(c, WorkOrderExtension.order_id), WorkOrderExtension.requested_at),
    Kind("orders", "工单", WorkOrder, WorkOrder.id, order_due, WorkOrder.updated_at),
    # A turn always has its session (foreign key): the due sessions are found once, not once per turn.
    Kind("turns", "对话", Turn, Turn.id, lambda c: Turn.session_id.in_(select(ChatSession.id).where(session_due(c))),
         Turn.created_at),
    Kind("unanswered", "未答问题", UnansweredQuery, UnansweredQuery.id, lambda c: and_(
        UnansweredQuery.created_at < c.conversations, _session_gone_or_due(c, UnansweredQuery.session_id)),
        UnansweredQuery.created_at),
    Kind("handoffs", "人工接待记录", HandoffRequest, HandoffRequest.id, handoff_due, HandoffRequest.created_at),
    Kind("alerts", "已处理的紧急求助", Alert, Alert.id, alert_due, Alert.created_at),
    Kind("channel_menus", "微信菜单记录", ChannelMenu, ChannelMenu.session_id, lambda c: and_(
        ChannelMenu.updated_at < c.conversations, _session_gone_or_due(c, ChannelMenu.session_id)),
        ChannelMenu.updated_at),
    # The one outbox's WeChat/WeCom replies (no order, no alert: the kind above never takes them).
    Kind("channel_outbox", "微信待发消息（已发完）", OutboxMessage, OutboxMessage.id, lambda c: and_(
        OutboxMessage.kind.in_(CHANNEL_KINDS), OutboxMessage.status.in_(CHANNEL_OUTBOX_DONE),
        OutboxMessage.created_at < c.now - CHANNEL_OUTBOX_DONE_KEEP), OutboxMessage.created_at),
    Kind("channel_inbound", "微信消息去重记录", ChannelInbound, ChannelInbound.id,
         lambda c: ChannelInbound.received_at < c.now - CHANNEL_INBOUND_KEEP, ChannelInbound.received_at),
    Kind("voice_clips", "录音", VoiceClip, VoiceClip.id, lambda c: and_(
        VoiceClip.created_at < c.conversations, _session_gone_or_due(c, VoiceClip.session_id)),
        VoiceClip.created_at),
    Kind("sessions", "会话", ChatSession, ChatSession.id, session_due, ChatSession.updated_at),
    Kind("events", "页面推送事件", EventRow, EventRow.id, lambda c: and_(
        EventRow.created_at < c.now - EVENTS_KEEP,
        EventRow.id < select(func.max(EventRow.id)).scalar_subquery()),  # the newest stays: ids must keep growing
        EventRow.created_at),
    Kind("nonces", "回调随机数", ChannelNonce, ChannelNonce.nonce,
         lambda c: ChannelNonce.seen_at < _epoch(c.now) - NONCE_KEEP_WINDOWS * c.nonce_window_seconds, None, True),
    Kind("sign_in_limits", "登录限流计数", SignInLimit, SignInLimit.bucket,
         lambda c: SignInLimit.free_at < _epoch(c.now), None),
    Kind("staff_sessions", "过期的工作人员登录", StaffSession, StaffSession.token_hash,
         lambda c: StaffSession.expires_at < c.now, StaffSession.expires_at),
    Kind("retention_runs", "清理运行记录", RetentionRun, RetentionRun.day,
         lambda c: RetentionRun.started_at < c.now - RUNS_KEEP, RetentionRun.started_at),
)

# Why old rows stay: (reason label, query counting them).
KEPT_REASONS: tuple[tuple[str, Callable[[Cutoffs], Any]], ...] = (
    ("会话：仍有未办结的工单", lambda c: select(func.count()).select_from(ChatSession).where(
        _session_old(c), _open_order(ChatSession.id))),
    ("会话：人工接待还没结束", lambda c: select(func.count()).select_from(ChatSession).where(
        _session_old(c), _active_handoff(ChatSession.id))),
    ("会话：紧急求助还没人确认", lambda c: select(func.count()).select_from(ChatSession).where(
        _session_old(c), _open_alert(ChatSession.id))),
    ("工单：还没办结", lambda c: select(func.count()).select_from(WorkOrder).where(
        WorkOrder.status.in_(OPEN_ORDER_STATUSES), WorkOrder.updated_at < c.tickets)),
    ("紧急求助：还没人确认", lambda c: select(func.count()).select_from(Alert).where(
        Alert.acknowledged_at.is_(None), Alert.created_at < c.conversations)),
    ("工单推送：发送失败，等待重发", lambda c: select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == "failed", OutboxMessage.order_id.is_not(None),
        ~_order_gone_or_due(c, OutboxMessage.order_id))),
)


# ---------------------------------------------------------------- the report

@dataclass(frozen=True)
class KindCount:
    kind: str
    label: str
    count: int
    oldest: str  # China time, "" when the kind has no date or nothing is due


@dataclass(frozen=True)
class KeptCount:
    reason: str
    count: int


@dataclass
class PurgeReport:
    dry_run: bool
    now: str
    conversations_before: str
    tickets_before: str
    removed: list[KindCount] = field(default_factory=list)
    kept: list[KeptCount] = field(default_factory=list)
    pending_erasures: int = 0  # residents' erasures that were waiting and could be completed
    seconds: float = 0.0

    def count(self, kind: str) -> int:
        return next((k.count for k in self.removed if k.kind == kind), 0)

    @property
    def total(self) -> int:
        return sum(k.count for k in self.removed)

    def summary(self) -> str:
        """One line of Chinese for the audit row and the command line."""
        verb = "将清理" if self.dry_run else "已清理"
        parts = [f"{k.label} {k.count}" for k in self.removed if k.count]
        head = f"{verb}：" + ("，".join(parts) if parts else "没有到期的数据")
        kept = [f"{k.reason} {k.count}" for k in self.kept if k.count]
        tail = (f"；保留：{'，'.join(kept)}" if kept else "")
        pending = f"；完成待删除申请 {self.pending_erasures}" if self.pending_erasures else ""
        return (f"{head}{tail}{pending}（会话早于 {self.conversations_before}，"
                f"工单早于 {self.tickets_before}）")

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "now": self.now, "conversations_before": self.conversations_before,
                "tickets_before": self.tickets_before, "pending_erasures": self.pending_erasures,
                "removed": [vars(k) for k in self.removed], "kept": [vars(k) for k in self.kept],
                "seconds": round(self.seconds, 3)}


def _oldest(db: Session, kind: Kind, c: Cutoffs) -> str:
    if kind.dated is None:
        return ""
    return china_time(db.scalar(select(func.min(kind.dated)).where(kind.due(c))))


def _survey(db: Session, c: Cutoffs, dry_run: bool) -> PurgeReport:
    report = PurgeReport(dry_run, china_time(c.now), china_time(c.conversations), china_time(c.tickets))
    for kind in KINDS:
        count = db.scalar(select(func.count()).select_from(kind.model).where(kind.due(c))) or 0
        report.removed.append(KindCount(kind.name, kind.label, count, _oldest(db, kind, c) if count else ""))
    report.kept = [KeptCount(reason, db.scalar(query(c)) or 0) for reason, query in KEPT_REASONS]
    return report


def dry_run(factory: sessionmaker[Session], settings: Settings, *, now: dt.datetime | None = None) -> PurgeReport:
    """What a purge now would delete and keep; changes nothing."""
    from assistant.privacy.requests import completable_erasures

    started = time.perf_counter()
    c = Cutoffs.from_settings(settings, now)
    with session_scope(factory) as db:
        report = _survey(db, c, dry_run=True)
        report.pending_erasures = completable_erasures(db)
        db.rollback()
    report.seconds = time.perf_counter() - started
    return report


def _delete_in_batches(factory: sessionmaker[Session], kind: Kind, c: Cutoffs) -> int:
    deleted = 0
    while True:
        with session_scope(factory) as db:
            keys = list(db.scalars(select(kind.key).where(kind.due(c)).limit(BATCH_ROWS)))
            if not keys:
                return deleted
            condition = kind.key.in_(keys)
            if kind.recheck:  # the key column is not unique alone (a nonce is unique per channel)
                condition = and_(condition, kind.due(c))
            db.execute(delete(kind.model).where(condition).execution_options(synchronize_session=False))
        deleted += len(keys)


def _session_children(ids: list[str]) -> list[tuple[str, Any]]:
    alerts = select(Alert.id).where(Alert.session_id.in_(ids))
    return [("order_outbox", delete(OutboxMessage).where(OutboxMessage.alert_id.in_(alerts))),
            ("turns", delete(Turn).where(Turn.session_id.in_(ids))),
            ("unanswered", delete(UnansweredQuery).where(UnansweredQuery.session_id.in_(ids))),
            ("handoffs", delete(HandoffRequest).where(HandoffRequest.session_id.in_(ids))),
            ("alerts", delete(Alert).where(Alert.session_id.in_(ids))),
            ("channel_menus", delete(ChannelMenu).where(ChannelMenu.session_id.in_(ids))),
            ("voice_clips", delete(VoiceClip).where(VoiceClip.session_id.in_(ids)))]


def _order_children(ids: list[int]) -> list[tuple[str, Any]]:
    return [("order_outbox", delete(OutboxMessage).where(OutboxMessage.order_id.in_(ids))),
            ("order_events", delete(WorkOrderEvent).where(WorkOrderEvent.order_id.in_(ids))),
            ("order_extensions", delete(WorkOrderExtension).where(WorkOrderExtension.order_id.in_(ids)))]


# A due session or order goes together with its rows, a batch of parents per transaction: deciding "due" once
# per parent instead of once per child row is what keeps a purge of millions of turns fast.
PARENTS: tuple[tuple[str, Callable[[list[Any]], list[tuple[str, Any]]]], ...] = (
    ("orders", _order_children), ("sessions", _session_children))


def _delete_parents(factory: sessionmaker[Session], kind: Kind, children: Callable[[list[Any]], list[tuple[str, Any]]],
                    c: Cutoffs, counts: dict[str, int]) -> None:
    while True:
        with session_scope(factory) as db:
            keys = list(db.scalars(select(kind.key).where(kind.due(c)).limit(BATCH_ROWS)))
            if not keys:
                return
            for name, statement in children(keys):
                counts[name] += db.execute(statement.execution_options(synchronize_session=False)).rowcount or 0
            counts[kind.name] += db.execute(delete(kind.model).where(kind.key.in_(keys))
                                            .execution_options(synchronize_session=False)).rowcount or 0


def purge(factory: sessionmaker[Session], settings: Settings, *, actor: str = "system",
          now: dt.datetime | None = None) -> PurgeReport:
    """Deletes what is due in batches and writes one ``privacy.purge`` audit row.

    Residents' erasures that had to wait (their order was open) are completed first; then due orders and
    sessions go with their rows, then every kind is swept by its own condition (rows whose session was already
    gone, and the rows without personal data). The report has the dry run's shape; its counts are the rows
    actually deleted.
    """
    from assistant.privacy.requests import complete_pending_erasures

    started = time.perf_counter()
    c = Cutoffs.from_settings(settings, now)
    pending = complete_pending_erasures(factory, actor)
    with session_scope(factory) as db:
        survey = _survey(db, c, dry_run=False)  # the oldest dates and the kept counts, before anything goes
    counts = dict.fromkeys((k.name for k in KINDS), 0)
    by_name = {k.name: k for k in KINDS}
    for name, children in PARENTS:
        _delete_parents(factory, by_name[name], children, c, counts)
    for kind in KINDS:
        counts[kind.name] += _delete_in_batches(factory, kind, c)
    report = PurgeReport(False, survey.now, survey.conversations_before, survey.tickets_before,
                         kept=survey.kept, pending_erasures=pending)
    report.removed = [KindCount(k.name, k.label, counts[k.name], before.oldest if counts[k.name] else "")
                      for k, before in zip(KINDS, survey.removed, strict=True)]
    report.seconds = time.perf_counter() - started
    with session_scope(factory) as db:
        db.add(AuditLog(actor=actor, action=PURGE_ACTION, target="保存期限", detail=report.summary()))
    log.info("retention purge: %d rows deleted in %.1f s", report.total, report.seconds)
    return report


# ---------------------------------------------------------------- once a day

class DailyPurge:
    """Runs the purge once per China day, at ``retention_purge_hour`` or the first call after it.

    Many workers on many nodes call ``maybe_run`` every few seconds: the first to insert the day's
    ``retention_runs`` row does the work; the others see the row (and remember the day, so they stop asking).
    A purge that fails removes its row, so a later call tries again.
    """

    def __init__(self, factory: sessionmaker[Session], settings: Settings,
                 clock: Callable[[], dt.datetime] = now_utc) -> None:
        self.factory = factory
        self.settings = settings
        self.clock = clock
        self._settled_day = ""

    def maybe_run(self) -> PurgeReport | None:
        try:
            return self._maybe_run()
        except Exception:  # the background loop must go on (outbox, alerts); tried again on the next call
            log.exception("the daily retention purge failed")
            return None

    def _maybe_run(self) -> PurgeReport | None:
        if not self.settings.retention_purge_enabled:
            return None
        now = self.clock()
        local = now.astimezone(CHINA)
        day = local.date().isoformat()
        if local.hour < self.settings.retention_purge_hour or self._settled_day == day:
            return None
        if not self._claim(day, now):
            self._settled_day = day
            return None
        try:
            report = purge(self.factory, self.settings, actor="system", now=now)
        except Exception:
            with session_scope(self.factory) as db:
                db.execute(delete(RetentionRun).where(RetentionRun.day == day))
            raise
        with session_scope(self.factory) as db:
            run = db.get(RetentionRun, day)
            if run is not None:
                run.finished_at = now_utc()
                run.summary = report.summary()[:500]
        self._settled_day = day
        return report

    def _claim(self, day: str, now: dt.datetime) -> bool:
        try:
            with session_scope(self.factory) as db:
                db.add(RetentionRun(day=day, started_at=now, summary=""))
        except IntegrityError:
            return False
        return True
