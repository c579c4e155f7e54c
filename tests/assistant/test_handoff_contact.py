"""The resident's phone in a live chat (kept encrypted, shown masked, revealed with an audit row), 转为工单 prefilled
from the conversation, and departments chosen from the fixed list everywhere one is entered."""

from __future__ import annotations

import re

from handoff_testkit import csrf_from, handoff_client, say, sign_in
from sqlalchemy import select

from assistant.handoff.contact import REVEAL_ACTION
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog, HandoffRequest, WorkOrder

PHONE = "13912345678"


def _selected(html: str, select_id: str) -> str:
    block = html.split(f'id="{select_id}"', 1)[1].split("</select>", 1)[0]
    match = re.search(r'<option value="([^"]*)" selected', block)
    return match.group(1) if match else ""


def _queued_with_phone(client) -> tuple[str, int]:
    sid = say(client, "转人工")["session_id"]
    say(client, f"幸福小区3栋楼道的灯坏了好几天，我电话{PHONE}", sid)
    return sid, 1


def test_the_phone_said_in_a_live_chat_is_kept_encrypted_and_revealed_only_to_the_agent_with_an_audit(settings):
    with handoff_client(settings) as (client, context):
        sid, _ = _queued_with_phone(client)
        with session_scope(context.sessions) as db:
            request = db.scalar(select(HandoffRequest).where(HandoffRequest.session_id == sid))
            hid = request.id
            assert request.contact_masked == "139****5678"
            assert PHONE not in request.contact_encrypted and client.app.state.engine.cipher.decrypt(request.contact_encrypted) == PHONE

        sign_in(client, "staff")
        page = client.get(f"/staff/inbox/{hid}")
        assert "139****5678" in page.text and PHONE not in page.text
        assert "查看完整号码" not in page.text  # not claimed yet: nobody handles it
        client.post(f"/staff/inbox/{hid}/claim", data={"csrf_token": csrf_from(page.text)})
        page = client.get(f"/staff/inbox/{hid}")
        assert "查看完整号码" in page.text

        sign_in(client, "staff2")  # another agent: no button, and the POST is refused
        other = client.get(f"/staff/inbox/{hid}")
        assert "查看完整号码" not in other.text
        refused = client.post(f"/staff/inbox/{hid}/contact", data={"csrf_token": csrf_from(other.text)})
        assert refused.status_code == 403 and PHONE not in refused.text and "接待" in refused.text

        sign_in(client, "staff")
        page = client.get(f"/staff/inbox/{hid}")
        assert client.post(f"/staff/inbox/{hid}/contact").status_code in (400, 403)  # no CSRF token
        shown = client.post(f"/staff/inbox/{hid}/contact", data={"csrf_token": csrf_from(page.text)})
        assert shown.status_code == 200 and PHONE in shown.text
        with session_scope(context.sessions) as db:
            rows = db.scalars(select(AuditLog).where(AuditLog.action == REVEAL_ACTION)).all()
            assert [(r.actor, r.target) for r in rows] == [("sam", "A001")]
            assert PHONE not in rows[0].detail and "5678" not in rows[0].detail


def test_convert_is_prefilled_from_the_conversation_and_uses_the_residents_number(settings):
    with handoff_client(settings) as (client, context):
        sid, _ = _queued_with_phone(client)
        with session_scope(context.sessions) as db:
            hid = db.scalar(select(HandoffRequest.id).where(HandoffRequest.session_id == sid))
        sign_in(client, "staff")
        page = client.get(f"/staff/inbox/{hid}")
        client.post(f"/staff/inbox/{hid}/claim", data={"csrf_token": csrf_from(page.text)})
        page = client.get(f"/staff/inbox/{hid}")
        form = page.text.split('id="convert-form"', 1)[1].split("</form>", 1)[0]
        assert "楼道的灯坏了好几天" in form and 'value="幸福小区3栋楼道"' in form
        assert "139****5678" in form and PHONE not in form
        assert _selected(page.text, "convert-department") == "物业"  # suggested by the routing rules
        assert '<input name="department"' not in form  # chosen, never typed

        token = csrf_from(page.text)
        data = {"csrf_token": token, "description": "3栋楼道灯坏了", "location": "幸福小区3栋",
                "use_resident_contact": "1"}
        typo = client.post(f"/staff/inbox/{hid}/convert", data={**data, "department": "物 业"})
        assert typo.status_code == 422 and "不在承办部门列表里" in typo.text
        saved = client.post(f"/staff/inbox/{hid}/convert", data={**data, "department": "物业"})
        assert saved.status_code == 303
        number = saved.headers["location"].split("/")[-1].split("?")[0]
        with session_scope(context.sessions) as db:
            order = db.scalar(select(WorkOrder).where(WorkOrder.number == number))
            assert (order.department, order.location) == ("物业", "幸福小区3栋")
            assert order.contact_masked == "139****5678" and client.app.state.engine.cipher.decrypt(order.contact_encrypted) == PHONE
        detail = client.get(f"/staff/orders/{number}")
        assert "139****5678" in detail.text and "未留" not in detail.text.split("联系电话", 1)[1][:200]
        shown = client.post(f"/staff/orders/{number}/contact", data={"csrf_token": csrf_from(detail.text)})
        assert PHONE in shown.text
        with session_scope(context.sessions) as db:
            assert db.scalar(select(AuditLog.target).where(AuditLog.action == REVEAL_ACTION)) == number


def test_departments_are_chosen_from_the_list_on_the_order_pages(settings):
    with handoff_client(settings) as (client, context):
        sign_in(client, "staff")
        form = client.get("/staff/orders/new")
        assert 'id="order-department"' in form.text and '<option value="供水公司"' in form.text
        token = csrf_from(form.text)
        typo = client.post("/staff/orders", data={"csrf_token": token, "description": "停水了", "department": "水务局"})
        assert typo.status_code == 422 and "不在承办部门列表里" in typo.text
        created = client.post("/staff/orders", data={"csrf_token": token, "description": "井盖松动了，很危险",
                                                     "department": "市政"})
        assert created.status_code == 303
        number = created.headers["location"].split("/")[-1].split("?")[0]
        with session_scope(context.sessions) as db:
            order = db.scalar(select(WorkOrder).where(WorkOrder.number == number))
            assert (order.department, order.category, order.priority) == ("市政", "安全隐患", "high")

        detail = client.get(f"/staff/orders/{number}")
        assert _selected(detail.text, "dispatch-department") == "市政"
        bad = client.post(f"/staff/orders/{number}/action", data={"csrf_token": csrf_from(detail.text),
                                                                  "action": "派单", "department": "市政局"})
        assert bad.status_code == 422 and "不在承办部门列表里" in bad.text
        with session_scope(context.sessions) as db:
            order = db.scalar(select(WorkOrder).where(WorkOrder.number == number))
            assert (order.status, order.department) == ("受理", "市政")  # nothing changed
        ok = client.post(f"/staff/orders/{number}/action", data={"csrf_token": csrf_from(detail.text),
                                                                 "action": "派单", "department": "城管"})
        assert ok.status_code == 303
        with session_scope(context.sessions) as db:
            assert db.scalar(select(WorkOrder.department).where(WorkOrder.number == number)) == "城管"


def test_the_orders_list_filters_by_a_listed_department(settings):
    with handoff_client(settings) as (client, _context):
        sign_in(client, "staff")
        token = csrf_from(client.get("/staff/orders/new").text)
        numbers = {}
        for description, department in (("井盖松动了", "市政"), ("电梯坏了", "物业")):
            created = client.post("/staff/orders", data={"csrf_token": token, "description": description,
                                                         "department": department})
            numbers[department] = created.headers["location"].split("/")[-1].split("?")[0]
        listed = client.get("/staff/orders", params={"department": "物业"}).text
        assert numbers["物业"] in listed and numbers["市政"] not in listed
        assert _selected(listed, "filter-department") == "物业"
        unknown = client.get("/staff/orders", params={"department": "不存在"}).text  # ignored, not an error
        assert numbers["物业"] in unknown and numbers["市政"] in unknown
