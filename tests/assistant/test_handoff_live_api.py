"""A live handoff end to end through the HTTP API: resident chat, staff inbox API, polling, work orders."""

from __future__ import annotations

import datetime as dt

from handoff_testkit import Clock, handoff_client, poll, say, sign_in
from sqlalchemy import select

from assistant.auth.secret import server_secret
from assistant.handoff.calendar import CHINA
from assistant.handoff.queries import order_token
from assistant.storage.db import session_scope
from assistant.storage.models import HandoffRequest, WorkOrder

EVENING = dt.datetime(2026, 3, 10, 22, 0, tzinfo=CHINA)


def test_live_handoff_claim_reply_poll_and_convert(settings):
    with handoff_client(settings) as (client, context):
        first = say(client, "转人工", channel="kiosk")
        assert first["action"] == "handoff"
        assert first["ticket"] == {"number": "A001", "status": "排队中", "department": "社区"}  # printable
        sid = first["session_id"]
        forwarded = say(client, "我家楼道的灯坏了", sid, channel="kiosk")
        assert forwarded["action"] == "handoff" and "已转给工作人员" in forwarded["reply"]["text"]
        assert forwarded["topic"] is None
        state = poll(client, sid)
        assert state["handoff"] == {"status": "排队中", "queue_number": "A001"}
        assert [m["from"] for m in state["messages"]] == ["resident", "bot", "resident"]
        assert all("已转给工作人员" not in m["text"] for m in state["messages"])
        last = state["messages"][-1]["id"]

        assert client.get("/staff/api/handoffs").status_code == 401  # not signed in
        token = sign_in(client, "staff")
        queue = client.get("/staff/api/handoffs").json()["items"]
        assert [(i["queue_number"], i["status"], i["preview"]) for i in queue] == [("A001", "排队中", "我家楼道的灯坏了")]
        hid = queue[0]["id"]
        assert client.post(f"/staff/api/handoffs/{hid}/claim").status_code == 403  # no CSRF token
        claimed = client.post(f"/staff/api/handoffs/{hid}/claim", headers={"X-CSRF-Token": token})
        assert claimed.status_code == 200 and claimed.json()["agent"] == "sam"
        sent = client.post(f"/staff/api/handoffs/{hid}/messages", json={"text": "您好，请问是哪一栋？"},
                           headers={"X-CSRF-Token": token})
        assert sent.status_code == 201

        update = poll(client, sid, last)  # the resident's page polling
        assert [(m["from"], m["text"]) for m in update["messages"]] == [
            ("system", "社区工作人员已接入，请直接说您的问题。"), ("agent", "您好，请问是哪一栋？")]
        assert update["handoff"]["status"] == "接待中"
        assert all(m["id"] > last for m in update["messages"])
        assert poll(client, sid, update["messages"][-1]["id"])["messages"] == []  # nothing twice

        answer = say(client, "3栋2单元，我电话13800138000", sid, channel="kiosk")
        assert answer["action"] == "handoff"
        seen = client.get(f"/staff/api/handoffs/{hid}/messages", params={"after": update["messages"][-1]["id"]})
        assert [m["text"] for m in seen.json()["messages"]] == ["3栋2单元，我电话138****8000"]  # masked

        # A second agent cannot take the conversation over.
        other = sign_in(client, "staff2")
        taken = client.post(f"/staff/api/handoffs/{hid}/claim", headers={"X-CSRF-Token": other})
        assert taken.status_code == 409 and "sam" in taken.json()["error"]["message_zh"]
        refused = client.post(f"/staff/api/handoffs/{hid}/messages", json={"text": "我来"},
                              headers={"X-CSRF-Token": other})
        assert refused.status_code == 403

        token = sign_in(client, "staff")
        bad = client.post(f"/staff/api/handoffs/{hid}/convert", json={"description": "灯坏了", "contact": "123"},
                          headers={"X-CSRF-Token": token})
        assert bad.status_code == 422 and "电话" in bad.json()["error"]["message_zh"]
        converted = client.post(f"/staff/api/handoffs/{hid}/convert",
                                json={"description": "3栋2单元楼道灯坏了", "location": "3栋2单元",
                                      "contact": "13800138000"}, headers={"X-CSRF-Token": token})
        assert converted.status_code == 201, converted.text
        number = converted.json()["number"]
        assert number.startswith("GX")

        end = poll(client, sid, update["messages"][-1]["id"])
        assert end["handoff"]["status"] == "已转工单"
        assert number in end["messages"][-1]["text"] and end["messages"][-1]["from"] == "system"
        assert say(client, "高龄津贴怎么申请", sid)["action"] == "answer"  # the bot is back

        with session_scope(context.sessions) as db:
            order = db.scalar(select(WorkOrder).where(WorkOrder.number == number))
            assert order.source == "handoff" and order.contact_masked == "138****8000"
            assert "13800138000" not in str(order.transcript)
            assert any(m["from"] == "agent" for m in order.transcript)

        qr_token = order_token(server_secret(context.settings), number)  # what the receipt's QR link carries
        page = client.get(f"/t/{number}", params={"token": qr_token})
        assert page.status_code == 200 and number in page.text and "受理" in page.text
        assert "138" not in page.text and "灯坏了" not in page.text  # no contact, no description
        public = client.get(f"/api/v1/orders/{number.lower()}", params={"phone4": "8000"}).json()
        assert public["status"] == "受理" and "contact" not in public
        missing = client.post("/t/", data={"number": "GX20260310999", "phone4": "8000"})
        assert missing.status_code == 404 and "没有查到" in missing.text
        hostile = client.post("/t/", data={"number": "<script>", "phone4": "8000"})
        assert "没有查到" in hostile.text and "<script>" not in hostile.text


def test_agent_closes_with_a_note_and_resident_may_cancel_the_queue(settings):
    with handoff_client(settings) as (client, context):
        sid = say(client, "我要找工作人员")["session_id"]
        token = sign_in(client, "staff")
        hid = client.get("/staff/api/handoffs").json()["items"][0]["id"]
        client.post(f"/staff/api/handoffs/{hid}/claim", headers={"X-CSRF-Token": token})
        empty = client.post(f"/staff/api/handoffs/{hid}/close", json={"note": " "}, headers={"X-CSRF-Token": token})
        assert empty.status_code == 422
        closed = client.post(f"/staff/api/handoffs/{hid}/close", json={"note": "已电话解答"},
                             headers={"X-CSRF-Token": token})
        assert closed.status_code == 204
        state = poll(client, sid)
        assert state["handoff"]["status"] == "已结束" and "结束" in state["messages"][-1]["text"]
        late = client.post(f"/staff/api/handoffs/{hid}/messages", json={"text": "还在吗"},
                           headers={"X-CSRF-Token": token})
        assert late.status_code == 409

        other = say(client, "转人工")
        assert other["ticket"]["number"] == "A002"
        cancelled = say(client, "/cancel", other["session_id"])
        assert cancelled["action"] == "handoff" and "取消" in cancelled["reply"]["text"]
        assert poll(client, other["session_id"])["handoff"]["status"] == "已取消"
        assert say(client, "社保卡丢了怎么办", other["session_id"])["action"] == "answer"
        with session_scope(context.sessions) as db:
            notes = dict(db.execute(select(HandoffRequest.queue_number, HandoffRequest.close_note)).all())
        assert notes == {"A001": "已电话解答", "A002": "居民取消排队"}


def test_outside_office_hours_a_message_and_callback_number_become_a_work_order(settings):
    with handoff_client(settings, Clock(EVENING)) as (client, context):
        offline = say(client, "转人工")
        assert offline["action"] == "handoff" and offline["ticket"] is None and "留下" in offline["reply"]["text"]
        sid = offline["session_id"]
        assert poll(client, sid)["handoff"] == {"status": "留言", "queue_number": ""}
        asked = say(client, "我想问低保怎么申请", sid)
        assert "电话" in asked["reply"]["text"] and asked["ticket"] is None
        wrong = say(client, "12345", sid)
        assert "号码" in wrong["reply"]["text"]
        done = say(client, "13912345678", sid)
        assert done["action"] == "ticket" and done["ticket"]["number"].startswith("GX20260310")
        assert "139****5678" in done["reply"]["text"]
        with session_scope(context.sessions) as db:
            order = db.scalar(select(WorkOrder).where(WorkOrder.number == done["ticket"]["number"]))
            assert order.source == "message" and order.description == "我想问低保怎么申请"
            assert order.contact_masked == "139****5678" and "13912345678" not in (order.contact_encrypted or "")
        assert poll(client, sid)["handoff"]["status"] == "已转工单"

        # The kiosk's keypad sends the number as a payload; the message may be left out.
        kiosk = say(client, "/human", channel="kiosk")
        by_keypad = say(client, "/callback 0771-5551234", kiosk["session_id"], channel="kiosk")
        assert by_keypad["action"] == "ticket" and by_keypad["ticket"]["number"] != done["ticket"]["number"]


def test_unclaimed_in_time_the_resident_is_offered_a_callback(settings):
    clock = Clock()
    with handoff_client(settings, clock, handoff_claim_timeout_seconds=120) as (client, context):
        sid = say(client, "转人工")["session_id"]
        clock.advance(seconds=60)
        assert poll(client, sid)["handoff"]["status"] == "排队中"
        clock.advance(seconds=61)
        state = poll(client, sid)
        assert state["handoff"]["status"] == "留言"
        assert state["messages"][-1]["from"] == "system" and "留下" in state["messages"][-1]["text"]
        done = say(client, "小区门口井盖松动了，电话13800138000", sid)
        assert done["action"] == "ticket"
        with session_scope(context.sessions) as db:
            order = db.scalar(select(WorkOrder).where(WorkOrder.number == done["ticket"]["number"]))
            assert order.category == "安全隐患" and order.deadline_days == 1


def test_polling_rejects_bad_input_with_a_clear_message(settings):
    with handoff_client(settings) as (client, _context):
        missing = client.get("/api/v1/sessions/nope/messages")
        assert missing.status_code == 404 and "没有找到" in missing.json()["error"]["message_zh"]
        sid = say(client, "你好")["session_id"]
        for bad in ("-1", "abc", "1e999"):
            response = client.get(f"/api/v1/sessions/{sid}/messages", params={"after": bad})
            assert response.status_code == 422, bad
        assert poll(client, sid)["handoff"] is None
        token = sign_in(client, "staff")
        assert client.post("/staff/api/handoffs/999/claim", headers={"X-CSRF-Token": token}).status_code == 404
        huge = client.post("/staff/api/handoffs/1/messages", json={"text": "长" * 5000},
                           headers={"X-CSRF-Token": token})
        assert huge.status_code == 422
        wrong_type = client.post("/staff/api/handoffs/1/messages", json={"text": 5}, headers={"X-CSRF-Token": token})
        assert wrong_type.status_code == 422
