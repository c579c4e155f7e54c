"""The live queue: events on every queue change and message, what each row says, and urgent requests after an
emergency (first in the queue, never 留言)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from handoff_testkit import Clock, handoff_client, say, sign_in
from sqlalchemy import select

from assistant.communities import DEFAULT_CODE
from assistant.events.bus import MESSAGE, QUEUE_CHANGED
from assistant.handoff.calendar import CHINA
from assistant.handoff.question import BARE_REQUEST, ResidentTurn, real_question
from assistant.storage.db import session_scope
from assistant.storage.models import HandoffRequest

EVENING = dt.datetime(2026, 3, 10, 22, 0, tzinfo=CHINA)
DANGER = "他倒在地上叫他不应"


def events_since(context: Any, last: int) -> tuple[list[tuple[str, dict[str, Any]]], int]:
    found = [e for e in context.events.since(last, limit=1000) if e.kind in (QUEUE_CHANGED, MESSAGE)]
    newest = max([last, *(e.id for e in context.events.since(last, limit=1000))])
    return [(e.kind, e.data) for e in found], newest


def queued(waiting: int, serving: int) -> dict[str, Any]:
    """A queue event of the default community (its counts, and the city's for city staff: the same here)."""
    return {"waiting": waiting, "serving": serving, "community": DEFAULT_CODE,
            "city": {"waiting": waiting, "serving": serving}}


def queue_items(client: Any) -> list[dict[str, Any]]:
    response = client.get("/staff/api/handoffs")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_every_queue_change_and_message_is_published(settings):
    with handoff_client(settings) as (client, context):
        last = max([0, *(e.id for e in context.events.since(0, limit=1000))])
        sid = say(client, "转人工")["session_id"]
        events, last = events_since(context, last)
        assert (QUEUE_CHANGED, queued(1, 0)) in events

        say(client, "我家楼道的灯坏了", sid)
        events, last = events_since(context, last)
        with session_scope(context.sessions) as db:
            hid = db.scalar(select(HandoffRequest.id).where(HandoffRequest.session_id == sid))
        messages = [data for kind, data in events if kind == MESSAGE]
        assert messages and messages[-1]["handoff_id"] == hid and messages[-1]["session_id"] == sid
        # The id lets a page fetch exactly what is new: the resident's message is at or below it.
        shown = client.get(f"/api/v1/sessions/{sid}/messages").json()["messages"]
        assert max(m["id"] for m in shown) <= messages[-1]["id"]

        token = sign_in(client, "staff")
        headers = {"X-CSRF-Token": token}
        assert client.post(f"/staff/api/handoffs/{hid}/claim", headers=headers).status_code == 200
        events, last = events_since(context, last)
        assert (QUEUE_CHANGED, queued(0, 1)) in events
        assert any(kind == MESSAGE and data["handoff_id"] == hid for kind, data in events)

        assert client.post(f"/staff/api/handoffs/{hid}/messages", json={"text": "请问是哪一栋？"},
                           headers=headers).status_code == 201
        events, last = events_since(context, last)
        assert [kind for kind, _ in events] == [MESSAGE]

        assert client.post(f"/staff/api/handoffs/{hid}/close", json={"note": "已报物业"},
                           headers=headers).status_code == 204
        events, last = events_since(context, last)
        assert (QUEUE_CHANGED, queued(0, 0)) in events

        # Leaving the queue, and a refused action, change nothing that was not announced.
        other = say(client, "转人工")["session_id"]
        say(client, "/cancel", other)
        events, last = events_since(context, last)
        assert events[-1] == (QUEUE_CHANGED, queued(0, 0))
        assert client.post(f"/staff/api/handoffs/{hid}/claim", headers=headers).status_code == 409
        assert events_since(context, last)[0] == []


def test_sweep_to_message_is_published(settings):
    clock = Clock()
    with handoff_client(settings, clock) as (client, context):
        sid = say(client, "转人工")["session_id"]
        last = max(e.id for e in context.events.since(0, limit=1000))
        clock.advance(seconds=settings.handoff_claim_timeout_seconds + 5)
        client.get(f"/api/v1/sessions/{sid}/messages")  # the resident's polling sweeps
        events, _ = events_since(context, last)
        assert (QUEUE_CHANGED, queued(0, 0)) in events
        assert any(kind == MESSAGE and data["session_id"] == sid for kind, data in events)


def test_a_failing_bus_never_breaks_the_residents_turn(settings):
    class Broken:
        def publish(self, kind: str, data: dict[str, Any]) -> None:
            raise ConnectionError("bus down")

        def since(self, last_id: int, limit: int = 100) -> list[Any]:
            return []

    with handoff_client(settings) as (client, _context):
        client.app.state.engine.handoff.events = Broken()
        first = say(client, "转人工")
        assert first["action"] == "handoff" and first["ticket"]["status"] == "排队中"
        assert say(client, "我家楼道的灯坏了", first["session_id"])["action"] == "handoff"


def test_each_row_shows_the_real_question_and_the_topic(settings):
    with handoff_client(settings) as (client, _context):
        asked = say(client, "高龄津贴怎么申请")
        assert asked["topic"]["id"] == "senior-age-allowance"
        say(client, "/human", asked["session_id"])
        bare = say(client, "转人工")["session_id"]
        sign_in(client, "staff")
        rows = {row["session_id"]: row for row in queue_items(client)}
        row = rows[asked["session_id"]]
        assert row["preview"] == "高龄津贴怎么申请"  # not "/human"
        assert row["topic"] == asked["topic"]["title"]
        assert row["channel_label"] == "网页" and row["waited_minutes"] == 0
        assert rows[bare]["preview"] == BARE_REQUEST and rows[bare]["topic"] == ""
        page = client.get("/staff/inbox").text
        assert "高龄津贴怎么申请" in page and "/human" not in page and "网页" in page
        assert 'id="queue-count" data-count="2"' in page  # the menu's waiting count, rendered on the server


def test_the_question_skips_payloads_greetings_and_bare_requests():
    titles = {"senior-age-allowance": "高龄津贴怎么申请"}.get
    newest_first = [ResidentTurn("/human", None, None), ResidentTurn("转人工", "request_human", None),
                    ResidentTurn("谢谢", "thanks", None), ResidentTurn("我家水管爆了13*******22", None, None),
                    ResidentTurn("你好", "greet", None)]
    assert real_question(newest_first, titles) == "我家水管爆了13*******22"
    assert real_question([ResidentTurn("/aspect materials", None, "senior-age-allowance")], titles) == \
        "高龄津贴怎么申请 · 要带什么"
    assert real_question([ResidentTurn("/topic senior-age-allowance", None, None)], titles) == "高龄津贴怎么申请"
    assert real_question([ResidentTurn("我要转人工，低保卡丢了", "request_human", None)], titles) == \
        "我要转人工，低保卡丢了"
    assert real_question([ResidentTurn("/choose 2", None, None), ResidentTurn("好的", None, None)], titles) == \
        BARE_REQUEST


def test_an_emergency_goes_first_and_is_never_swept_to_a_message(settings):
    clock = Clock()
    with handoff_client(settings, clock) as (client, _context):
        ordinary = say(client, "转人工")["session_id"]
        clock.advance(seconds=30)
        danger = say(client, DANGER)
        assert danger["action"] == "emergency"
        staff_button = next(b for b in danger["reply"]["buttons"] if b["title"] == "呼叫工作人员")
        queued = say(client, staff_button["payload"], danger["session_id"])
        assert queued["ticket"]["status"] == "排队中"
        assert "已排在最前面" in queued["reply"]["text"] and "120/110/119" in queued["reply"]["text"]
        sign_in(client, "staff")
        rows = queue_items(client)
        assert [r["session_id"] for r in rows] == [danger["session_id"], ordinary]
        assert [r["urgent"] for r in rows] == [True, False]
        assert rows[0]["preview"] == DANGER
        assert "紧急" in client.get("/staff/inbox").text

        clock.advance(seconds=settings.handoff_claim_timeout_seconds * 10)
        rows = {r["session_id"]: r["status"] for r in queue_items(client)}
        assert rows == {danger["session_id"]: "排队中", ordinary: "留言"}
        # The resident's page still shows the queue, and no system message offered 留言.
        state = client.get(f"/api/v1/sessions/{danger['session_id']}/messages").json()
        assert state["handoff"]["status"] == "排队中"
        assert not any("留下问题" in m["text"] for m in state["messages"])


def test_an_emergency_while_queued_makes_the_request_urgent(settings):
    clock = Clock()
    with handoff_client(settings, clock) as (client, _context):
        earlier = say(client, "转人工")["session_id"]
        clock.advance(seconds=10)
        sid = say(client, "转人工")["session_id"]
        assert say(client, DANGER, sid)["action"] == "emergency"
        sign_in(client, "staff")
        rows = queue_items(client)  # first at once, before anything else happens
        assert [(r["session_id"], r["urgent"]) for r in rows] == [(sid, True), (earlier, False)]
        clock.advance(seconds=settings.handoff_claim_timeout_seconds + 5)
        rows = queue_items(client)
        assert [(r["session_id"], r["status"], r["urgent"]) for r in rows] == [(sid, "排队中", True),
                                                                               (earlier, "留言", False)]


def test_out_of_hours_an_emergency_stays_in_the_queue(settings):
    with handoff_client(settings, Clock(EVENING)) as (client, _context):
        plain = say(client, "转人工")
        assert plain["ticket"] is None  # the ordinary out-of-hours path: leave a message
        danger = say(client, DANGER)
        queued = say(client, "/human", danger["session_id"])
        assert queued["action"] == "handoff" and queued["ticket"]["status"] == "排队中"
        assert queued["reply"]["text"].startswith("现在不是办公时间") and "已排在最前面" in queued["reply"]["text"]
        assert "留言" not in queued["reply"]["text"]

        # A resident already leaving a message who then reports a danger is put back in the queue.
        assert say(client, DANGER, plain["session_id"])["action"] == "emergency"
        again = say(client, "/human", plain["session_id"])
        assert again["ticket"]["status"] == "排队中" and "已排在最前面" in again["reply"]["text"]
        sign_in(client, "staff")
        rows = queue_items(client)
        assert {r["session_id"] for r in rows if r["urgent"] and r["status"] == "排队中"} == {
            danger["session_id"], plain["session_id"]}


def test_the_staff_transcript_shows_button_presses_in_words(settings):
    with handoff_client(settings) as (client, _context):
        asked = say(client, "高龄津贴怎么申请")
        say(client, "/aspect materials", asked["session_id"])
        say(client, "/human", asked["session_id"])
        sign_in(client, "staff")
        hid = queue_items(client)[0]["id"]
        texts = [m["text"] for m in client.get(f"/staff/api/handoffs/{hid}/messages").json()["messages"]
                 if m["from"] == "resident"]
        assert texts == ["高龄津贴怎么申请", "（点了按钮：要带什么）", "（点了按钮：找工作人员）"]
        page = client.get(f"/staff/inbox/{hid}").text
        assert "/human" not in page and "/aspect" not in page
        # The resident's own history keeps what was sent (the chat shows its own buttons its own way).
        resident = client.get(f"/api/v1/sessions/{asked['session_id']}/messages").json()["messages"]
        assert "/human" in [m["text"] for m in resident if m["from"] == "resident"]


def test_turning_a_conversation_into_a_work_order_is_published(settings):
    with handoff_client(settings) as (client, context):
        sid = say(client, "转人工")["session_id"]
        say(client, "3栋2单元楼道灯坏了", sid)
        token = sign_in(client, "staff")
        hid = queue_items(client)[0]["id"]
        assert client.post(f"/staff/api/handoffs/{hid}/claim", headers={"X-CSRF-Token": token}).status_code == 200
        last = max(e.id for e in context.events.since(0, limit=1000))
        converted = client.post(f"/staff/api/handoffs/{hid}/convert",
                                json={"description": "3栋2单元楼道灯坏了", "location": "3栋2单元"},
                                headers={"X-CSRF-Token": token})
        assert converted.status_code == 201, converted.text
        events, _ = events_since(context, last)
        assert (QUEUE_CHANGED, queued(0, 0)) in events
        assert any(kind == MESSAGE and data["handoff_id"] == hid for kind, data in events)
