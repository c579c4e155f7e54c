"""What staff do with a cluster of unanswered questions: extend an entry, start a new one, or close it."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistant.auth.deps import StaffUser
from assistant.clock import china_day, china_midnight, today_china
from assistant.communities.scope import scope
from assistant.console import FormInvalid, WorkflowError
from assistant.console import kb_workflow as wf
from assistant.console.models import KbDraft
from assistant.dialogue.rules import switch_topic
from assistant.storage.models import AuditLog, UnansweredQuery
from knowledge_base.aspects import aspect_table
from knowledge_base.engine import KnowledgeBase
from knowledge_base.normalize import normalize
from knowledge_base.retrieval.fusion import Decision as RetrievalDecision

log = logging.getLogger(__name__)

CLOSE_STATUSES = {"out_of_scope": "不属于服务范围", "spam": "无意义/骚扰"}
MAX_IDS = 5000
# An aspect-only phrase (「几点上班」) that the KB matches this well is a question of its own, not a follow-up (the
# dialogue policy answers such a match whatever other words the message has: ``confident_topic``).
ANSWERED_ON_ITS_OWN = 0.7


def parse_ids(raw: str) -> list[int]:
    try:
        ids = sorted({int(part) for part in raw.split(",") if part.strip()})
    except ValueError as exc:
        raise WorkflowError("问题编号不正确") from exc
    if not ids or len(ids) > MAX_IDS:
        raise WorkflowError("没有选中问题")
    return ids


def _open_rows(session: Session, ids: Iterable[int], who: object = None) -> list[UnansweredQuery]:
    """The open questions among ``ids`` that ``who`` may see (another community's are left out)."""
    query = select(UnansweredQuery).where(UnansweredQuery.id.in_(list(ids)), UnansweredQuery.status == "open")
    rows = list(session.scalars(scope(query, UnansweredQuery, who)))
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


def cluster_phrasings(session: Session, ids: list[int], who: object = None) -> list[str]:
    """The distinct phrasings of a cluster's open questions, as ``add_to_entry`` would add them."""
    return _phrasings(_open_rows(session, ids, who))


def _topic_neutral_words(kb: KnowledgeBase) -> frozenset[str]:
    # The words of the aspect table's phrasings (材料, 多久, 在哪办 …) say nothing about which topic a message is
    # about. Under a key of its own: the dialogue keeps another set (with stretches, from the phrasings it was
    # given) under "aspect-words", and whichever was computed first used to stand for both.
    analyzer = kb.index.analyzer
    return kb.derived("console-aspect-words", lambda: frozenset(
        w for phrasings in aspect_table().training_examples().values() for p in phrasings
        for w in analyzer.analyze_query(p).words))


def elliptical(kb: KnowledgeBase, text: str) -> bool:
    """A phrase that only makes sense after another question: 「那医保呢」 (the dialogue's 那…呢 rule), or
    「那个呢」「要带什么」「怎么办理」: no word that names a topic, only words of asking about an aspect, and the
    KB's search cannot place it on its own either (so 「老人证怎么办」, which it can, is not flagged)."""
    normalized = kb.to_mandarin(normalize(text))
    if switch_topic(normalized) is not None:
        return True
    neutral = _topic_neutral_words(kb)
    if [w for w in kb.index.analyzer.analyze_query(normalized).words if w not in neutral]:
        return False
    found = kb.search(normalized[:200])
    # Only a confident match makes such a phrase a question of its own: on a small KB, 「要带什么」 reaches the
    # answer level for the one entry that has 「补社保卡要带什么」, and it is still a follow-up.
    return not (found.decision == RetrievalDecision.answer and found.top is not None
                and found.top.score >= ANSWERED_ON_ITS_OWN)


def phrase_warnings(kb: KnowledgeBase, entry_id: str, phrases: list[str]) -> dict[str, str]:
    """Why a phrase should not become a similar question of ``entry_id`` (phrase → reason in Chinese)."""
    warnings: dict[str, str] = {}
    for phrase in phrases:
        if elliptical(kb, phrase):
            warnings[phrase] = "要结合上文才能看懂（追问或省略说法），单独放进条目会答非所问"
            continue
        found = kb.search(phrase[:200])
        top = found.top
        if found.decision == RetrievalDecision.answer and top is not None and top.entry_id != entry_id:
            warnings[phrase] = f"已经能由条目「{top.title}」回答"
    return warnings


def add_to_entry(session: Session, ids: list[int], entry_id: str, user: StaffUser,
                 chosen: list[str] | None = None) -> KbDraft:
    """Puts the cluster's phrasings into the entry's draft as similar questions (reviewed before publishing)."""
    rows = _open_rows(session, ids, user)
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
    rows = _open_rows(session, ids, user)
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
    rows = _open_rows(session, ids, user)
    _close(session, rows, status, None)
    session.add(AuditLog(actor=user.username, action=f"unanswered.{status}", target=rows[0].query[:60],
                         detail=f"{len(rows)} questions"))
    return len(rows)


def _close(session: Session, rows: list[UnansweredQuery], status: str, entry_id: str | None) -> None:
    for row in rows:
        row.status = status
        row.resolved_entry_id = entry_id


def weekly_counts(session: Session, weeks: int = 8, today: dt.date | None = None,
                  who: object = None) -> list[tuple[str, int]]:
    """(week label, unanswered questions that week) for the last ``weeks`` ISO weeks, oldest first."""
    today = today or today_china()
    monday = today - dt.timedelta(days=today.weekday())
    start = monday - dt.timedelta(weeks=weeks - 1)
    since = china_midnight(start)  # weeks are China weeks
    counts = {start + dt.timedelta(weeks=i): 0 for i in range(weeks)}
    query = scope(select(UnansweredQuery.created_at).where(UnansweredQuery.created_at >= since), UnansweredQuery, who)
    for (created,) in session.execute(query):
        day = china_day(created)
        week = day - dt.timedelta(days=day.weekday())
        if week in counts:
            counts[week] += 1
    return [(f"{w:%m-%d}", n) for w, n in counts.items()]


def open_count(session: Session, who: object = None) -> int:
    query = select(func.count()).select_from(UnansweredQuery).where(UnansweredQuery.status == "open")
    return session.scalar(scope(query, UnansweredQuery, who)) or 0
