"""Community notices: draft → submitted → approved → published → archived, audited like KB entries.

Roles (as ``assistant.console.kb_workflow``): staff (and admin) write, edit and submit; approvers (and admin)
approve, publish, send back and archive; nobody approves what they submitted. Scope
(``assistant.communities.scope``): community staff write and see their community's notices and see the
city-wide ones (``community_code`` NULL) without changing them; another community's notice is "not found".
Every action writes an audit row and announces ``bulletin.changed`` after the commit.

Times in the form are China time (what staff type); they are stored UTC.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from assistant.auth.deps import StaffUser
from assistant.bulletins import NoticeError
from assistant.bulletins.announce import ALL_COMMUNITIES, changed
from assistant.bulletins.models import Notice
from assistant.clock import CHINA, as_utc, now_utc
from assistant.communities.models import Community
from assistant.communities.scope import community_of
from assistant.events.bus import EventBus
from assistant.storage.models import AuditLog

log = logging.getLogger(__name__)

NOTICE_CATEGORIES = ("停水停电", "疫苗接种", "健康服务", "活动", "居务公开", "政策提醒", "安全提示", "其他")
# (label, min age, max age): the audiences staff choose from (None = no bound).
AUDIENCES: tuple[tuple[str, int | None, int | None], ...] = (
    ("全体居民", None, None), ("60岁以上老人", 60, None), ("80岁以上老人", 80, None),
    ("儿童家长（0-6岁）", 0, 6), ("学生（7-18岁）", 7, 18), ("18-59岁居民", 18, 59),
)
STATE_LABELS = {"draft": "草稿", "submitted": "待审核", "approved": "已审核待发布", "published": "已发布",
                "archived": "已下线"}
OPEN_STATES = ("draft", "submitted", "approved")
EDITORS = ("staff",)
REVIEWERS = ("approver",)
TITLE_MAX, BODY_MAX = 60, 1000
MAX_AGE = 120
MAX_VALID_DAYS = 366  # a notice valid longer than a year is a policy page, not a notice
IMAGE_MAX_BYTES = 2 * 1024 * 1024
IMAGE_MAX_PIXELS = 16_000_000  # refused before decoding: a small file can unpack to gigabytes
IMAGE_MAX_SIDE = 1600  # larger pictures are scaled down: the kiosk screen is 1920×1080
IMAGE_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/jpg": "JPEG"}
JPEG_QUALITY = 85


@dataclass(frozen=True)
class NoticeForm:
    title: str
    body: str
    category: str
    community_code: str | None
    audience_min_age: int | None
    audience_max_age: int | None
    valid_from: dt.datetime  # China time as typed (naive = China time)
    valid_to: dt.datetime


class NoticeInvalid(NoticeError):
    """The form has mistakes; ``fields`` maps each field to what to fix (Chinese)."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("；".join(fields.values()))
        self.fields = fields


def audience_label(min_age: int | None, max_age: int | None) -> str:
    for label, low, high in AUDIENCES:
        if (low, high) == (min_age, max_age):
            return label
    if min_age is not None and max_age is not None:
        return f"{min_age}-{max_age}岁居民"
    if min_age is not None:
        return f"{min_age}岁以上居民"
    return f"{max_age}岁以下居民" if max_age is not None else "全体居民"


def china_to_utc(value: dt.datetime) -> dt.datetime:
    """A time staff typed (China time when it has no zone) as stored UTC."""
    return (value.replace(tzinfo=CHINA) if value.tzinfo is None else value).astimezone(dt.UTC)


def _audit(db: Session, user: StaffUser, action: str, notice: Notice, detail: str = "") -> None:
    db.add(AuditLog(actor=user.username, action=action, target=f"notice:{notice.id}",
                    detail=(detail or notice.title)[:2000]))


def _announce(db: Session, bus: EventBus, notice: Notice) -> None:
    changed(db, bus, [notice.community_code or ALL_COMMUNITIES])


def _require(user: StaffUser, roles: tuple[str, ...], what: str) -> None:
    if not user.has_role(*roles):
        raise NoticeError(f"您的角色不能{what}")


def visible(user: StaffUser, notice: Notice) -> bool:
    own = community_of(user)
    return own is None or notice.community_code in (None, own)


def _changeable(user: StaffUser, notice: Notice) -> None:
    own = community_of(user)
    if own is not None and notice.community_code is None:
        raise NoticeError("全市通知只能由市里的工作人员修改")


def get(db: Session, user: StaffUser, notice_id: int) -> Notice:
    notice = db.get(Notice, notice_id)
    if notice is None or not visible(user, notice):
        raise NoticeError("找不到这条通知")
    return notice


def list_for(db: Session, user: StaffUser, status: str | None = None, limit: int = 200) -> list[Notice]:
    query = select(Notice)
    own = community_of(user)
    if own is not None:
        query = query.where((Notice.community_code == own) | Notice.community_code.is_(None))
    if status:
        query = query.where(Notice.status == status)
    return list(db.scalars(query.order_by(Notice.updated_at.desc(), Notice.id.desc()).limit(limit)))


def _validated(db: Session, user: StaffUser, form: NoticeForm) -> dict[str, Any]:
    errors: dict[str, str] = {}
    title, body = form.title.strip(), form.body.strip()
    if not title or len(title) > TITLE_MAX:
        errors["title"] = f"请填写标题（不超过{TITLE_MAX}字）"
    if not body or len(body) > BODY_MAX:
        errors["body"] = f"请填写通知内容（不超过{BODY_MAX}字）"
    if form.category not in NOTICE_CATEGORIES:
        errors["category"] = "请选择通知类别"
    low, high = form.audience_min_age, form.audience_max_age
    if any(a is not None and not 0 <= a <= MAX_AGE for a in (low, high)) or (
            low is not None and high is not None and low > high):
        errors["audience"] = "年龄范围不对"
    start, end = china_to_utc(form.valid_from), china_to_utc(form.valid_to)
    if end <= start:
        errors["valid_to"] = "结束时间要晚于开始时间"
    elif end - start > dt.timedelta(days=MAX_VALID_DAYS):
        errors["valid_to"] = "通知有效期不能超过一年"
    own = community_of(user)
    code = (form.community_code or "").strip() or None
    if own is not None:
        if code not in (None, own):
            errors["community_code"] = "您只能发布本社区的通知"
        code = own
    elif code is not None and db.scalar(select(Community.id).where(Community.code == code,
                                                                   Community.active.is_(True))) is None:
        errors["community_code"] = "没有这个社区"
    if errors:
        raise NoticeInvalid(errors)
    return {"title": title, "body": body, "category": form.category, "community_code": code,
            "audience_min_age": low, "audience_max_age": high, "valid_from": start, "valid_to": end}


def create(db: Session, bus: EventBus, user: StaffUser, form: NoticeForm) -> Notice:
    _require(user, EDITORS, "新建通知")
    notice = Notice(**_validated(db, user, form), status="draft", version=1, created_by=user.username,
                    image_type="")
    db.add(notice)
    db.flush()
    _audit(db, user, "notice.create", notice)
    _announce(db, bus, notice)
    return notice


def _back_to_draft(notice: Notice) -> None:
    """Any edit needs a fresh review. A new version starts only when a reviewed text changes: edits to a draft
    (the text, then its picture, in one save) stay the same version."""
    if notice.status != "draft":
        log.info("notice %s edited during review: back to draft", notice.id)
        notice.version += 1
    notice.status, notice.approved_by = "draft", None


def update(db: Session, bus: EventBus, user: StaffUser, notice_id: int, form: NoticeForm) -> Notice:
    _require(user, EDITORS, "修改通知")
    notice = get(db, user, notice_id)
    _changeable(user, notice)
    if notice.status not in OPEN_STATES:
        raise NoticeError("已发布或已下线的通知不能再改，请新建一条")
    for name, value in _validated(db, user, form).items():
        setattr(notice, name, value)
    _back_to_draft(notice)
    _audit(db, user, "notice.update", notice)
    _announce(db, bus, notice)
    return notice


def submit(db: Session, bus: EventBus, user: StaffUser, notice_id: int) -> Notice:
    _require(user, EDITORS, "提交审核")
    notice = get(db, user, notice_id)
    _changeable(user, notice)
    if notice.status != "draft":
        raise NoticeError("只有草稿可以提交审核")
    notice.status, notice.submitted_by = "submitted", user.username
    _audit(db, user, "notice.submit", notice)
    _announce(db, bus, notice)
    return notice


def approve(db: Session, bus: EventBus, user: StaffUser, notice_id: int) -> Notice:
    _require(user, REVIEWERS, "审核")
    notice = get(db, user, notice_id)
    _changeable(user, notice)
    if notice.status != "submitted":
        raise NoticeError("只有待审核的通知可以审核通过")
    if user.username in (notice.submitted_by, notice.created_by):
        raise NoticeError("不能审核自己写或提交的通知，请另一位审核人审核")
    notice.status, notice.approved_by = "approved", user.username
    _audit(db, user, "notice.approve", notice)
    _announce(db, bus, notice)
    return notice


def reject(db: Session, bus: EventBus, user: StaffUser, notice_id: int, reason: str = "") -> Notice:
    _require(user, REVIEWERS, "退回")
    notice = get(db, user, notice_id)
    _changeable(user, notice)
    if notice.status not in ("submitted", "approved"):
        raise NoticeError("只有待审核或已审核的通知可以退回")
    notice.status, notice.approved_by = "draft", None
    _audit(db, user, "notice.reject", notice, f"{notice.title}：{reason.strip()[:200]}")
    _announce(db, bus, notice)
    return notice


def publish(db: Session, bus: EventBus, user: StaffUser, notice_id: int, now: dt.datetime | None = None) -> Notice:
    _require(user, REVIEWERS, "发布")
    now = as_utc(now) or now_utc()
    notice = get(db, user, notice_id)
    _changeable(user, notice)
    if notice.status != "approved":
        raise NoticeError("审核通过后才能发布")
    if as_utc(notice.valid_to) <= now:  # type: ignore[operator]
        raise NoticeError("这条通知已过了有效期，请修改时间后重新提交")
    notice.status, notice.published_by, notice.published_at = "published", user.username, now
    _audit(db, user, "notice.publish", notice)
    _announce(db, bus, notice)
    return notice


def archive(db: Session, bus: EventBus, user: StaffUser, notice_id: int) -> Notice:
    _require(user, REVIEWERS, "下线通知")
    notice = get(db, user, notice_id)
    _changeable(user, notice)
    if notice.status == "archived":
        raise NoticeError("这条通知已经下线")
    notice.status = "archived"
    _audit(db, user, "notice.archive", notice)
    _announce(db, bus, notice)
    return notice


def clean_image(data: bytes, content_type: str) -> tuple[bytes, str]:
    """A picture staff uploaded, checked and re-encoded: PNG or JPEG, ≤ 2 MB, decoded by Pillow, scaled to
    ``IMAGE_MAX_SIDE``, with every piece of metadata (EXIF with its GPS position, text chunks) dropped."""
    kind = IMAGE_TYPES.get((content_type or "").split(";")[0].strip().lower())
    if kind is None:
        raise NoticeInvalid({"image": "图片只能是 PNG 或 JPG 格式"})
    if not data or len(data) > IMAGE_MAX_BYTES:
        raise NoticeInvalid({"image": "图片不能超过 2 MB"})
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format != kind:
                raise NoticeInvalid({"image": "图片格式和文件类型不符"})
            width, height = probe.size
            if width * height > IMAGE_MAX_PIXELS:
                raise NoticeInvalid({"image": "图片尺寸太大"})
            probe.verify()  # a truncated or corrupt file is refused here, before it is decoded
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            picture = image.convert("RGBA" if kind == "PNG" and "A" in image.getbands() else "RGB")
    except NoticeInvalid:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise NoticeInvalid({"image": "这不是一张能打开的图片"}) from exc
    picture.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))
    out = io.BytesIO()
    if kind == "PNG":
        picture.save(out, "PNG", optimize=True)
    else:
        picture.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), "image/png" if kind == "PNG" else "image/jpeg"


def set_image(db: Session, bus: EventBus, user: StaffUser, notice_id: int, data: bytes | None,
              content_type: str = "") -> Notice:
    """Attaches (or, with ``data`` None, removes) the notice's picture; an edit, so back to draft."""
    _require(user, EDITORS, "修改通知")
    notice = get(db, user, notice_id)
    _changeable(user, notice)
    if notice.status not in OPEN_STATES:
        raise NoticeError("已发布或已下线的通知不能再改，请新建一条")
    if data is None:
        notice.image, notice.image_type = None, ""
    else:
        notice.image, notice.image_type = clean_image(data, content_type)
    _back_to_draft(notice)
    _audit(db, user, "notice.image", notice, f"{notice.title}：{'删除图片' if data is None else '上传图片'}")
    _announce(db, bus, notice)
    return notice


def image_of(db: Session, notice_id: int) -> tuple[bytes, str] | None:
    """A published notice's picture for its public URL; None for any other notice."""
    notice = db.scalar(select(Notice).options(undefer(Notice.image)).where(Notice.id == notice_id,
                                                                             Notice.status == "published"))
    if notice is None or not notice.image or not notice.image_type:
        return None
    return notice.image, notice.image_type
