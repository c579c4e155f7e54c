"""「社区通知」 in the console, through HTTP: who may open and act on the pages, CSRF, the whole workflow to what
residents see, own submissions, community scoping, field messages, images, and escaping of what staff typed."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator

import pytest
from community_testkit import A, B, add_accounts, add_communities
from console_testkit import (
    PASSWORD,
    add_users,
    csrf_from,
    login,
    module_console_settings,
    remember_warm_cache,
)
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from assistant.api.main import create_app
from assistant.auth.service import create_account
from assistant.bulletins.models import Notice
from assistant.clock import CHINA, now_china
from assistant.context import AppContext, create_context
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog

Client = tuple[TestClient, AppContext]
ENGLISH_STATES = re.compile(r">\s*(draft|submitted|approved|published|archived)\s*<")


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    settings = module_console_settings(tmp_path_factory.mktemp("console-notices"))
    context = create_context(settings)
    add_communities(context)
    add_accounts(context)  # wa/wb: staff of A/B; city; dept; admin-a; boss
    add_users(context)  # ada admin, sam staff, amy approver, dan department (city)
    with session_scope(context.sessions) as db:
        create_account(db, "pa", "approver", PASSWORD, actor="test", community=A)
        create_account(db, "amy2", "approver", PASSWORD, actor="test")
    try:
        with TestClient(create_app(context=context), base_url="https://testserver",
                        follow_redirects=False) as client:
            remember_warm_cache(settings)
            yield client, context
    finally:
        context.close()


def _as(client: TestClient, username: str) -> None:
    assert login(client, username).status_code == 303


def _times(days: int = 0, hours: int = 2) -> dict[str, str]:
    start = now_china().replace(second=0, microsecond=0) - dt.timedelta(hours=1) + dt.timedelta(days=days)
    return {"valid_from": f"{start:%Y-%m-%dT%H:%M}", "valid_to": f"{start + dt.timedelta(hours=hours):%Y-%m-%dT%H:%M}"}


def _fields(title: str, community: str = A, **extra: str) -> dict[str, str]:
    return {"title": title, "body": "明天上午8点到下午6点停水，请提前储水。", "category": "停水停电",
            "audience": "-", "community": community, **_times(), **extra}


def _create(client: TestClient, fields: dict[str, str], files: dict | None = None):
    token = csrf_from(client.get("/staff/notices/new").text)
    return client.post("/staff/notices/new", data={"csrf_token": token, **fields}, files=files)


def _notice_id(response) -> int:
    assert response.status_code == 303, response.text[:800]
    match = re.match(r"/staff/notices/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


def _post(client: TestClient, notice_id: int, action: str, **data: str):
    token = csrf_from(client.get(f"/staff/notices/{notice_id}").text)
    return client.post(f"/staff/notices/{notice_id}/{action}", data={"csrf_token": token, **data})


def _status(context: AppContext, notice_id: int) -> str:
    with session_scope(context.sessions) as db:
        return db.get(Notice, notice_id).status


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_who_may_open_the_pages(console: Client) -> None:
    client, _ = console
    client.cookies.clear()
    anonymous = client.get("/staff/notices", headers={"accept": "text/html"})
    assert anonymous.status_code == 303 and "/staff/login" in anonymous.headers["location"]
    for name, status in (("dan", 403), ("dept", 403), ("sam", 200), ("amy", 200), ("ada", 200), ("wa", 200)):
        _as(client, name)
        assert client.get("/staff/notices").status_code == status, name
    _as(client, "amy")  # approvers review; writing is staff's
    assert client.get("/staff/notices/new").status_code == 403
    _as(client, "sam")
    page = client.get("/staff/notices").text
    assert 'href="/staff/notices"' in page and 'href="/staff/warnings"' in page  # the console's nav
    _as(client, "dan")
    assert 'href="/staff/notices"' not in client.get("/staff/orders", headers={"accept": "text/html"}).text


def test_a_post_without_the_csrf_token_is_refused(console: Client) -> None:
    client, context = console
    _as(client, "sam")
    with session_scope(context.sessions) as db:
        before = db.query(Notice).count()
    refused = client.post("/staff/notices/new", data=_fields("没有令牌的通知"))
    assert refused.status_code == 403
    with session_scope(context.sessions) as db:
        assert db.query(Notice).count() == before


def test_workflow_from_draft_to_residents_and_off_again(console: Client) -> None:
    client, context = console
    _as(client, "sam")
    notice_id = _notice_id(_create(client, _fields("竹溪小区明天停水")))
    page = client.get(f"/staff/notices/{notice_id}").text
    assert "草稿" in page and 'id="notice-submit"' in page and 'id="notice-approve"' not in page
    assert "居民看到的样子" in page and "竹溪小区明天停水" in page
    assert not ENGLISH_STATES.search(page)
    assert _post(client, notice_id, "submit").status_code == 303
    assert _status(context, notice_id) == "submitted"
    assert _post(client, notice_id, "approve").status_code == 403  # staff do not approve
    assert _status(context, notice_id) == "submitted"

    _as(client, "amy")
    page = client.get(f"/staff/notices/{notice_id}").text
    assert 'id="notice-approve"' in page and 'id="notice-publish"' not in page
    assert _post(client, notice_id, "publish").status_code == 409  # approve first
    assert _post(client, notice_id, "approve").status_code == 303
    assert _post(client, notice_id, "publish").status_code == 303
    assert _status(context, notice_id) == "published"
    board = context.bulletins.for_community(A)
    assert "竹溪小区明天停水" in [n["title"] for n in board["notices"]]
    listed = client.get("/staff/notices?status=published").text
    assert "竹溪小区明天停水" in listed and "已发布" in listed and not ENGLISH_STATES.search(listed)

    assert _post(client, notice_id, "archive").status_code == 303
    assert _status(context, notice_id) == "archived"
    context.bulletins.invalidate()
    assert "竹溪小区明天停水" not in [n["title"] for n in context.bulletins.for_community(A)["notices"]]
    with session_scope(context.sessions) as db:
        actions = [r.action for r in db.scalars(select(AuditLog).where(AuditLog.action.like("notice%")))]
    assert len(actions) >= 5, actions  # create, submit, approve, publish, archive are each on record


def test_nobody_approves_their_own_submission(console: Client) -> None:
    client, context = console
    _as(client, "ada")  # an administrator may write and review, but not both for one notice
    notice_id = _notice_id(_create(client, _fields("管理员自己写的通知", community="city")))
    assert _post(client, notice_id, "submit").status_code == 303
    page = client.get(f"/staff/notices/{notice_id}").text
    assert 'id="notice-approve"' not in page and "要由另一位审核人审核" in page
    assert _post(client, notice_id, "approve").status_code in (403, 409)
    assert _status(context, notice_id) == "submitted"
    _as(client, "amy2")
    assert _post(client, notice_id, "approve").status_code == 303


def test_another_communitys_notice_is_not_found(console: Client) -> None:
    client, context = console
    _as(client, "wa")
    page = client.get("/staff/notices/new").text
    assert 'name="community"' not in page  # community staff write for their own community only
    notice_id = _notice_id(_create(client, {**_fields("竹溪社区内部通知"), "community": B}))
    with session_scope(context.sessions) as db:
        assert db.get(Notice, notice_id).community_code == A
    _as(client, "wb")
    assert client.get(f"/staff/notices/{notice_id}").status_code == 404
    assert "竹溪社区内部通知" not in client.get("/staff/notices").text
    token = csrf_from(client.get("/staff/notices").text)
    assert client.post(f"/staff/notices/{notice_id}/submit", data={"csrf_token": token}).status_code == 404
    assert _status(context, notice_id) == "draft"
    _as(client, "city")
    assert "竹溪社区内部通知" in client.get(f"/staff/notices?community={A}").text


def test_field_messages_and_the_form_again(console: Client) -> None:
    client, _ = console
    _as(client, "sam")
    times = _times()
    bad = _create(client, {**_fields(""), "category": "", "valid_to": times["valid_from"]})
    assert bad.status_code == 422
    for message in ("请填写标题", "请选择分类", "结束时间要晚于开始时间"):
        assert message in bad.text
    assert "明天上午8点到下午6点停水" in bad.text  # what was typed is kept
    no_time = _create(client, {**_fields("没有时间"), "valid_from": "明天"})
    assert no_time.status_code == 422 and "请填写开始时间" in no_time.text


def test_what_staff_type_is_escaped(console: Client) -> None:
    client, _ = console
    _as(client, "sam")
    title = "<script>alert(1)</script>停水"
    notice_id = _notice_id(_create(client, _fields(title, body='<img src=x onerror="alert(2)">')))
    for url in (f"/staff/notices/{notice_id}", "/staff/notices"):
        page = client.get(url).text
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<img src=x" not in page


def test_image_upload_refuses_a_non_image_and_shows_a_real_one(console: Client) -> None:
    client, context = console
    _as(client, "sam")
    with session_scope(context.sessions) as db:
        before = db.query(Notice).count()
    refused = _create(client, _fields("带附件的通知"), files={"image": ("a.png", b"MZ not a picture", "image/png")})
    assert refused.status_code == 422, refused.text[:500]
    assert 'id="e-image"' in refused.text and "图片" in refused.text.split('id="e-image"')[1][:80]
    assert 'value="带附件的通知"' in refused.text  # the form again, as typed
    with session_scope(context.sessions) as db:
        assert db.query(Notice).count() == before  # nothing half-made

    notice_id = _notice_id(_create(client, _fields("带图片的通知"), files={"image": ("a.png", _png(), "image/png")}))
    page = client.get(f"/staff/notices/{notice_id}").text
    assert f'src="/staff/notices/{notice_id}/image"' in page
    image = client.get(f"/staff/notices/{notice_id}/image")
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/")
    assert Image.open(io.BytesIO(image.content)).size == (40, 30)
    _as(client, "wb")
    assert client.get(f"/staff/notices/{notice_id}/image").status_code == 404


def test_dates_are_shown_in_china_time(console: Client) -> None:
    client, context = console
    _as(client, "sam")
    fields = {**_fields("中国时间的通知"), "valid_from": "2030-01-02T08:00", "valid_to": "2030-01-02T18:00"}
    notice_id = _notice_id(_create(client, fields))
    with session_scope(context.sessions) as db:
        stored = db.get(Notice, notice_id).valid_from
    assert stored.replace(tzinfo=stored.tzinfo or dt.UTC).astimezone(CHINA).hour == 8
    page = client.get(f"/staff/notices/{notice_id}").text
    assert 'value="2030-01-02T08:00"' in page and "1月2日 08:00 至 18:00" in page
    assert "2030-01-02 08:00" in client.get("/staff/notices").text


def test_community_staff_read_city_wide_notices_without_changing_them(console: Client) -> None:
    client, context = console
    _as(client, "sam")
    notice_id = _notice_id(_create(client, _fields("全市统一的通知", community="city")))
    _as(client, "wa")
    page = client.get(f"/staff/notices/{notice_id}").text
    assert "全市统一的通知" in page and "<fieldset disabled>" in page and 'id="notice-submit"' not in page
    token = csrf_from(page)
    refused = client.post(f"/staff/notices/{notice_id}", data={"csrf_token": token, **_fields("改掉全市通知")})
    assert refused.status_code == 409 and "全市通知只能由市里的工作人员修改" in refused.text
    with session_scope(context.sessions) as db:
        assert db.get(Notice, notice_id).title == "全市统一的通知"
