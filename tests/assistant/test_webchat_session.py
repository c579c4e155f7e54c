"""The web chat's conversation restored after a reload: ``GET /api/v1/sessions/{id}/history``."""

from __future__ import annotations

import pytest
from handoff_testkit import handoff_client, poll, say, sign_in

from assistant.api.routes import sessions
from assistant.storage.db import session_scope
from assistant.storage.models import Turn


def history(client, session_id: str):
    return client.get(f"/api/v1/sessions/{session_id}/history")


def test_history_is_the_whole_conversation_in_order_with_the_handoff(settings):
    with handoff_client(settings) as (client, _context):
        sid = say(client, "社保卡丢了怎么办")["session_id"]
        say(client, "转人工", sid)
        say(client, "我的电话是13812345678，身份证450103199001011234", sid)
        token = sign_in(client, "staff")
        hid = client.get("/staff/api/handoffs").json()["items"][0]["id"]
        client.post(f"/staff/api/handoffs/{hid}/claim", headers={"X-CSRF-Token": token})
        client.post(f"/staff/api/handoffs/{hid}/messages", json={"text": "您好，我来帮您补办。"},
                    headers={"X-CSRF-Token": token})

        response = history(client, sid)
        assert response.status_code == 200
        body = response.json()
        messages = body["messages"]
        senders = [m["from"] for m in messages]
        assert senders[:4] == ["resident", "bot", "resident", "bot"]
        assert senders[-2:] == ["system", "agent"] and messages[-1]["text"] == "您好，我来帮您补办。"
        assert messages[0]["text"] == "社保卡丢了怎么办"
        ids = [m["id"] for m in messages]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert body["last_id"] == ids[-1]
        assert body["handoff"] == {"status": "接待中", "queue_number": "A001"}
        # The resident's personal numbers are stored masked, and that is all the page ever gets back.
        text = response.text
        assert "13812345678" not in text and "450103199001011234" not in text
        assert any("138" in m["text"] and "****" in m["text"] for m in messages if m["from"] == "resident")
        # Polling resumes from last_id: nothing is repeated, the next reply arrives.
        assert poll(client, sid, body["last_id"])["messages"] == []
        client.post(f"/staff/api/handoffs/{hid}/messages", json={"text": "请带身份证。"},
                    headers={"X-CSRF-Token": token})
        assert [m["text"] for m in poll(client, sid, body["last_id"])["messages"]] == ["请带身份证。"]


def test_another_sessions_messages_are_never_in_the_history(settings):
    with handoff_client(settings) as (client, _context):
        mine = say(client, "高龄津贴怎么申请")["session_id"]
        theirs = say(client, "我家住在幸福小区3栋，低保怎么申请")["session_id"]
        say(client, "社保卡丢了怎么办", mine)
        texts = [m["text"] for m in history(client, mine).json()["messages"]]
        assert "高龄津贴怎么申请" in texts and "社保卡丢了怎么办" in texts
        assert not any("幸福小区" in t or "低保" in t for t in texts if t)
        assert history(client, theirs).json()["messages"][0]["text"].startswith("我家住在")


@pytest.mark.parametrize("session_id", ["not-a-session", "0" * 64, "x" * 65])
def test_unknown_session_is_404_in_chinese(settings, session_id: str):
    with handoff_client(settings) as (client, _context):
        response = history(client, session_id)
        assert response.status_code == 404
        assert response.json()["error"]["message_zh"] == "没有找到这个对话，请重新开始"
        assert "Traceback" not in response.text


def test_emergency_replies_are_marked_so_the_page_shows_call_links(settings):
    with handoff_client(settings) as (client, _context):
        reply = say(client, "我家老人晕倒了")
        assert reply["action"] == "emergency"
        messages = history(client, reply["session_id"]).json()["messages"]
        assert [m.get("emergency", False) for m in messages] == [False, True]
        assert "120" in messages[1]["text"]


def test_a_long_conversation_restores_its_latest_turns(settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sessions, "HISTORY_TURNS", 3)
    with handoff_client(settings) as (client, context):
        sid = say(client, "问题1")["session_id"]
        for n in range(2, 6):
            say(client, f"问题{n}", sid)
        with session_scope(context.sessions) as db:
            assert db.query(Turn).filter(Turn.session_id == sid).count() == 5
        residents = [m["text"] for m in history(client, sid).json()["messages"] if m["from"] == "resident"]
        assert residents == ["问题3", "问题4", "问题5"]


def test_push_stream_announces_only_this_conversations_messages(settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sessions, "STREAM_SECONDS", 0.5)  # the stream ends by itself, so the test can read it
    with handoff_client(settings) as (client, _context):
        assert client.get("/api/v1/sessions/nobody/events").status_code == 404
        mine = say(client, "转人工")["session_id"]
        theirs = say(client, "转人工")["session_id"]
        token = sign_in(client, "staff")
        items = {i["session_id"]: i["id"] for i in client.get("/staff/api/handoffs").json()["items"]}
        for sid in (mine, theirs):
            client.post(f"/staff/api/handoffs/{items[sid]}/claim", headers={"X-CSRF-Token": token})
            client.post(f"/staff/api/handoffs/{items[sid]}/messages", json={"text": "您好"},
                        headers={"X-CSRF-Token": token})
        stream = client.get(f"/api/v1/sessions/{mine}/events", params={"after": 0})
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        events = [block for block in stream.text.split("\n\n") if "event: message" in block]
        assert len(events) == 2  # claimed, replied: the page fetches /messages at once on each
        assert all(mine in block and theirs not in block for block in events)
        assert "您好" not in stream.text  # ids only: the text itself comes from /messages
