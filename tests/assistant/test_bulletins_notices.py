"""Notices: the draft → submitted → approved → published → archived workflow, roles, nobody approving their own
submission, community scope, form checks, pictures (not an image, too big, metadata stripped), audit rows."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import select

from assistant.auth.deps import StaffUser
from assistant.bulletins import NoticeError
from assistant.bulletins import notices as svc
from assistant.bulletins.models import Notice
from assistant.bulletins.notices import NoticeForm, NoticeInvalid, audience_label
from assistant.communities.directory import import_community
from assistant.context import AppContext, create_context
from assistant.events.bus import BULLETIN_CHANGED
from assistant.settings import Settings
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog

A, B = "zhuxi", "tinghong"
WRITER, WRITER_B, REVIEWER, REVIEWER2 = (StaffUser("wa", "staff", community=A), StaffUser("wb", "staff", community=B),
                                         StaffUser("ra", "approver", community=A), StaffUser("boss", "admin"))
CITY = StaffUser("city", "staff")
START = dt.datetime(2026, 12, 5, 8, 0)  # China time, as typed in the form
NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def form(**changes: object) -> NoticeForm:
    fields = {"title": "12月5日停水通知", "body": "因管道维修，竹溪社区1至5栋12月5日8点至18点停水，请提前储水。",
              "category": "停水停电", "community_code": A, "audience_min_age": None, "audience_max_age": None,
              "valid_from": START, "valid_to": START.replace(hour=18)}
    return NoticeForm(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.fixture
def ctx(settings: Settings) -> Iterator[AppContext]:
    context = create_context(settings)
    try:
        with session_scope(context.sessions) as db:
            import_community(db, A, {"name": "竹溪社区"}, street="新竹街道", district="青秀区")
            import_community(db, B, {"name": "亭洪社区"}, street="亭洪街道", district="江南区")
        yield context
    finally:
        context.close()


def act(context: AppContext, name: str, user: StaffUser, *args: object, **kwargs: object) -> Notice:
    with session_scope(context.sessions) as db:
        notice = getattr(svc, name)(db, context.events, user, *args, **kwargs)
        db.flush()
        db.expunge(notice)
        return notice


def png(size: tuple[int, int] = (40, 30), **info: str) -> bytes:
    meta = PngImagePlugin.PngInfo()
    for key, value in info.items():
        meta.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG", pnginfo=meta)
    return out.getvalue()


def test_the_whole_workflow_with_roles_and_audit(ctx: AppContext) -> None:
    notice = act(ctx, "create", WRITER, form())
    assert (notice.status, notice.community_code, notice.version) == ("draft", A, 1)
    assert notice.valid_from.replace(tzinfo=dt.UTC) == dt.datetime(2026, 12, 5, 0, 0, tzinfo=dt.UTC)  # stored UTC
    with pytest.raises(NoticeError, match="角色"):
        act(ctx, "approve", WRITER, notice.id)
    act(ctx, "submit", WRITER, notice.id)
    with pytest.raises(NoticeError, match="角色"):
        act(ctx, "publish", WRITER, notice.id)
    with pytest.raises(NoticeError, match="审核通过后"):
        act(ctx, "publish", REVIEWER, notice.id)
    act(ctx, "approve", REVIEWER, notice.id)
    published = act(ctx, "publish", REVIEWER, notice.id, now=NOW)
    assert (published.status, published.published_by, published.approved_by) == ("published", "ra", "ra")
    with pytest.raises(NoticeError, match="不能再改"):
        act(ctx, "update", WRITER, notice.id, form(title="改"))
    assert act(ctx, "archive", REVIEWER, notice.id).status == "archived"
    with session_scope(ctx.sessions) as db:
        rows = [(r.actor, r.action) for r in db.scalars(select(AuditLog).where(
            AuditLog.target == f"notice:{notice.id}").order_by(AuditLog.id))]
    assert rows == [("wa", "notice.create"), ("wa", "notice.submit"), ("ra", "notice.approve"),
                    ("ra", "notice.publish"), ("ra", "notice.archive")]
    events = [e.data for e in ctx.events.since(0, 1000) if e.kind == BULLETIN_CHANGED]
    assert len(events) == 5 and all(e == {"communities": [A], "all": False} for e in events)


def test_nobody_approves_their_own_submission(ctx: AppContext) -> None:
    notice = act(ctx, "create", REVIEWER2, form())  # an admin writes and submits …
    act(ctx, "submit", REVIEWER2, notice.id)
    with pytest.raises(NoticeError, match="不能审核自己"):
        act(ctx, "approve", REVIEWER2, notice.id)  # … and cannot approve it
    assert act(ctx, "approve", REVIEWER, notice.id).status == "approved"


def test_an_edit_during_review_goes_back_to_draft(ctx: AppContext) -> None:
    notice = act(ctx, "create", WRITER, form())
    act(ctx, "submit", WRITER, notice.id)
    act(ctx, "approve", REVIEWER, notice.id)
    edited = act(ctx, "update", WRITER, notice.id, form(title="12月5日全天停水"))
    assert (edited.status, edited.approved_by, edited.version, edited.title) == ("draft", None, 2, "12月5日全天停水")


def test_community_scope(ctx: AppContext) -> None:
    ours = act(ctx, "create", WRITER, form(community_code=None))  # community staff: always their own
    assert ours.community_code == A
    with pytest.raises(NoticeInvalid) as refused:
        act(ctx, "create", WRITER, form(community_code=B))
    assert "community_code" in refused.value.fields
    with pytest.raises(NoticeError, match="找不到"):
        act(ctx, "submit", WRITER_B, ours.id)  # another community's notice is not found
    city_wide = act(ctx, "create", CITY, form(community_code=None))
    assert city_wide.community_code is None
    with pytest.raises(NoticeError, match="全市通知"):
        act(ctx, "update", WRITER, city_wide.id, form())
    with session_scope(ctx.sessions) as db:
        assert {n.id for n in svc.list_for(db, WRITER_B)} == {city_wide.id}
        assert {n.id for n in svc.list_for(db, WRITER)} == {ours.id, city_wide.id}
        assert {n.id for n in svc.list_for(db, CITY, status="draft")} == {ours.id, city_wide.id}
    with pytest.raises(NoticeInvalid):
        act(ctx, "create", CITY, form(community_code="nowhere"))


@pytest.mark.parametrize(("changes", "field"), [
    ({"title": ""}, "title"), ({"title": "长" * 61}, "title"), ({"body": " "}, "body"),
    ({"body": "字" * 1001}, "body"), ({"category": "八卦"}, "category"),
    ({"audience_min_age": 80, "audience_max_age": 60}, "audience"), ({"audience_min_age": -1}, "audience"),
    ({"valid_to": START}, "valid_to"), ({"valid_to": START + dt.timedelta(days=400)}, "valid_to"),
])
def test_bad_forms_name_the_field(ctx: AppContext, changes: dict, field: str) -> None:
    with pytest.raises(NoticeInvalid) as refused:
        act(ctx, "create", WRITER, form(**changes))
    assert field in refused.value.fields


def test_an_expired_notice_cannot_be_published(ctx: AppContext) -> None:
    notice = act(ctx, "create", WRITER, form())
    act(ctx, "submit", WRITER, notice.id)
    act(ctx, "approve", REVIEWER, notice.id)
    with pytest.raises(NoticeError, match="有效期"):
        act(ctx, "publish", REVIEWER, notice.id, now=dt.datetime(2026, 12, 6, tzinfo=dt.UTC))


def test_audience_labels() -> None:
    assert audience_label(None, None) == "全体居民"
    assert audience_label(60, None) == "60岁以上老人"
    assert audience_label(30, None) == "30岁以上居民"
    assert audience_label(None, 14) == "14岁以下居民"
    assert audience_label(20, 40) == "20-40岁居民"


# ---------------------------------------------------------------- pictures

def test_a_png_is_re_encoded_without_its_metadata_and_served_only_once_published(ctx: AppContext) -> None:
    notice = act(ctx, "create", WRITER, form())
    act(ctx, "set_image", WRITER, notice.id, png(Secret="家住竹溪3栋", Author="张三"), "image/png")
    with session_scope(ctx.sessions) as db:
        assert svc.image_of(db, notice.id) is None  # not published yet
    act(ctx, "submit", WRITER, notice.id)
    act(ctx, "approve", REVIEWER, notice.id)
    act(ctx, "publish", REVIEWER, notice.id, now=NOW)
    with session_scope(ctx.sessions) as db:
        data, kind = svc.image_of(db, notice.id)
    assert kind == "image/png"
    assert "家住".encode() not in data and b"Author" not in data and b"tEXt" not in data
    with Image.open(io.BytesIO(data)) as shown:
        assert shown.size == (40, 30) and not shown.info.get("Secret")


def test_a_jpeg_loses_its_exif_and_a_large_picture_is_scaled_down() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    out = io.BytesIO()
    Image.new("RGB", (3200, 1000), (10, 10, 200)).save(out, "JPEG", exif=exif.tobytes())
    data, kind = svc.clean_image(out.getvalue(), "image/jpeg")
    assert kind == "image/jpeg" and b"PhoneMaker" not in data
    with Image.open(io.BytesIO(data)) as shown:
        assert shown.size == (1600, 500) and not shown.getexif()


@pytest.mark.parametrize(("data", "content_type", "message"), [
    (b"%PDF-1.4 not a picture", "image/png", "打开|不符"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml", "PNG 或 JPG"),
    (png(), "image/jpeg", "不符"),  # the type says JPEG, the bytes are PNG
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 3 * 1024 * 1024, "image/png", "2 MB"),
    (png(size=(5000, 4000)), "image/png", "尺寸"),
    (png()[:60], "image/png", "打开"),  # truncated
], ids=["pdf", "svg", "wrong-type", "over-2mb", "too-many-pixels", "truncated"])
def test_pictures_that_are_refused(data: bytes, content_type: str, message: str) -> None:
    with pytest.raises(NoticeInvalid, match=message):
        svc.clean_image(data, content_type)


def test_changing_the_picture_of_a_published_notice_is_refused(ctx: AppContext) -> None:
    notice = act(ctx, "create", WRITER, form())
    act(ctx, "submit", WRITER, notice.id)
    act(ctx, "approve", REVIEWER, notice.id)
    act(ctx, "publish", REVIEWER, notice.id, now=NOW)
    with pytest.raises(NoticeError, match="不能再改"):
        act(ctx, "set_image", WRITER, notice.id, png(), "image/png")


def test_editing_a_draft_and_its_picture_keeps_its_version(ctx: AppContext) -> None:
    notice = act(ctx, "create", WRITER, form())
    act(ctx, "update", WRITER, notice.id, form(title="12月5日全天停水"))
    pictured = act(ctx, "set_image", WRITER, notice.id, png(), "image/png")
    assert pictured.version == 1  # still the first version until someone reviews it
