"""What staff do with a cluster of unanswered questions: extend an entry, start a new one, or close it."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistant.auth.deps import StaffUser
from assistant.console import FormInvalid, WorkflowError
from assistant.console import kb_workflow as wf
from assistant.console.models import KbDraft
from assistant.storage.models import AuditLog, UnansweredQuery

log = logging.getLogger(__name__)

CLOSE_STATUSES = {"out_of_scope": "不属于服务范围", "spam": "无意义/骚扰"}
MAX_IDS = 5000


def parse_ids(raw: str) -> list[int]:
    try:
        ids = sorted({int(part) for part in raw.split(",") if part.strip()})
    except ValueError as exc:
        raise WorkflowError("问题编号不正确") from exc
    if not ids or len(ids) > MAX_IDS:
        raise WorkflowError("没有选中问题")
    return ids


def _open_rows(session: Session, ids: Iterable[int]) -> list[UnansweredQuery]:
    rows = list(session.scalars(select(UnansweredQuery).where(UnansweredQuery.id.in_(list(ids)),
                                                              UnansweredQuery.status == "open")))
    if not rows:
        raise WorkflowError("这些问题已经有人处理过了")
    return rows


def _phrasings(rows: list[UnansweredQuery], limit: int = 30) -> list[str]:
    seen: list[str] = []
    for row in rows:
        text = row.query.strip()[:100]
        if text and text not in seen:
            seen.append(text)
    return seen[:limit]


def add_to_entry(session: Session, ids: list[int], entry_id: str, user: StaffUser,
                 chosen: list[str] | None = None) -> KbDraft:
    """Puts the cluster's phrasings into the entry's draft as similar questions (reviewed before publishing)."""
    rows = _open_rows(session, ids)
    draft = wf.start_edit(session, entry_id, user)
    questions = list(draft.data.get("questions") or [])
    title = draft.data.get("title")
    added = [p for p in (chosen if chosen is not None else _phrasings(rows)) if p not in questions and p != title]
    draft.data = {**draft.data, "questions": questions + added}
    if draft.state != "draft":
        draft.state, draft.approved_by = "draft", None
    draft.note = (draft.note + f" 加入未答问法 {len(added)} 条").strip()[:500]
    _close(session, rows, "resolved", entry_id)
    session.add(AuditLog(actor=user.username, action="unanswered.add_to_entry", target=entry_id,
                         detail=f"{len(rows)} questions, {len(added)} phrasings → draft #{draft.id}"))
    return draft


def new_entry_from(session: Session, ids: list[int], user: StaffUser, category: str = "",
                   department: str = "") -> KbDraft:
    rows = _open_rows(session, ids)
    phrasings = _phrasings(rows)
    title = min(phrasings[:5], key=len)[:80] if phrasings else "新问题"
    data = {"category": category, "title": title if len(title) >= 2 else f"{title}？",
            "questions": [p for p in phrasings if p != title], "answer": "", "department": department,
            "region": "广西", "aspects": {}}
    try:
        draft = wf.new_draft(session, data, user, source="cluster", note=f"来自 {len(rows)} 条未答问题")
    except FormInvalid as exc:
        raise WorkflowError("；".join(exc.errors.values())) from exc
    _close(session, rows, "resolved", draft.entry_id)
    session.add(AuditLog(actor=user.username, action="unanswered.new_entry", target=draft.entry_id,
                         detail=f"{len(rows)} questions → draft #{draft.id}"))
    return draft


def close_cluster(session: Session, ids: list[int], status: str, user: StaffUser) -> int:
    if status not in CLOSE_STATUSES:
        raise WorkflowError("未知的处理方式")
    rows = _open_rows(session, ids)
    _close(session, rows, status, None)
    session.add(AuditLog(actor=user.username, action=f"unanswered.{status}", target=rows[0].query[:60],
                         detail=f"{len(rows)} questions"))
    return len(rows)


def _close(session: Session, rows: list[UnansweredQuery], status: str, entry_id: str | None) -> None:
    for row in rows:
        row.status = status
        row.resolved_entry_id = entry_id


def weekly_counts(session: Session, weeks: int = 8, today: dt.date | None = None) -> list[tuple[str, int]]:
    """(week label, unanswered questions that week) for the last ``weeks`` ISO weeks, oldest first."""
    today = today or dt.date.today()
    monday = today - dt.timedelta(days=today.weekday())
    start = monday - dt.timedelta(weeks=weeks - 1)
    since = dt.datetime.combine(start, dt.time(), dt.UTC)
    counts = {start + dt.timedelta(weeks=i): 0 for i in range(weeks)}
    for (created,) in session.execute(select(UnansweredQuery.created_at).where(UnansweredQuery.created_at >= since)):
        day = created.date()
        week = day - dt.timedelta(days=day.weekday())
        if week in counts:
            counts[week] += 1
    return [(f"{w:%m-%d}", n) for w, n in counts.items()]


def open_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(UnansweredQuery)
                          .where(UnansweredQuery.status == "open")) or 0
