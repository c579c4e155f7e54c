"""Residents' conversations cannot be read or written by others (issue 18, item 2).

Session ids are issued by the server (128 random bits) and are the bearer secret of a conversation; channel
sessions (Rasa sender, WeChat user) are keyed with the server secret; a ticket look-up shows another resident's
order only as plain status; the public /t/ page needs the phone's last four digits or the QR code's token.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from handoff_testkit import TUESDAY, handoff_client, say
from sqlalchemy import select

from assistant.api.routes.rasa_webhook import session_for_sender
from assistant.auth.secret import server_secret
from assistant.dialogue.turn_store import derived_session_id, issued_session_id
from assistant.handoff.lifecycle import Actor, transition
from assistant.handoff.queries import order_token
from assistant.handoff.tickets import create_work_order
from assistant.storage.db import session_scope
from assistant.storage.models import ChatSession, Turn

STAFF = Actor("sam", "staff")
DESCRIPTION = "幸福小区3栋2单元楼道灯坏了，住户王秀英"
RESULT_NOTE = "已为王秀英更换幸福小区3栋灯泡"
CONTACT = "13912345678"
PRIVATE = ("王秀英", "幸福小区", "楼道灯", "13912345678", "139****5678", "更换")


def _finished_order(client, context, session_id: str | None) -> str:
    """A work order made in ``session_id``, finished with a result note that names the resident's case."""
    engine = client.app.state.engine
    with session_scope(context.sessions) as db:
        order = create_work_order(db, engine.cipher, source="report_issue", description=DESCRIPTION,
                                  location="幸福小区3栋", contact=CONTACT, category="社区事务", department="社区",
                                  policy=engine.handoff.policy, now=TUESDAY, session_id=session_id)
        for hour, (action, note) in enumerate([("派单", ""), ("签收", ""), ("办结", RESULT_NOTE)], start=1):
            transition(db, order, action, STAFF, engine.handoff.policy, note=note,
                       now=TUESDAY + dt.timedelta(hours=hour))
        return order.number


def test_a_client_made_id_gets_a_new_server_id_and_reads_nothing(settings):
    with handoff_client(settings) as (client, context):
        resident = say(client, "我要找工作人员")["session_id"]
        assert issued_session_id(resident) and len(resident) == 22  # token_urlsafe(16): 128 random bits
        with session_scope(context.sessions) as db:  # a conversation stored under a client-made id earlier
            db.add(ChatSession(id="kiosk-1", channel="kiosk", state={}, turn_count=1))

        for made_up in ("kiosk-1", "1", "x" * 64, resident[:-1]):
            reply = say(client, "你好", made_up)
            assert reply["session_id"] != made_up and issued_session_id(reply["session_id"])
            assert reply["session_id"] != resident

        # The stored legacy conversation is kept, but its guessable id opens nothing any more.
        for path in ("messages", "history", "events"):
            response = client.get(f"/api/v1/sessions/kiosk-1/{path}")
            assert response.status_code == 404 and "没有找到" in response.json()["error"]["message_zh"]
        with session_scope(context.sessions) as db:
            assert db.get(ChatSession, "kiosk-1") is not None
            assert db.scalar(select(Turn.id).where(Turn.session_id == "kiosk-1")) is None  # nothing written into it


def test_two_residents_cannot_read_each_others_messages(settings):
    with handoff_client(settings) as (client, _context):
        alice = say(client, "我的电话是13812345678，我要找工作人员")["session_id"]
        bob = say(client, "高龄津贴怎么申请")["session_id"]
        assert alice != bob

        alice_history = client.get(f"/api/v1/sessions/{alice}/history").json()
        bob_history = client.get(f"/api/v1/sessions/{bob}/history").json()
        alice_texts = " ".join(m["text"] for m in alice_history["messages"])
        bob_texts = " ".join(m["text"] for m in bob_history["messages"])
        assert "我要找" in alice_texts and "高龄津贴" not in alice_texts
        assert "高龄津贴" in bob_texts and "我要找" not in bob_texts
        assert "13812345678" not in alice_texts  # the resident's own words come back masked, as stored
        assert client.get(f"/api/v1/sessions/{bob}/messages").json()["handoff"] is None

        # An id of the right shape that nobody was issued is unknown, not a new empty conversation to read.
        unknown = "A" * 22
        assert client.get(f"/api/v1/sessions/{unknown}/messages").status_code == 404
        assert client.get(f"/api/v1/sessions/{unknown}/history").status_code == 404


def test_rasa_sender_ids_are_keyed_with_the_server_secret(settings):
    sender = "13800138000"  # senders are often guessable: phone numbers, user names
    unkeyed = "rasa-" + hashlib.sha256(sender.encode()).hexdigest()[:32]
    assert session_for_sender(b"one secret", sender) != session_for_sender(b"another secret", sender)
    assert session_for_sender(b"one secret", sender) == session_for_sender(b"one secret", sender)
    assert session_for_sender(b"one secret", sender) != unkeyed
    assert derived_session_id(b"k", "wx-", "wechat:app", sender) != derived_session_id(b"k", "wx-", "wecom:app",
                                                                                        sender)

    with handoff_client(settings, secret_key="the server secret") as (client, context):
        for text in ("你好", "高龄津贴怎么申请"):
            sent = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
            assert sent.status_code == 200 and sent.json()[0]["recipient_id"] == sender
        expected = session_for_sender(server_secret(context.settings), sender)
        with session_scope(context.sessions) as db:
            chat = db.get(ChatSession, expected)
            assert chat is not None and chat.turn_count == 2  # one conversation per sender, continued
            assert db.get(ChatSession, unkeyed) is None
        # Derived ids are reached through their channel only: the public API neither reads nor continues them.
        assert client.get(f"/api/v1/sessions/{expected}/history").status_code == 404
        assert client.get(f"/api/v1/sessions/{expected}/messages").status_code == 404
        assert say(client, "你好", expected)["session_id"] != expected


def test_ticket_lookup_of_another_sessions_order_reveals_nothing_private(settings):
    with handoff_client(settings) as (client, context):
        owner = say(client, "你好")["session_id"]
        number = _finished_order(client, context, owner)

        mine = say(client, f"查工单{number}", owner)
        assert mine["action"] == "ticket" and "已办结" in mine["reply"]["text"]
        assert "更换" in mine["reply"]["text"]  # the owner is told the result

        other = say(client, "你好")["session_id"]
        theirs = say(client, f"查工单{number}", other)
        assert theirs["action"] == "ticket" and theirs["ticket"]["number"] == number
        assert "已办结" in theirs["reply"]["text"]  # the plain status only
        for secret in PRIVATE:
            assert secret not in theirs["reply"]["text"], secret
            assert secret not in theirs["reply"]["speech"], secret
        # Asked without a number, a new conversation has no orders of its own to show.
        fresh = say(client, "查工单", say(client, "你好")["session_id"])
        assert number not in fresh["reply"]["text"]


def test_public_status_page_needs_the_phone_ending_or_the_qr_token(settings):
    with handoff_client(settings, order_lookup_max_failures=3) as (client, context):
        number = _finished_order(client, context, None)
        token = order_token(server_secret(context.settings), number)

        for page in (client.get(f"/t/{number}"), client.get(f"/t/{number}", params={"token": "0" * 32}),
                     client.post("/t/", data={"number": number, "phone4": "1234"})):
            assert 'name="phone4"' in page.text and "已办结" not in page.text
            for secret in PRIVATE:
                assert secret not in page.text, secret
        assert client.get(f"/t/{number}").status_code == 200  # asked for the digits, not told it exists
        assert client.get(f"/api/v1/orders/{number}").status_code == 404

        by_token = client.get(f"/t/{number}", params={"token": token})
        by_phone = client.post("/t/", data={"number": number.lower(), "phone4": "5678"})
        as_json = client.get(f"/api/v1/orders/{number}", params={"phone4": "5678"})
        for shown in (by_token, by_phone):
            assert shown.status_code == 200 and 'id="status-text">已办结<' in shown.text
            assert "13912345678" not in shown.text and "楼道灯" not in shown.text  # no contact, no description
        assert as_json.status_code == 200 and as_json.json()["status_text"] == "已办结"
        # The token is for that number only.
        other = _finished_order(client, context, None)
        assert "已办结" not in client.get(f"/t/{other}", params={"token": token}).text


def test_failed_lookups_are_limited_per_address(settings):
    with handoff_client(settings, order_lookup_max_failures=3) as (client, context):
        number = _finished_order(client, context, None)
        for ending in ("0000", "1111", "2222"):
            assert client.post("/t/", data={"number": number, "phone4": ending}).status_code == 404
        # Now even the right ending is refused for a while: guessing 10,000 endings is not possible.
        limited = client.post("/t/", data={"number": number, "phone4": "5678"})
        assert limited.status_code == 429 and "次数太多" in limited.text and "已办结" not in limited.text
        assert client.get(f"/api/v1/orders/{number}", params={"phone4": "5678"}).status_code == 429
        assert client.get(f"/t/{number}").status_code == 200  # the form itself still opens


def test_receipt_qr_link_is_given_to_the_orders_own_session_only(settings):
    import httpx

    from kiosk_app.client import HttpAssistantClient

    with handoff_client(settings, public_base_url="https://shequ.example.cn/") as (client, context):
        owner = say(client, "你好")["session_id"]
        number = _finished_order(client, context, owner)
        link = client.get(f"/api/v1/sessions/{owner}/orders/{number}/link")
        assert link.status_code == 200
        url = link.json()["url"]
        assert url.startswith(f"https://shequ.example.cn/t/{number}?token=")
        assert "已办结" in client.get(url.removeprefix("https://shequ.example.cn")).text  # the QR opens the page

        other = say(client, "你好")["session_id"]
        assert client.get(f"/api/v1/sessions/{other}/orders/{number}/link").status_code == 404
        assert client.get(f"/api/v1/sessions/kiosk-1/orders/{number}/link").status_code == 404

        # The kiosk talking to the server over HTTP gets the same link for the receipt, and none for others.
        def forward(request: httpx.Request) -> httpx.Response:
            answered = client.get(request.url.path)
            return httpx.Response(answered.status_code, content=answered.content, headers=answered.headers)

        kiosk = HttpAssistantClient("http://server", context.settings, transport=httpx.MockTransport(forward))
        try:
            assert kiosk.status_link(owner, number) == url
            assert kiosk.status_link(other, number) is None and kiosk.status_link(None, number) is None
        finally:
            kiosk.close()
