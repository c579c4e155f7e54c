"""The residents' bulletins API (issue 17): ``GET /api/v1/bulletins`` (public: JSON, ETag/304, no-cache, unknown
community 422), the picture of a published notice (only that, nosniff), and ``GET /api/v1/kiosk/bulletins``
(device token: 401 without it, the token's community, 304, polls every 2 s never locked out)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest
from handoff_testkit import handoff_client
from PIL import Image

from assistant.auth.deps import StaffUser
from assistant.bulletins import notices as notice_service
from assistant.bulletins import warnings as warning_service
from assistant.clock import CHINA
from assistant.communities.directory import import_community
from assistant.kiosks.registry import register_kiosk
from assistant.storage.db import session_scope

A, B = "nn-zhuxi", "nn-tinghong"
STAFF = StaffUser("sam", "staff")
APPROVER = StaffUser("amy", "approver")


@pytest.fixture
def api(settings: Any) -> Iterator[tuple[Any, Any]]:
    with handoff_client(settings, kiosk_api_rate_per_minute=5) as (client, context):
        with session_scope(context.sessions) as db:
            import_community(db, A, {"name": "竹溪社区"}, street="新竹街道", district="青秀区")
            import_community(db, B, {"name": "亭洪社区"}, street="亭洪街道", district="江南区")
        context.communities.invalidate()
        yield client, context


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def _notice(context: Any, title: str, community: str | None, *, publish: bool = True, image: bool = False) -> int:
    now = dt.datetime.now(CHINA).replace(tzinfo=None)
    form = notice_service.NoticeForm(title, "因管道维修停水，请提前储水。", "停水停电", community, None, None,
                                     now - dt.timedelta(hours=1), now + dt.timedelta(days=1))
    with session_scope(context.sessions) as db:
        notice = notice_service.create(db, context.events, STAFF, form)
        if image:
            notice_service.set_image(db, context.events, STAFF, notice.id, _png(), "image/png")
        notice_service.submit(db, context.events, STAFF, notice.id)
        notice_service.approve(db, context.events, APPROVER, notice.id)
        if publish:
            notice_service.publish(db, context.events, APPROVER, notice.id)
        notice_id = notice.id
    context.bulletins.invalidate()
    return notice_id


def _warning(context: Any, community: str, event: str = "暴雨", level: str = "orange") -> int:
    form = warning_service.ManualWarning(event, level, f"{event}预警", "请不要外出。", "", (community,), 6.0)
    with session_scope(context.sessions) as db:
        result = warning_service.issue_manual(db, context.events, APPROVER, form, context.settings)
    context.bulletins.invalidate()
    assert result.warning_id is not None
    return result.warning_id


def test_the_public_board_is_the_communitys_json_with_an_etag_and_304(api: tuple[Any, Any]) -> None:
    client, context = api
    empty = client.get("/api/v1/bulletins", params={"community": A})
    assert empty.status_code == 200, empty.text
    body = empty.json()
    assert body["community"] == A and body["warnings"] == [] and body["notices"] == []
    assert body["poll_seconds"] == context.settings.bulletin_poll_seconds
    assert empty.headers["ETag"] == f'"{body["revision"]}"'
    assert empty.headers["Cache-Control"] == "no-cache" and empty.headers["X-Content-Type-Options"] == "nosniff"

    notice_id = _notice(context, "竹溪停水通知", A)
    _notice(context, "全市通知", None)
    _notice(context, "亭洪停水通知", B)
    warning_id = _warning(context, A)
    full = client.get("/api/v1/bulletins", params={"community": A})
    data = full.json()
    assert [n["title"] for n in data["notices"]] == ["全市通知", "竹溪停水通知"]  # newest first, city-wide included
    assert data["notices"][1]["id"] == notice_id and data["notices"][1]["dates_text"]
    assert [w["id"] for w in data["warnings"]] == [warning_id] and data["warnings"][0]["colors"]["background"]
    assert full.headers["ETag"] != empty.headers["ETag"]

    again = client.get("/api/v1/bulletins", params={"community": A}, headers={"If-None-Match": full.headers["ETag"]})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == full.headers["ETag"]
    weak = client.get("/api/v1/bulletins", params={"community": A},
                      headers={"If-None-Match": f'"old", W/{full.headers["ETag"]}'})
    assert weak.status_code == 304
    stale = client.get("/api/v1/bulletins", params={"community": A}, headers={"If-None-Match": empty.headers["ETag"]})
    assert stale.status_code == 200 and stale.json()["revision"] == data["revision"]

    other = client.get("/api/v1/bulletins", params={"community": B}).json()
    assert [n["title"] for n in other["notices"]] == ["亭洪停水通知", "全市通知"] and other["warnings"] == []
    default = client.get("/api/v1/bulletins")
    assert default.status_code == 200 and default.json()["community"] == context.communities.default_code


@pytest.mark.parametrize("code", ["nn-nowhere", "bad code!", "x" * 40, "\u0000", "<script>"])
def test_an_unknown_or_malformed_community_gets_422_as_the_chat_api_answers(api: tuple[Any, Any], code: str) -> None:
    client, _ = api
    response = client.get("/api/v1/bulletins", params={"community": code})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "unknown_community" and error["message_zh"] and error["message_en"]
    assert "<script>" not in response.text


def test_bad_parameters_and_methods_get_a_4xx_never_a_500(api: tuple[Any, Any]) -> None:
    client, _ = api
    assert client.post("/api/v1/bulletins", json={}).status_code == 405
    assert client.get("/api/v1/notices/abc/image").status_code == 422
    assert client.get("/api/v1/notices/-1/image").status_code == 404
    assert client.get("/api/v1/notices/99999999999999999999/image").status_code in (404, 422)


def test_only_a_published_notices_picture_is_served(api: tuple[Any, Any]) -> None:
    client, context = api
    published = _notice(context, "有图的通知", A, image=True)
    draft = _notice(context, "还没发布的通知", A, publish=False, image=True)
    plain = _notice(context, "没有图的通知", A)
    image = client.get(f"/api/v1/notices/{published}/image")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(image.content)).size == (40, 30)
    listed = next(n for n in client.get("/api/v1/bulletins", params={"community": A}).json()["notices"]
                  if n["id"] == published)
    assert client.get(listed["image_url"]).content == image.content  # the URL the board gives works
    for notice_id in (draft, plain, 424242):
        missing = client.get(f"/api/v1/notices/{notice_id}/image")
        assert missing.status_code == 404 and missing.json()["error"]["message_zh"]
    with session_scope(context.sessions) as db:
        notice_service.archive(db, context.events, APPROVER, published)
    assert client.get(f"/api/v1/notices/{published}/image").status_code == 404


def test_the_kiosk_gets_its_communitys_board_with_its_token(api: tuple[Any, Any]) -> None:
    client, context = api
    with session_scope(context.sessions) as db:
        kiosk = register_kiosk(db, B, "1号自助机")
    for header in (None, "Bearer kq_not-a-real-token", "Basic abc"):
        refused = client.get("/api/v1/kiosk/bulletins", headers={"Authorization": header} if header else {})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_kiosk_token"
        assert refused.headers["WWW-Authenticate"] == "Bearer"
    _warning(context, B, "台风", "red")
    _notice(context, "竹溪的通知", A)
    auth = {"Authorization": f"Bearer {kiosk.token}"}
    first = client.get("/api/v1/kiosk/bulletins", headers=auth)
    assert first.status_code == 200, first.text
    board = first.json()
    assert board["community"] == B and [w["event"] for w in board["warnings"]] == ["台风"] and board["notices"] == []
    assert board == client.get("/api/v1/bulletins", params={"community": B}).json()  # the same JSON
    assert first.headers["Cache-Control"] == "no-cache"
    # A minute of polling every 2 s (and more) is never refused, and leaves the heartbeat allowance alone.
    statuses = [client.get("/api/v1/kiosk/bulletins", headers={**auth, "If-None-Match": first.headers["ETag"]})
                .status_code for _ in range(40)]
    assert set(statuses) == {304}
    assert client.get("/api/v1/kiosk/config", headers=auth).status_code == 200  # kiosk_api_rate_per_minute=5
