"""Staff pages of the inbox and work orders: forms with CSRF, actions by role, refusals for every route."""

from __future__ import annotations

import re

from handoff_testkit import csrf_from, handoff_client, say, sign_in
from sqlalchemy import select

from assistant.api.routes import handoff as handoff_routes
from assistant.api.routes import orders as order_routes
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog

HTML = {"accept": "text/html"}


def _number(response) -> str:
    match = re.search(r"/staff/orders/(GX\d+)", response.headers["location"])
    assert match, response.headers.get("location")
    return match.group(1)


def _act(client, number: str, action: str, **data) -> object:
    page = client.get(f"/staff/orders/{number}")
    return client.post(f"/staff/orders/{number}/action",
                       data={"csrf_token": csrf_from(page.text), "action": action, **data})


def test_orders_pages_create_list_and_move_an_order_by_role(settings):
    with handoff_client(settings) as (client, context):
        sign_in(client, "staff")
        form = client.get("/staff/orders/new")
        assert form.status_code == 200
        token = csrf_from(form.text)
        invalid = client.post("/staff/orders", data={"csrf_token": token, "description": " "})
        assert invalid.status_code == 422 and "请写明" in invalid.text
        created = client.post("/staff/orders", data={"csrf_token": token, "description": "独居老人申请上门助浴",
                                                     "department": "民政", "contact": "13800138000",
                                                     "location": "幸福小区5栋"})
        assert created.status_code == 303
        number = _number(created)
        detail = client.get(f"/staff/orders/{number}")
        assert "138****8000" in detail.text and "13800138000" not in detail.text
        assert "派单" in detail.text and "签收" not in re.sub(r"<[^>]+>", "", detail.text.split("办理记录")[0])
        assert _act(client, number, "派单", department="民政").status_code == 303

        shown = client.post(f"/staff/orders/{number}/contact", data={"csrf_token": csrf_from(detail.text)})
        assert shown.status_code == 200 and "13800138000" in shown.text
        with session_scope(context.sessions) as db:
            audit = db.scalar(select(AuditLog).where(AuditLog.action == "contact.reveal"))
            assert audit.actor == "sam" and audit.target == number

        sign_in(client, "approver")
        refused = _act(client, number, "签收")
        assert refused.status_code == 403 and "角色" in refused.text

        sign_in(client, "department2")  # 人社 handler: not their order
        assert client.get(f"/staff/orders/{number}").status_code == 403
        assert number not in client.get("/staff/orders").text

        sign_in(client, "department")  # 民政 handler
        assert number in client.get("/staff/orders").text
        assert _act(client, number, "签收").status_code == 303
        no_note = _act(client, number, "办结", note="")
        assert no_note.status_code == 422 and "写明" in no_note.text
        assert _act(client, number, "申请延期", days="2", note="等待评估").status_code == 303
        assert _act(client, number, "办结", note="已安排每周上门").status_code == 303
        illegal = _act(client, number, "签收")
        assert illegal.status_code == 409 and "不能签收" in illegal.text

        sign_in(client, "staff")
        assert _act(client, number, "回访").status_code == 303
        assert _act(client, number, "评价", satisfied="yes").status_code == 303
        final = client.get(f"/staff/orders/{number}").text
        assert "已评价" in final and "满意" in final and "dan" in final  # history shows who did what
        for view in ("open", "near_due", "overdue", "closed", "all", "bogus"):
            assert client.get("/staff/orders", params={"view": view}).status_code == 200
        assert client.get("/staff/orders/GX19990101001").status_code == 404


def test_inbox_pages_claim_reply_close(settings):
    with handoff_client(settings) as (client, _context):
        sid = say(client, "转人工")["session_id"]
        say(client, "<b>我想问养老金</b>", sid)
        sign_in(client, "staff")
        inbox = client.get("/staff/inbox")
        assert inbox.status_code == 200 and "A001" in inbox.text
        assert "<b>我想问养老金</b>" not in inbox.text and "&lt;b&gt;" in inbox.text  # escaped
        hid = re.search(r'/staff/inbox/(\d+)/claim', inbox.text).group(1)
        claimed = client.post(f"/staff/inbox/{hid}/claim", data={"csrf_token": csrf_from(inbox.text)})
        assert claimed.status_code == 303
        page = client.get(f"/staff/inbox/{hid}")
        assert 'id="reply-form"' in page.text
        client.post(f"/staff/inbox/{hid}/reply", data={"csrf_token": csrf_from(page.text), "text": "请讲"})
        empty = client.post(f"/staff/inbox/{hid}/reply", data={"csrf_token": csrf_from(page.text), "text": ""})
        assert empty.status_code == 422 and "请输入" in empty.text
        closed = client.post(f"/staff/inbox/{hid}/close", data={"csrf_token": csrf_from(page.text),
                                                                "note": "已解答"})
        assert closed.status_code == 303
        assert "已解答" in client.get(f"/staff/inbox/{hid}").text
        assert client.get("/staff/inbox/4242").status_code == 404


def test_every_handoff_staff_route_refuses_anonymous_and_wrong_roles(settings):
    with handoff_client(settings) as (client, _context):
        routers = [*handoff_routes.routers, *order_routes.routers]
        routes = [(method, route.path) for router in routers for route in router.routes
                  if route.path.startswith("/staff/") for method in sorted(route.methods - {"HEAD"})]
        assert len(routes) >= 15
        concrete = [(m, p.replace("{handoff_id}", "1").replace("{number}", "GX20260310001")) for m, p in routes]
        for method, path in concrete:
            response = client.request(method, path, headers={"accept": "application/json"})
            # GETs need a sign-in (401); POSTs are refused before that for lack of a CSRF token (403).
            assert response.status_code == (401 if method == "GET" else 403), (method, path, response.status_code)
            assert "created" not in response.text
            browser = client.request(method, path, headers=HTML)
            assert browser.status_code in (303, 401, 403), (method, path)
        sign_in(client, "department")
        for method, path in concrete:
            if path.startswith(("/staff/inbox", "/staff/api/handoffs")) or path == "/staff/orders/new" or (
                    method == "POST" and path == "/staff/orders"):
                token = csrf_from(client.get("/staff/orders").text)
                response = client.request(method, path, headers={"X-CSRF-Token": token})
                assert response.status_code == 403, (method, path, response.status_code)
        sign_in(client, "approver")
        token = csrf_from(client.get("/staff/orders").text)
        assert client.post("/staff/orders/GX20260310001/contact", headers={"X-CSRF-Token": token}).status_code == 403
