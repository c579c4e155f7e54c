"""「灾害预警」 in the console, through HTTP: roles, CSRF, the two-step manual warning (a warning, its staff alert and
the board), field messages, community scoping, 解除 with its confirmation, and escaping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from community_testkit import A, B, add_accounts, add_communities
from console_testkit import add_users, csrf_from, login, module_console_settings, remember_warm_cache
from fastapi.testclient import TestClient
from sqlalchemy import select

from assistant.api.main import create_app
from assistant.bulletins import WARNING_ALERT_KIND
from assistant.bulletins import warnings as warning_service
from assistant.bulletins.cap import CapAlert, CapArea
from assistant.bulletins.models import EarlyWarning, WarningCommunity
from assistant.clock import now_utc
from assistant.context import AppContext, create_context
from assistant.storage.db import session_scope
from assistant.storage.models import Alert

Client = tuple[TestClient, AppContext]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    settings = module_console_settings(tmp_path_factory.mktemp("console-warnings"))
    context = create_context(settings)
    add_communities(context)
    add_accounts(context)  # wa/wb: staff of A/B; city; dept; admin-a; boss
    add_users(context)  # ada admin, sam staff, amy approver, dan department (city)
    try:
        with TestClient(create_app(context=context), base_url="https://testserver",
                        follow_redirects=False) as client:
            remember_warm_cache(settings)
            yield client, context
    finally:
        context.close()


def _as(client: TestClient, username: str) -> None:
    assert login(client, username).status_code == 303


def _form(headline: str, communities: tuple[str, ...] = (A,), **extra: str) -> list[tuple[str, str]]:
    fields = {"event": "暴雨", "level": "orange", "headline": headline, "instruction": "请不要外出，远离低洼地带",
              "assembly_point": "", "hours": "6", **extra}
    return list(fields.items()) + [("communities", c) for c in communities]


def _post(client: TestClient, url: str, fields: list[tuple[str, str]], confirmed: bool = False):
    token = csrf_from(client.get("/staff/warnings").text)
    data = [("csrf_token", token), *fields] + ([("confirmed", "1")] if confirmed else [])
    return client.post(url, content=_encode(data), headers={"content-type": "application/x-www-form-urlencoded"})


def _encode(pairs: list[tuple[str, str]]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(pairs).encode()


def _warnings(context: AppContext, headline: str) -> list[EarlyWarning]:
    with session_scope(context.sessions) as db:
        rows = list(db.scalars(select(EarlyWarning).where(EarlyWarning.headline == headline)))
        db.expunge_all()
    return rows


def test_who_may_open_the_page(console: Client) -> None:
    client, _ = console
    client.cookies.clear()
    anonymous = client.get("/staff/warnings", headers={"accept": "text/html"})
    assert anonymous.status_code == 303 and "/staff/login" in anonymous.headers["location"]
    for name, status in (("dan", 403), ("dept", 403), ("sam", 200), ("amy", 200), ("ada", 200), ("wa", 200)):
        _as(client, name)
        assert client.get("/staff/warnings").status_code == status, name


def test_csrf_is_required(console: Client) -> None:
    client, context = console
    _as(client, "sam")
    data = _encode([*_form("没有令牌的预警"), ("confirmed", "1")])
    refused = client.post("/staff/warnings", content=data,
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 403
    assert _warnings(context, "没有令牌的预警") == []


def test_a_manual_warning_asks_first_then_warns_everyone(console: Client) -> None:
    client, context = console
    _as(client, "city")
    page = client.get("/staff/warnings").text
    assert "青秀区" in page and "江南区" in page and "全选" in page  # city staff: grouped by district
    headline = "竹溪、亭洪低洼处居民请马上转移"
    fields = _form(headline, (A, B), event="转移安置", level="red", assembly_point="竹溪小学操场")
    asked = _post(client, "/staff/warnings", fields)
    assert asked.status_code == 200 and "确认发布？" in asked.text and "竹溪小学操场" in asked.text
    assert _warnings(context, headline) == []  # nothing yet
    back = _post(client, "/staff/warnings", [*fields, ("confirmed", "1"), ("edit", "1")])  # 返回修改
    assert back.status_code == 200 and f'value="{headline}"' in back.text and _warnings(context, headline) == []
    done = _post(client, "/staff/warnings", fields, confirmed=True)
    assert done.status_code == 303 and "done=issued" in done.headers["location"]
    [warning] = _warnings(context, headline)
    assert (warning.source, warning.level, warning.status, warning.issued_by) == ("manual", "red", "active", "city")
    assert warning.assembly_point == "竹溪小学操场"
    with session_scope(context.sessions) as db:
        covered = set(db.scalars(select(WarningCommunity.community_code)
                                 .where(WarningCommunity.warning_id == warning.id)))
        alerts = list(db.scalars(select(Alert).where(Alert.kind == WARNING_ALERT_KIND)))
        alert_communities = {a.community_code for a in alerts if headline in a.text}
    assert covered == {A, B} and alert_communities == {A, B}
    context.bulletins.invalidate()
    assert [w["id"] for w in context.bulletins.for_community(B)["warnings"]] == [warning.id]

    page = client.get("/staff/warnings?done=issued").text
    active = page.split('id="active-warnings"')[1].split("</table>")[0]
    assert headline in active and "红色" in active and "工作人员发布" in active and "level-red" in active
    assert "预警已发布" in page
    for code in ("manual", "active", ">red<", "cap"):
        assert code not in active


def test_field_messages(console: Client) -> None:
    client, context = console
    _as(client, "sam")
    no_point = _post(client, "/staff/warnings", _form("请转移", event="转移安置"), confirmed=True)
    assert no_point.status_code == 422 and "转移安置要写明集合地点" in no_point.text
    nothing = _post(client, "/staff/warnings", _form("", (), level="purple", hours="500"), confirmed=True)
    assert nothing.status_code == 422
    for message in ("请填写标题", "请选择预警级别", "请至少选一个社区", "有效时长填 1 到 72 小时"):
        assert message in nothing.text
    assert _warnings(context, "请转移") == []


def test_community_staff_warn_their_own_community_only(console: Client) -> None:
    client, context = console
    _as(client, "city")
    assert _post(client, "/staff/warnings", _form("两个社区的预警", (A, B)), confirmed=True).status_code == 303
    _as(client, "wa")
    page = client.get("/staff/warnings").text
    choices = page.split('id="warning-communities"')[1].split("</fieldset>")[0]
    assert "竹溪社区" in choices and "亭洪社区" not in choices and "全选" not in choices
    shared = page.split('id="active-warnings"')[1].split("</table>")[0]
    assert "亭洪社区" in shared and "/cancel" not in shared  # a warning of A and B: for city staff to lift
    refused = _post(client, "/staff/warnings", _form("亭洪的预警", (B,)), confirmed=True)
    assert refused.status_code == 422 and _warnings(context, "亭洪的预警") == []
    assert _post(client, "/staff/warnings", _form("竹溪暴雨请注意", (A,)), confirmed=True).status_code == 303
    [warning] = _warnings(context, "竹溪暴雨请注意")
    _as(client, "wb")
    assert "竹溪暴雨请注意" not in client.get("/staff/warnings").text
    assert client.get(f"/staff/warnings/{warning.id}/cancel").status_code == 404
    token = csrf_from(client.get("/staff/warnings").text)
    cancel = client.post(f"/staff/warnings/{warning.id}/cancel", data={"csrf_token": token, "confirmed": "1"})
    assert cancel.status_code == 404 and _warnings(context, "竹溪暴雨请注意")[0].status == "active"


def test_cancel_asks_first_then_lifts_the_warning(console: Client) -> None:
    client, context = console
    _as(client, "sam")
    assert _post(client, "/staff/warnings", _form("要解除的预警", (A,)), confirmed=True).status_code == 303
    [warning] = _warnings(context, "要解除的预警")
    asked = client.get(f"/staff/warnings/{warning.id}/cancel")
    assert asked.status_code == 200 and "确认解除？" in asked.text
    token = csrf_from(asked.text)
    again = client.post(f"/staff/warnings/{warning.id}/cancel", data={"csrf_token": token})
    assert again.status_code == 200 and _warnings(context, "要解除的预警")[0].status == "active"
    done = client.post(f"/staff/warnings/{warning.id}/cancel", data={"csrf_token": token, "confirmed": "1"})
    assert done.status_code == 303
    assert _warnings(context, "要解除的预警")[0].status == "cancelled"
    context.bulletins.invalidate()
    assert warning.id not in [w["id"] for w in context.bulletins.for_community(A)["warnings"]]
    page = client.get("/staff/warnings").text
    past = page.split('id="past-warnings"')[1]
    assert "要解除的预警" in past and "已解除" in past
    assert "要解除的预警" not in page.split('id="active-warnings"')[1].split("</table>")[0]


def test_what_staff_type_is_escaped(console: Client) -> None:
    client, _ = console
    _as(client, "sam")
    headline = "<script>alert('x')</script>暴雨"
    asked = _post(client, "/staff/warnings", _form(headline, (A,)))
    assert "<script>alert(" not in asked.text and "&lt;script&gt;" in asked.text
    assert _post(client, "/staff/warnings", _form(headline, (A,)), confirmed=True).status_code == 303
    page = client.get("/staff/warnings").text
    assert "<script>alert(" not in page and "&lt;script&gt;" in page


def test_the_audit_log_reads_in_chinese(console: Client) -> None:
    client, _ = console
    _as(client, "sam")
    assert _post(client, "/staff/warnings", _form("记入审计的预警", (A,)), confirmed=True).status_code == 303
    _as(client, "ada")
    page = client.get("/staff/audit").text
    assert "发布预警" in page and "灾害预警 #" in page and "warning:" not in page


def test_a_feed_warning_shows_its_source_and_area_and_only_city_staff_lift_it(console: Client) -> None:
    client, context = console
    now = now_utc()
    alert = CapAlert(identifier="nn-rain-console-1", sender="45010041600000@nnqxt", sent=now, status="Actual",
                     msg_type="Alert", event="暴雨", severity="Severe", urgency="Immediate",
                     headline="南宁市气象台发布暴雨橙色预警信号", sender_name="南宁市气象台",
                     effective=now, expires=now + dt.timedelta(hours=6), areas=(CapArea("南宁市青秀区"),))
    with session_scope(context.sessions) as db:
        result = warning_service.ingest(db, context.events, alert, settings=context.settings)
    assert result.action == "new" and A in result.communities, result
    _as(client, "wa")
    active = client.get("/staff/warnings").text.split('id="active-warnings"')[1].split("</table>")[0]
    row = active.split(f'data-warning="{result.warning_id}"')[1].split("</tr>")[0]
    assert "预警发布系统" in row and "南宁市气象台" in row and "南宁市青秀区" in row and "橙色" in row
    assert "/cancel" not in row  # a department's warning is lifted by the city, not one community
    _as(client, "sam")
    row = client.get("/staff/warnings").text.split(f'data-warning="{result.warning_id}"')[1].split("</tr>")[0]
    assert f"/staff/warnings/{result.warning_id}/cancel" in row
