"""「社区通知」 pages (``/staff/notices``): the list, the editor with the resident's preview, the workflow buttons.

The workflow and its rules live in ``assistant.bulletins.notices`` (draft → submitted → approved → published →
archived; nobody approves their own submission; community staff only their community): these routes turn the
form into a ``NoticeForm``, call it, and show its refusals in Chinese. A notice of another community opened by
its URL is "not found", as everywhere in the console (``assistant.communities.scope``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from assistant.auth.deps import StaffUser
from assistant.bulletins import NoticeError
from assistant.bulletins import notices as svc
from assistant.bulletins.board import dates_text
from assistant.clock import CHINA, china_time
from assistant.communities.scope import CITY_LABEL, choices, community_of
from assistant.console import FormInvalid
from assistant.console.templating import render
from assistant.console.web import CSRF, Editor, FormFields, Reader, app_context, redirect
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)

router = APIRouter(prefix="/staff/notices", include_in_schema=False)

STATUSES = ("draft", "submitted", "approved", "published", "archived")
CITY_CHOICE = "city"  # the community select's value for 全市 (every community of the city)
FORM_TIME = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows
UPLOAD_READ_LIMIT = 4 * 1024 * 1024  # read no more than this of an upload; the service refuses above its own limit
# Messages after a redirect are chosen by code, so a crafted link cannot put words on the page.
DONE = {"created": "已保存草稿。", "saved": "已保存。", "submitted": "已提交审核。", "approved": "已审核通过。",
        "published": "已发布，居民几秒内就能在自助机和网页上看到。", "archived": "已下线，居民不再看到这条通知。",
        "rejected": "已退回修改。"}
ACTIONS = ("submit", "approve", "publish", "archive", "reject")
SERVICE_FIELDS = {"community_code": "community"}  # the service's field names that differ from the form's


def audiences() -> list[tuple[str, str, int | None, int | None]]:
    """(form value, label, min age, max age) of the audience presets of the service."""
    return [(_audience_key(lo, hi), label, lo, hi) for label, lo, hi in svc.AUDIENCES]


def _audience_key(lo: int | None, hi: int | None) -> str:
    return f"{'' if lo is None else lo}-{'' if hi is None else hi}"


def _local(value: dt.datetime | None) -> str:
    return china_time(value, FORM_TIME)


def _community_names(request: Request) -> dict[str, str]:
    return {c.code: c.label for c in app_context(request).communities.all()}


def _view(notice: Any, names: dict[str, str]) -> dict[str, Any]:
    code = notice.community_code
    return {"id": notice.id, "title": notice.title, "body": notice.body, "category": notice.category,
            "status": notice.status, "version": notice.version,
            "community": names.get(code, code) if code else CITY_LABEL,
            "audience": svc.audience_label(notice.audience_min_age, notice.audience_max_age),
            "community_code": code,
            "valid_from": china_time(notice.valid_from), "valid_to": china_time(notice.valid_to),
            "created_by": notice.created_by or "", "submitted_by": notice.submitted_by or "",
            "approved_by": notice.approved_by or "", "published_by": notice.published_by or "",
            "updated_at": china_time(notice.updated_at), "has_image": bool(notice.image_type)}


def _values(notice: Any) -> dict[str, str]:
    """The form's fields for a stored notice."""
    return {"title": notice.title, "body": notice.body, "category": notice.category,
            "audience": _audience_key(notice.audience_min_age, notice.audience_max_age),
            "valid_from": _local(notice.valid_from), "valid_to": _local(notice.valid_to),
            "community": notice.community_code or CITY_CHOICE}


def _parse_time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text.strip(), FORM_TIME).replace(tzinfo=CHINA)
    except ValueError:
        return None


def parse_form(form: dict[str, str], user: StaffUser, known: list[str]) -> svc.NoticeForm:
    """The posted fields as a ``NoticeForm``, or ``FormInvalid`` with a Chinese message per field."""
    errors: dict[str, str] = {}
    title, body = form.get("title", "").strip(), form.get("body", "").strip()
    if not title:
        errors["title"] = "请填写标题"
    if not body:
        errors["body"] = "请填写通知内容"
    category = form.get("category", "").strip()
    if category not in svc.NOTICE_CATEGORIES:
        errors["category"] = "请选择分类"
    bounds = {key: (lo, hi) for key, _label, lo, hi in audiences()}
    audience = bounds.get(form.get("audience", ""))
    if audience is None:
        errors["audience"] = "请选择通知对象"
    start, end = _parse_time(form.get("valid_from", "")), _parse_time(form.get("valid_to", ""))
    if start is None:
        errors["valid_from"] = "请填写开始时间（年-月-日 时:分）"
    if end is None:
        errors["valid_to"] = "请填写结束时间（年-月-日 时:分）"
    if start and end and end <= start:
        errors["valid_to"] = "结束时间要晚于开始时间"
    community = community_of(user)
    if community is None:  # city staff choose one community or the whole city
        choice = form.get("community", "")
        if choice != CITY_CHOICE and choice not in known:
            errors["community"] = "请选择社区，或选「全市」"
        community = None if choice == CITY_CHOICE else choice
    if errors or audience is None or start is None or end is None:
        raise FormInvalid(errors)
    lo, hi = audience
    return svc.NoticeForm(title=title, body=body, category=category, community_code=community,
                          audience_min_age=lo, audience_max_age=hi, valid_from=start, valid_to=end)


async def _upload(request: Request) -> tuple[bytes, str] | None:
    """The image of a multipart form, if one was chosen (the form is parsed once and cached by Starlette)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return None
    item = (await request.form()).get("image")
    if not isinstance(item, UploadFile) or not item.filename:
        return None
    data = await item.read(UPLOAD_READ_LIMIT + 1)
    return data, item.content_type or ""


# A dependency, so that the routes stay synchronous (their database calls must not block the event loop).
Upload = Annotated[tuple[bytes, str] | None, Depends(_upload)]


# ---------------------------------------------------------------- pages

@router.get("")
def notice_list(request: Request, user: Reader, status: str = "", community: str = "",
                category: str = "") -> Response:
    status = status if status in STATUSES else ""
    category = category if category in svc.NOTICE_CATEGORIES else ""
    names = _community_names(request)
    with session_scope(app_context(request).sessions) as db:
        rows = [_view(n, names) for n in svc.list_for(db, user, status=status or None)
                if (not category or n.category == category)
                and (not community or (n.community_code or CITY_CHOICE) == community)]
    return render(request, "staff/notices.html", {
        "rows": rows, "status": status, "community": community, "category": category, "statuses": STATUSES,
        "categories": svc.NOTICE_CATEGORIES, "city_choice": CITY_CHOICE,
        "communities": choices(app_context(request)) if community_of(user) is None else []})


@router.get("/new")
def new_form(request: Request, user: Editor) -> Response:
    return _edit_page(request, user, None, {}, {})


@router.post("/new", dependencies=CSRF)
def create(request: Request, user: Editor, form: FormFields, upload: Upload) -> Response:
    context = app_context(request)
    try:
        notice_form = parse_form(form, user, list(_community_names(request)))
        with session_scope(context.sessions) as db:
            notice = svc.create(db, context.events, user, notice_form)
            db.flush()
            if upload:
                svc.set_image(db, context.events, user, notice.id, *upload)
            notice_id = notice.id
    except FormInvalid as exc:
        return _edit_page(request, user, None, form, exc.errors, status_code=422)
    except NoticeError as exc:
        return _edit_page(request, user, None, form, _field_of(exc), status_code=422)
    return redirect(f"/staff/notices/{notice_id}", done="created")


@router.get("/{notice_id}")
def edit_page(request: Request, notice_id: int, user: Reader) -> Response:
    return _edit_page(request, user, notice_id, None, {})


@router.post("/{notice_id}", dependencies=CSRF)
def save(request: Request, notice_id: int, user: Editor, form: FormFields, upload: Upload) -> Response:
    context = app_context(request)
    submit = form.get("action") == "submit"
    try:
        notice_form = parse_form(form, user, list(_community_names(request)))
        with session_scope(context.sessions) as db:
            _notice_or_404(db, user, notice_id)
            svc.update(db, context.events, user, notice_id, notice_form)
            if upload:
                svc.set_image(db, context.events, user, notice_id, *upload)
            if submit:
                db.flush()
                svc.submit(db, context.events, user, notice_id)
    except FormInvalid as exc:
        return _edit_page(request, user, notice_id, form, exc.errors, status_code=422)
    except NoticeError as exc:
        return _edit_page(request, user, notice_id, form, _field_of(exc), status_code=409)
    return redirect(f"/staff/notices/{notice_id}", done="submitted" if submit else "saved")


@router.post("/{notice_id}/{action}", dependencies=CSRF)
def workflow(request: Request, notice_id: int, action: str, user: Reader, form: FormFields) -> Response:
    if action not in ACTIONS:
        raise HTTPException(404)
    bus = app_context(request).events
    try:
        with session_scope(app_context(request).sessions) as db:
            _notice_or_404(db, user, notice_id)
            if action == "reject":
                reason = form.get("reason", "").strip()
                if not reason:
                    raise NoticeError("请写明退回的原因")
                svc.reject(db, bus, user, notice_id, reason)
            else:
                getattr(svc, action)(db, bus, user, notice_id)
    except NoticeError as exc:
        message = str(exc)
        return render(request, "staff/error.html", {"message": message, "back": f"/staff/notices/{notice_id}"},
                      status_code=403 if "角色" in message or "自己" in message else 409)
    done = {"submit": "submitted", "approve": "approved", "publish": "published", "archive": "archived",
            "reject": "rejected"}[action]
    return redirect(f"/staff/notices/{notice_id}", done=done)


@router.get("/{notice_id}/image")
def staff_image(request: Request, notice_id: int, user: Reader) -> Response:
    """The notice's image as staff see it in the editor (any state; the public URL serves published ones)."""
    with session_scope(app_context(request).sessions) as db:
        notice = _notice_or_404(db, user, notice_id)
        data, kind = notice.image, notice.image_type
    if not data:
        raise HTTPException(404)
    return Response(data, media_type=kind or "application/octet-stream",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


# ---------------------------------------------------------------- helpers

def _notice_or_404(db: Any, user: StaffUser, notice_id: int) -> Any:
    try:
        notice = svc.get(db, user, notice_id)
    except NoticeError as exc:  # another community's notice: as if it were not there
        raise HTTPException(404) from exc
    if notice is None:
        raise HTTPException(404)
    return notice


def _field_of(exc: NoticeError) -> dict[str, str]:
    """A refusal of the service: at its fields when it names them, else above the form (Chinese either way)."""
    if isinstance(exc, svc.NoticeInvalid) and exc.fields:
        return {SERVICE_FIELDS.get(name, name): message for name, message in exc.fields.items()}
    return {"_": str(exc)}


def _edit_page(request: Request, user: StaffUser, notice_id: int | None, values: dict[str, str] | None,
               errors: dict[str, str], *, status_code: int = 200) -> Response:
    names = _community_names(request)
    notice = None
    if notice_id is not None:
        with session_scope(app_context(request).sessions) as db:
            stored = _notice_or_404(db, user, notice_id)
            notice = _view(stored, names)
            if values is None:
                values = _values(stored)
    values = dict(values or {})
    if notice is None and not values:
        values = {"audience": _audience_key(None, None), "community": community_of(user) or CITY_CHOICE}
    done = DONE.get(request.query_params.get("done", ""), "")
    own = community_of(user)
    return render(request, "staff/notice_edit.html", {
        "notice": notice, "values": values, "errors": errors, "done": done,
        "categories": svc.NOTICE_CATEGORIES, "audiences": audiences(), "city_choice": CITY_CHOICE,
        "communities": choices(app_context(request)) if own is None else [],
        "own_community": names.get(own, own) if own else "",
        "preview": _preview(values, notice), "can_edit": _can_edit(user, notice),
        "buttons": _buttons(user, notice)}, status_code=status_code)


def _preview(values: dict[str, str], notice: dict[str, Any] | None) -> dict[str, str]:
    """What a resident would see: the title, the dates in China time, the body (from the form as it is now)."""
    start, end = _parse_time(values.get("valid_from", "")), _parse_time(values.get("valid_to", ""))
    dates = dates_text(start, end) if start and end else ""  # as the kiosk and the web chat write them
    bounds = {key: label for key, label, _lo, _hi in audiences()}
    return {"title": values.get("title", ""), "body": values.get("body", ""), "dates": dates,
            "category": values.get("category", ""), "audience": bounds.get(values.get("audience", ""), "")}


def _can_edit(user: StaffUser, notice: dict[str, Any] | None) -> bool:
    if not user.has_role("staff"):
        return False
    if notice is None:
        return True
    return notice["status"] in svc.OPEN_STATES and _changeable(user, notice)


def _changeable(user: StaffUser, notice: dict[str, Any]) -> bool:
    """Community staff read the city-wide notices but do not change them (the service's rule)."""
    return community_of(user) is None or notice["community_code"] is not None


def _buttons(user: StaffUser, notice: dict[str, Any] | None) -> list[str]:
    """The workflow buttons this user has on this notice now (the service refuses the same things anyway)."""
    if notice is None or not _changeable(user, notice):
        return []
    status, reviewer = notice["status"], user.has_role("approver")
    own_work = user.username in (notice["submitted_by"], notice["created_by"])
    shown: list[str] = []
    if status == "draft" and user.has_role("staff"):
        shown.append("submit")
    if status == "submitted" and reviewer and not own_work:  # nobody approves their own notice
        shown.append("approve")
    if status == "approved" and reviewer:
        shown.append("publish")
    if status in ("submitted", "approved") and reviewer:
        shown.append("reject")
    if status == "published" and reviewer:
        shown.append("archive")
    return shown
