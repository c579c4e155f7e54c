"""What a resident sees of a work order — at /t/{number}, in the chat's look-up and as JSON: plain Chinese status,
the 办结 result only once finished, China times, never staff notes or personal data; and the /t/ look-up form."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from handoff_testkit import TUESDAY, handoff_client, say

from assistant.handoff.calendar import CHINA
from assistant.handoff.lifecycle import Actor, transition
from assistant.handoff.tickets import create_work_order
from assistant.storage.db import session_scope
from assistant.storage.models import WorkOrder

STAFF = Actor("sam", "staff")
DESCRIPTION = "幸福小区3栋楼道灯坏了，住户王秀英"
RESULT_NOTE = "已更换灯泡，回访电话13812345678"
# (action, note) to reach each status from 受理, with notes that are for staff only along the way.
PATH = [("派单", ""), ("退单", "不属于本部门职责"), ("派单", ""), ("催办", "居民来电催促"), ("签收", ""),
        ("办结", RESULT_NOTE), ("回访", ""), ("评价", "")]
STATUS_AFTER = {"受理": 0, "派单": 1, "办理中": 5, "办结": 6, "回访": 7, "已评价": 8}
EXPECTED = {"受理": "已受理，正在安排", "派单": "已派给{d}", "办理中": "{d}正在办理", "办结": "已办结",
            "回访": "已办结", "已评价": "已办结"}
STAFF_ONLY = ("不属于本部门职责", "居民来电催促", "王秀英", "楼道灯坏了", "13812345678", "139")


def _order(client, context, status: str, session_id: str | None = None) -> tuple[str, str, dt.datetime]:
    """A work order moved to ``status`` (one step an hour from Tuesday 10:00 China time), made in the chat
    session ``session_id`` when given."""
    engine = client.app.state.engine
    with session_scope(context.sessions) as db:
        order = create_work_order(db, engine.cipher, source="report_issue", description=DESCRIPTION,
                                  contact="13912345678", category="社区事务", department="社区",
                                  policy=engine.handoff.policy, now=TUESDAY, session_id=session_id)
        for hour, (action, note) in enumerate(PATH[:STATUS_AFTER[status]], start=1):
            transition(db, order, action, STAFF, engine.handoff.policy, note=note,
                       satisfied=True if action == "评价" else None, now=TUESDAY + dt.timedelta(hours=hour))
        assert order.status == status
        return order.number, order.department, order.due_at


@pytest.mark.parametrize("status", list(STATUS_AFTER))
def test_status_in_plain_words_the_same_on_the_page_in_chat_and_as_json(settings, status: str):
    with handoff_client(settings) as (client, context):
        session_id = say(client, "你好")["session_id"]  # the resident's own conversation
        number, department, due_at = _order(client, context, status, session_id)
        expected = EXPECTED[status].format(d=department)
        finished = status in ("办结", "回访", "已评价")

        page = client.post("/t/", data={"number": number, "phone4": "5678"})  # the contact's last four
        assert page.status_code == 200
        shown = re.search(r'id="status-text">([^<]*)<', page.text).group(1)
        assert shown == expected
        for secret in STAFF_ONLY:
            assert secret not in page.text, secret
        if finished:
            assert "办理结果：已更换灯泡，回访电话138****5678" in page.text
        else:
            assert "办理结果" not in page.text and "已更换灯泡" not in page.text
            due = due_at if due_at.tzinfo else due_at.replace(tzinfo=dt.UTC)
            assert f"{due.astimezone(CHINA):%Y年%m月%d日}前" in page.text
        # Steps carry China times: 受理 at Tuesday 10:00 in China (02:00 UTC).
        assert "2026年03月10日 10:00" in page.text and "02:00" not in page.text

        reply = say(client, f"查一下工单{number.lower()}", session_id)
        assert reply["action"] == "ticket"
        assert reply["ticket"]["number"] == number and reply["ticket"]["status"] == status
        assert expected in reply["reply"]["text"]
        assert ("已更换灯泡" in reply["reply"]["text"]) == finished
        for secret in STAFF_ONLY:
            assert secret not in reply["reply"]["text"], secret

        public = client.get(f"/api/v1/orders/{number}", params={"phone4": "5678"}).json()
        assert public["status"] == status and public["status_text"] == expected
        assert public["result"] == ("已更换灯泡，回访电话138****5678" if finished else "")


def test_reopened_order_hides_the_old_result(settings):
    with handoff_client(settings) as (client, context):
        number, department, _ = _order(client, context, "已评价")
        engine = client.app.state.engine
        with session_scope(context.sessions) as db:
            order = db.query(WorkOrder).filter(WorkOrder.number == number).one()
            order.rating = 0  # the resident was not satisfied at the follow-up
            transition(db, order, "重办", STAFF, engine.handoff.policy, note="灯还是不亮",
                       now=TUESDAY + dt.timedelta(hours=10))
        page = client.post("/t/", data={"number": number, "phone4": "5678"}).text
        assert f"{department}正在办理" in page
        assert "已更换灯泡" not in page and "灯还是不亮" not in page


def test_lookup_form_without_a_number_and_after_a_wrong_one(settings):
    with handoff_client(settings) as (client, context):
        number, _, _ = _order(client, context, "派单")
        for path in ("/t", "/t/"):
            form = client.get(path)
            assert form.status_code == 200
            assert 'name="number"' in form.text and "查询工单进度" in form.text
            assert "没有找到" not in form.text

        # Typed the way people type it: lower case, spaces (even full-width ones) in between.
        spaced = f" {number[:2].lower()} {number[2:10]}\u3000{number[10:]} "
        sent = client.get("/t/", params={"number": spaced})
        assert sent.status_code == 303 and sent.headers["location"] == f"/t/{number}"
        assert client.get(f"/t/{spaced}").status_code == 200  # a scanned or hand-edited URL too

        # The number alone: the form asks for the phone ending, whether or not the order exists.
        for asked in (client.get("/t/GX20260310999"), client.get(f"/t/{number}")):
            assert asked.status_code == 200 and 'name="phone4"' in asked.text and "已派给" not in asked.text
        assert 'value="GX20260310999"' in client.get("/t/GX20260310999").text  # kept in the box to correct it
        missing = client.post("/t/", data={"number": "GX20260310999", "phone4": "5678"})
        assert missing.status_code == 404
        assert "没有查到" in missing.text and 'name="number"' in missing.text

        hostile = client.get("/t/", params={"number": '<script>alert(1)</script>'}, follow_redirects=True)
        assert hostile.status_code == 404 and "<script>alert" not in hostile.text
        assert "没有找到这个工单" in hostile.text

        assert client.get("/t/", params={"number": "   "}).status_code == 200  # blank: the form again
