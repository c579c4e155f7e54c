"""Unanswered questions: clusters of the same need, with actions that close the loop."""

from __future__ import annotations

import datetime as dt
import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from assistant.console import WorkflowError
from assistant.console import unanswered as svc
from assistant.console.charts import columns
from assistant.console.clustering import (
    REASON_LABELS,
    cluster_queries,
    load_open,
    merge_threshold,
    suggest_entries,
)
from assistant.console.stats import CHANNEL_LABELS, Period, default_period
from assistant.console.templating import render
from assistant.console.web import CSRF, Editor, FormFields, Reader, app_context, redirect
from assistant.dialogue.policy import PolicyThresholds
from assistant.storage.db import session_scope
from knowledge_base.models import CATEGORIES

log = logging.getLogger(__name__)

router = APIRouter(prefix="/staff/unanswered", include_in_schema=False)
MAX_CLUSTERS_SHOWN = 50


def parse_period(start: str, end: str, channel: str, days: int = 28) -> tuple[Period, str]:
    """The period asked for, or the default one and a message saying why it was not used."""
    period = default_period(days)
    if channel and channel not in CHANNEL_LABELS:
        return period, "未知的渠道"
    period.channel = channel
    try:
        if start:
            period.start = dt.date.fromisoformat(start)
        if end:
            period.end = dt.date.fromisoformat(end)
    except ValueError:
        return default_period(days), "日期格式应为 2025-01-31"
    if period.end < period.start:
        return default_period(days), "结束日期不能早于开始日期"
    if (period.end - period.start).days > 366 * 2:
        return default_period(days), "一次最多查看两年"
    return period, ""


@router.get("")
def clusters_page(request: Request, user: Reader, start: str = "", end: str = "", channel: str = "",
                  reason: str = "") -> Response:
    period, error = parse_period(start[:10], end[:10], channel[:20])
    reason = reason if reason in REASON_LABELS else ""
    context = app_context(request)
    kb = context.kb.current()
    with session_scope(context.sessions) as session:
        rows = load_open(session, period.start, period.end, period.channel, reason, who=user)
        weekly = svc.weekly_counts(session, who=user)
        total_open = svc.open_count(session, who=user)
    clusters = cluster_queries(rows, kb.synonyms, encoder=kb.index.encoder,  # the KB's own encoder merges
                               merge_similarity=merge_threshold(kb))
    for cluster in clusters[:MAX_CLUSTERS_SHOWN]:
        cluster.suggestions = suggest_entries(kb, cluster)
    categories = {e.id: e.category for e in kb.entries.values()}
    chart = columns([w for w, _ in weekly], {"未答问题": [n for _, n in weekly]}, title="每周未答问题数")
    return render(request, "staff/unanswered.html", {
        "clusters": clusters[:MAX_CLUSTERS_SHOWN], "cluster_total": len(clusters), "question_total": len(rows),
        "period": period, "error": error, "reason": reason, "channels": CHANNEL_LABELS, "reasons": REASON_LABELS,
        "weekly": weekly, "chart": chart, "total_open": total_open, "entry_categories": categories,
        "categories": CATEGORIES, "close_statuses": svc.CLOSE_STATUSES, "this_week": weekly[-1][1] if weekly else 0,
        # A suggestion is ticked for staff only when the dialogue itself would offer it as a choice.
        "preselect_from": PolicyThresholds.from_settings(context.settings).clarify})


@router.post("/add", dependencies=CSRF)
def add_to_entry(request: Request, user: Editor, form: FormFields) -> Response:
    entry_id = (form.get("entry_id_other") or form.get("entry_id") or "").strip()[:80]
    context = app_context(request)
    kb = context.kb.current()
    try:
        if not entry_id:
            raise WorkflowError("请选择要加入的条目")
        ids = svc.parse_ids(form.get("ids", ""))
        with session_scope(context.sessions) as session:
            phrasings = svc.cluster_phrasings(session, ids, user)
        if form.get("confirmed") == "1":
            # Only the phrasings left ticked on the warning page (checkboxes phrase_0, phrase_1 …).
            chosen = [p for i, p in enumerate(phrasings) if form.get(f"phrase_{i}") == p]
        else:
            warnings = svc.phrase_warnings(kb, entry_id, phrasings)
            if warnings:
                entry = kb.get(entry_id)
                return render(request, "staff/unanswered_confirm.html", {
                    "ids": form.get("ids", ""), "entry_id": entry_id, "phrasings": phrasings,
                    "warnings": warnings, "entry_title": entry.title if entry else entry_id})
            chosen = phrasings
        with session_scope(context.sessions) as session:
            draft = svc.add_to_entry(session, ids, entry_id, user, chosen)
            draft_id = draft.id
    except WorkflowError as exc:
        return _error(request, str(exc))
    return redirect(f"/staff/kb/draft/{draft_id}", "cluster_added")


@router.post("/new", dependencies=CSRF)
def new_entry(request: Request, user: Editor, form: FormFields) -> Response:
    category = form.get("category", "")
    try:
        ids = svc.parse_ids(form.get("ids", ""))
        with session_scope(app_context(request).sessions) as session:
            draft = svc.new_entry_from(session, ids, user, category if category in CATEGORIES else "")
            draft_id = draft.id
    except WorkflowError as exc:
        return _error(request, str(exc))
    return redirect(f"/staff/kb/draft/{draft_id}", "draft_created")


@router.post("/close", dependencies=CSRF)
def close(request: Request, user: Editor, form: FormFields) -> Response:
    try:
        ids = svc.parse_ids(form.get("ids", ""))
        with session_scope(app_context(request).sessions) as session:
            svc.close_cluster(session, ids, form.get("status", ""), user)
    except WorkflowError as exc:
        return _error(request, str(exc))
    return redirect("/staff/unanswered", "cluster_closed")


def _error(request: Request, message: str) -> Response:
    return render(request, "staff/error.html", {"message": message, "back": "/staff/unanswered"}, status_code=409)
