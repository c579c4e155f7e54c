"""Knowledge-base pages: list and filter, entry and history, the draft editor with 试一试, review queue."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import select

from assistant.clock import china_time, today_china
from assistant.console import FormInvalid, WorkflowError
from assistant.console import kb_workflow as wf
from assistant.console.diffing import entry_diff
from assistant.console.entry_form import FIELD_LABELS, entry_to_form, parse_entry_form
from assistant.console.models import KbDraft
from assistant.console.templating import render
from assistant.console.trial import EditedKbCache, clean_query, run_trial
from assistant.console.web import CSRF, Editor, FormFields, Reader, Reviewer, app_context, redirect
from assistant.storage.db import session_scope
from assistant.storage.models import KbEntryRow
from knowledge_base.content_checks import is_due, split_links
from knowledge_base.models import ASPECTS, CATEGORIES

log = logging.getLogger(__name__)

router = APIRouter(prefix="/staff/kb", include_in_schema=False)
_edited_kbs = EditedKbCache()
DUE_WITHIN_DAYS = 30


def due_cutoff(today: dt.date | None = None) -> dt.date:
    return (today or today_china()) + dt.timedelta(days=DUE_WITHIN_DAYS)


def _row_view(row: KbEntryRow, draft: KbDraft | None, today: dt.date | None = None) -> dict[str, Any]:
    data = row.data
    return {"id": row.id, "title": data.get("title", ""), "category": CATEGORIES.get(row.category, row.category),
            "status": row.status, "version": row.version, "review_by": data.get("review_by") or "",
            "updated_by": row.updated_by, "draft": draft, "questions": len(data.get("questions") or []),
            # 待复核: a published entry whose review date has passed or falls within DUE_WITHIN_DAYS
            "due": row.status == "published" and is_due(data.get("review_by"), today or today_china(),
                                                        DUE_WITHIN_DAYS)}


@router.get("")
def entry_list(request: Request, user: Reader, q: str = "", category: str = "", status: str = "",
               due: str = "", trial: str = "") -> Response:
    q, category, status = q.strip()[:80], category[:20], status[:20]
    today = today_china()
    cutoff = due_cutoff(today).isoformat()
    due_count = 0
    with session_scope(app_context(request).sessions) as session:
        drafts = {d.entry_id: d for d in session.scalars(select(KbDraft).where(KbDraft.state.in_(wf.OPEN_STATES)))}
        rows = []
        for row in session.scalars(select(KbEntryRow).order_by(KbEntryRow.category, KbEntryRow.id)):
            if not wf.visible_to(user, row):
                continue
            data = row.data
            due_count += row.status == "published" and is_due(data.get("review_by"), today, DUE_WITHIN_DAYS)
            if category and row.category != category:
                continue
            if status == "in_review" and row.id not in drafts:
                continue
            if status in ("published", "archived", "draft") and row.status != status:
                continue
            if due and not (data.get("review_by") and str(data["review_by"]) <= cutoff):
                continue
            if q and not any(q in str(text) for text in (row.id, data.get("title"), data.get("answer"),
                                                           *(data.get("questions") or []))):
                continue
            rows.append(_row_view(row, drafts.get(row.id), today))
        new_drafts = [d for d in drafts.values() if d.base_version is None]
    trial_result, trial_error = None, ""
    if trial:
        query, trial_error = clean_query(trial)
        if query:
            trial_result = run_trial(app_context(request).kb.current(), query)
    return render(request, "staff/kb_list.html", {
        "rows": rows, "new_drafts": new_drafts, "q": q, "category": category, "status": status, "due": due,
        "categories": CATEGORIES, "trial": trial[:200], "trial_result": trial_result, "trial_error": trial_error,
        "states": wf.STATE_LABELS, "due_count": due_count, "due_days": DUE_WITHIN_DAYS})


@router.get("/due")
def due_list(request: Request, user: Reader) -> Response:
    today = today_china()
    cutoff = due_cutoff(today)
    with session_scope(app_context(request).sessions) as session:
        rows = []
        for row in session.scalars(select(KbEntryRow).where(KbEntryRow.status == "published")):
            review_by = row.data.get("review_by")
            if review_by and dt.date.fromisoformat(str(review_by)) <= cutoff:
                view = _row_view(row, None)
                view["overdue"] = dt.date.fromisoformat(str(review_by)) < today
                rows.append(view)
    rows.sort(key=lambda r: str(r["review_by"]))
    return render(request, "staff/kb_due.html", {"rows": rows, "days": DUE_WITHIN_DAYS, "today": today})


@router.get("/review")
def review_queue(request: Request, user: Reader) -> Response:
    with session_scope(app_context(request).sessions) as session:
        items = []
        for draft in wf.review_queue(session):
            row = wf.live_row(session, draft.entry_id)
            items.append({"draft": draft, "diff": entry_diff(row.data if row else {}, draft.data, with_status=False),
                          "is_new": row is None})
        drafts = wf.my_drafts(session)
    return render(request, "staff/kb_review.html", {"items": items, "drafts": drafts, "states": wf.STATE_LABELS})


@router.get("/entry/{entry_id}")
def entry_page(request: Request, entry_id: str, user: Reader, a: int | None = None,
               b: int | None = None) -> Response:
    with session_scope(app_context(request).sessions) as session:
        row = wf.live_row(session, entry_id)
        if row is None or not wf.visible_to(user, row):  # another community's row: as if it were not there
            raise HTTPException(404)
        history = wf.versions(session, entry_id)
        draft = wf.open_draft(session, entry_id)
        diff, diff_pair = None, None
        numbers = sorted({v.version for v in history})
        if len(numbers) > 1:
            b_version = b if b in numbers else numbers[-1]
            earlier = [n for n in numbers if n < b_version]
            a_version = a if a in numbers else (earlier[-1] if earlier else b_version)
            diff = entry_diff(wf.version_data(session, entry_id, a_version),
                              wf.version_data(session, entry_id, b_version))
            diff_pair = (a_version, b_version)
        data = dict(row.data)
    # 上次核对: when the live content was last published (the version history records it; no extra field)
    published = [v for v in history if v.status == "published"]
    last_checked = china_time(published[0].created_at, "%Y-%m-%d") if published else ""
    policy_pieces = split_links((data.get("aspects") or {}).get("policy"))
    return render(request, "staff/kb_entry.html", {
        "row": row, "data": data, "history": history, "draft": draft, "diff": diff, "diff_pair": diff_pair,
        "aspects": ASPECTS, "categories": CATEGORIES, "states": wf.STATE_LABELS,
        "last_checked": last_checked, "policy_pieces": policy_pieces,
        "review_due": row.status == "published" and is_due(data.get("review_by"), today_china(), DUE_WITHIN_DAYS)})


@router.post("/entry/{entry_id}/edit", dependencies=CSRF)
def start_edit(request: Request, entry_id: str, user: Editor) -> Response:
    try:
        with session_scope(app_context(request).sessions) as session:
            draft = wf.start_edit(session, entry_id, user)
            draft_id = draft.id
    except WorkflowError as exc:
        raise HTTPException(404) from exc
    return redirect(f"/staff/kb/draft/{draft_id}")


@router.get("/entry/{entry_id}/rollback")
def rollback_confirm(request: Request, entry_id: str, user: Reviewer, version: str = "") -> Response:
    """What a rollback would publish, before anything changes (the publish is the POST with ``confirmed``)."""
    try:
        return _rollback_page(request, entry_id, int(version))
    except (ValueError, WorkflowError) as exc:
        return _entry_error(request, entry_id, exc)


def _rollback_page(request: Request, entry_id: str, version: int) -> Response:
    with session_scope(app_context(request).sessions) as session:
        preview = wf.rollback_preview(session, entry_id, version)
    return render(request, "staff/kb_rollback.html", {
        "entry_id": entry_id, "version": version, "live_version": preview.live_version, "title": preview.title,
        "diff": entry_diff(preview.live, preview.target)})


@router.post("/entry/{entry_id}/rollback", dependencies=CSRF)
def rollback(request: Request, entry_id: str, user: Reviewer, form: FormFields) -> Response:
    try:
        version = int(form.get("version", ""))
        if form.get("confirmed") != "1":  # a form from an old page, or a crafted one: show the confirmation
            return _rollback_page(request, entry_id, version)
        with session_scope(app_context(request).sessions) as session:
            wf.rollback(session, entry_id, version, user)
    except (ValueError, WorkflowError) as exc:
        return _entry_error(request, entry_id, exc)
    app_context(request).kb.refresh()
    return redirect(f"/staff/kb/entry/{entry_id}", "rolled_back")


@router.post("/entry/{entry_id}/archive", dependencies=CSRF)
def archive(request: Request, entry_id: str, user: Reviewer) -> Response:
    try:
        with session_scope(app_context(request).sessions) as session:
            wf.archive(session, entry_id, user)
    except WorkflowError as exc:
        return _entry_error(request, entry_id, exc)
    app_context(request).kb.refresh()
    return redirect(f"/staff/kb/entry/{entry_id}", "archived")


def _entry_error(request: Request, entry_id: str, exc: Exception) -> Response:
    message = str(exc) if isinstance(exc, WorkflowError) else "版本号不正确"
    return render(request, "staff/error.html", {"message": message, "back": f"/staff/kb/entry/{entry_id}"},
                  status_code=409)


# ---------------------------------------------------------------- drafts

@router.get("/new")
def new_entry_form(request: Request, user: Editor) -> Response:
    values = entry_to_form({"region": "广西"})
    return _draft_page(request, None, values, {}, status_code=200)


@router.post("/new", dependencies=CSRF)
def create_entry(request: Request, user: Editor, form: FormFields) -> Response:
    try:
        entry = parse_entry_form(form)
        with session_scope(app_context(request).sessions) as session:
            draft = wf.new_draft(session, entry.model_dump(mode="json"), user, "new", form.get("note", ""))
            draft_id = draft.id
    except FormInvalid as exc:
        return _draft_page(request, None, form, exc.errors, status_code=422)
    return redirect(f"/staff/kb/draft/{draft_id}", "saved")


@router.get("/draft/{draft_id}")
def draft_page(request: Request, draft_id: int, user: Reader, q: str = "") -> Response:
    with session_scope(app_context(request).sessions) as session:
        draft = _draft_or_404(session, draft_id)
        values = entry_to_form(draft.data)
        values["note"] = draft.note
    return _draft_page(request, draft_id, values, {}, trial=q)


def _draft_page(request: Request, draft_id: int | None, values: dict[str, str], errors: dict[str, str],
                *, status_code: int = 200, trial: str = "", error: str = "") -> Response:
    context = app_context(request)
    draft, live, diff = None, None, []
    before = after = None
    trial_error = ""
    if draft_id is not None:
        with session_scope(context.sessions) as session:
            draft = _draft_or_404(session, draft_id)
            row = wf.live_row(session, draft.entry_id)
            live = dict(row.data) if row else None
            live_version = row.version if row else None
            diff = entry_diff(live or {}, draft.data, with_status=False)
        stale = draft.base_version != live_version
    else:
        stale = False
    if trial:
        query, trial_error = clean_query(trial)
        if query:
            kb = context.kb.current()
            before = run_trial(kb, query)
            if draft is not None:
                try:
                    edited = wf.draft_entry(draft)
                    after = run_trial(_edited_kbs.get(kb, edited, context.settings.tokenizer), query)
                except FormInvalid:
                    trial_error = "草稿还不完整，补全并保存后才能试修改后的效果"
    return render(request, "staff/kb_draft.html", {
        "draft": draft, "values": values, "errors": errors, "live": live, "diff": diff, "stale": stale,
        "labels": FIELD_LABELS, "aspects": ASPECTS, "categories": CATEGORIES, "states": wf.STATE_LABELS,
        "trial": trial[:200], "before": before, "after": after, "trial_error": trial_error, "error": error,
    }, status_code=status_code)


def _draft_or_404(session, draft_id: int) -> KbDraft:
    draft = session.get(KbDraft, draft_id)
    if draft is None:
        raise HTTPException(404)
    return draft


@router.post("/draft/{draft_id}", dependencies=CSRF)
def save_draft(request: Request, draft_id: int, user: Editor, form: FormFields) -> Response:
    action = form.get("action", "save")
    try:
        with session_scope(app_context(request).sessions) as session:
            draft = _draft_or_404(session, draft_id)
            entry = parse_entry_form(form, version=max(draft.base_version or 1, 1))
            wf.save_draft(session, draft, entry, user, form.get("note", ""))
            if action == "submit":
                session.flush()
                wf.submit(session, draft, user)
    except FormInvalid as exc:
        return _draft_page(request, draft_id, form, exc.errors, status_code=422)
    except WorkflowError as exc:
        return _draft_page(request, draft_id, form, {}, status_code=409, error=str(exc))
    return redirect(f"/staff/kb/draft/{draft_id}", "submitted" if action == "submit" else "saved")


_ACTIONS = {"approve": ("approved", wf.approve), "publish": ("published", wf.publish),
            "withdraw": ("", wf.withdraw), "submit": ("submitted", wf.submit)}


@router.post("/draft/{draft_id}/{action}", dependencies=CSRF)
def draft_action(request: Request, draft_id: int, action: str, user: Reader, form: FormFields) -> Response:
    if action not in (*_ACTIONS, "reject"):
        raise HTTPException(404)
    try:
        with session_scope(app_context(request).sessions) as session:
            draft = _draft_or_404(session, draft_id)
            if action == "reject":
                reason = form.get("reason", "").strip()
                if not reason:
                    raise WorkflowError("请写明退回的原因")
                wf.reject(session, draft, user, reason)
            else:
                _ACTIONS[action][1](session, draft, user)
            entry_id = draft.entry_id
    except FormInvalid as exc:
        with session_scope(app_context(request).sessions) as session:
            values = entry_to_form(_draft_or_404(session, draft_id).data)
        return _draft_page(request, draft_id, values, exc.errors, status_code=422)
    except WorkflowError as exc:
        return render(request, "staff/error.html", {"message": str(exc), "back": f"/staff/kb/draft/{draft_id}"},
                      status_code=403 if "角色" in str(exc) else 409)
    if action == "publish":
        app_context(request).kb.refresh()  # this worker at once; the others at their next revision check
        return redirect(f"/staff/kb/entry/{entry_id}", "published")
    if action == "withdraw":
        return redirect("/staff/kb", "")
    return redirect(f"/staff/kb/draft/{draft_id}", _ACTIONS.get(action, ("rejected",))[0] or "rejected")
