"""Emergency alerts: raised with the turn and announced, acknowledged once, escalated once, sent to the outbox;
what the resident is told; the tel: payloads of the call buttons."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from handoff_testkit import Clock, handoff_client, poll, say, sign_in
from sqlalchemy import select

from assistant.clock import CHINA, as_utc
from assistant.dialogue import payloads, replies
from assistant.dialogue.payloads import Command
from assistant.events.bus import ALERT_ACKNOWLEDGED, ALERT_ESCALATED, ALERT_RAISED
from assistant.handoff import alerts
from assistant.handoff.models import OutboxMessage
from assistant.handoff.outbox import drain
from assistant.handoff.sinks import MemorySink
from assistant.handoff.worker import OrdersWorker
from assistant.storage.db import session_scope
from assistant.storage.models import Alert, AuditLog

FALL = "我家老人摔倒了起不来，我电话13912345678"


def _events(context, kind: str) -> list[dict]:
    return [e.data for e in context.events.since(0, limit=1000) if e.kind == kind]


def _audit(context, action: str) -> list[AuditLog]:
    with session_scope(context.sessions) as db:
        return list(db.scalars(select(AuditLog).where(AuditLog.action == action)))


def _alert(context, session_id: str) -> Alert:
    with session_scope(context.sessions) as db:
        return db.scalars(select(Alert).where(Alert.session_id == session_id)).one()


def test_an_emergency_stores_the_alert_announces_it_and_tells_only_what_is_true(settings):
    with handoff_client(settings) as (client, context):
        body = say(client, FALL)
        assert body["action"] == "emergency"
        text = body["reply"]["text"]
        assert text.startswith(replies.EMERGENCY_NUMBERS)  # the numbers come first
        assert replies.EMERGENCY_SENT in text
        assert body["reply"]["speech"].startswith("急救打幺二零")  # read as a phone number, not "一百二十"
        assert not any(promise in text for promise in ("马上到", "马上过来", "会来", "已通知", "正在赶来"))
        buttons = [(b["title"], b["payload"]) for b in body["reply"]["buttons"]]
        assert buttons == [("拨打120", "tel:120"), ("拨打110", "tel:110"), ("拨打119", "tel:119"),
                           ("呼叫工作人员", payloads.HUMAN)]  # a fall: 120 first

        alert = _alert(context, body["session_id"])
        assert alert.kind == "medical" and alert.acknowledged_by is None
        assert "13912345678" not in alert.text and "139****5678" in alert.text
        raised = _events(context, ALERT_RAISED)
        assert [e["id"] for e in raised] == [alert.id]
        assert raised[0]["kind_label"] == "急病受伤" and raised[0]["channel_label"] == "网页"
        assert "13912345678" not in str(raised[0])  # events carry the masked text only
        assert raised[0]["at_text"] == as_utc(alert.created_at).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        assert [a.target for a in _audit(context, "alert.raise")] == [f"alert:{alert.id}"]


def test_after_an_alert_what_to_do_first_is_answered_from_the_emergency_entry(settings, tiny_kb_data, write_kb,
                                                                                tmp_path):
    # 「那现在要怎么弄」「要打几号」 right after the alert: no 「不会回答」, the emergency-help entry answers them
    data = copy.deepcopy(tiny_kb_data)  # the fixture is shared by the whole run
    data["entries"]["anquan.yaml"] = {"category": "anquan", "entries": [{
        "id": "emergency-help", "title": "遇到急病、火灾、受伤等紧急情况怎么求助", "department": "应急",
        "status": "published", "answer": "急病、受伤打120，着火打119，遇到坏人打110。",
        "questions": ["有人受伤了打什么电话", "着火了怎么报警", "急救电话是多少", "家里老人突然病倒怎么求助",
                      "遇到紧急情况怎么求助", "叫救护车打几号", "火警电话是多少", "路上看到有人晕倒怎么办"],
        "aspects": {"process": "打电话时说清楚在哪里、什么情况；病人不要随便搬动。", "contact": "120急救；119火警；110报警"}}]}
    kb_dir = write_kb(tmp_path / "kb-with-emergency-help", data)
    with handoff_client(settings, kb_data_dir=kb_dir) as (client, _context):
        alert = say(client, FALL)
        assert alert["action"] == "emergency"
        first = say(client, "那现在要怎么弄", alert["session_id"])
        assert (first["action"], first["topic"]["id"]) == ("answer", "emergency-help")
        numbers = say(client, "要打几号", alert["session_id"])
        assert numbers["topic"]["id"] == "emergency-help" and "120" in numbers["reply"]["text"]


def test_a_rolled_back_turn_announces_nothing(settings):
    with handoff_client(settings) as (_client, context):
        start = context.events.latest()
        with pytest.raises(RuntimeError), session_scope(context.sessions) as db:
            alerts.raise_alert(db, context.events, "s1", "web", "fire", "楼道冒烟")
            raise RuntimeError("the turn failed after the alert was added")
        assert context.events.since(start) == []
        with session_scope(context.sessions) as db:
            assert db.scalars(select(Alert)).all() == []


def test_acknowledge_once_then_the_second_is_told_who(db_settings):
    with handoff_client(db_settings) as (client, context):
        body = say(client, FALL)
        sid = body["session_id"]
        seen = poll(client, sid)["messages"][-1]["id"]
        alert_id = _alert(context, sid).id

        assert client.get("/staff/api/alerts").status_code == 401
        token = sign_in(client, "staff")
        listed = client.get("/staff/api/alerts").json()
        assert [a["id"] for a in listed["alerts"]] == [alert_id]
        # The cursor is read before the list: streaming from it repeats at most, never misses, the raise event.
        assert listed["cursor"] == context.events.latest()
        assert [e.id for e in context.events.since(0) if e.kind == ALERT_RAISED][-1] <= listed["cursor"]
        assert client.post(f"/staff/api/alerts/{alert_id}/acknowledge").status_code == 403  # no CSRF token
        taken = client.post(f"/staff/api/alerts/{alert_id}/acknowledge", headers={"X-CSRF-Token": token})
        assert taken.status_code == 200 and taken.json()["ok"] is True

        other = sign_in(client, "staff2")
        again = client.post(f"/staff/api/alerts/{alert_id}/acknowledge", headers={"X-CSRF-Token": other})
        assert again.status_code == 409 and "sam" in again.json()["message"]
        assert client.post("/staff/api/alerts/99999/acknowledge", headers={"X-CSRF-Token": other}).status_code == 404

        stored = _alert(context, sid)
        assert stored.acknowledged_by == "sam" and stored.acknowledged_at is not None
        assert [(a.actor, a.target) for a in _audit(context, "alert.acknowledge")] == [("sam", f"alert:{alert_id}")]
        assert [e["acknowledged_by"] for e in _events(context, ALERT_ACKNOWLEDGED)] == ["sam"]
        assert client.get("/staff/api/alerts").json()["alerts"] == []  # gone from every page
        update = poll(client, sid, seen)["messages"]
        assert [(m["from"], m["text"]) for m in update] == [("system", alerts.ACKNOWLEDGED_MESSAGE)]

        page = client.get("/staff/alerts")
        assert page.status_code == 200 and "sam 于" in page.text and "139****5678" in page.text
        assert "13912345678" not in page.text


def test_alert_roles(settings):
    with handoff_client(settings) as (client, _context):
        refused = client.get("/staff/api/events")
        assert refused.status_code == 401 and "登录" in refused.text  # the stream is for signed-in staff only
        sign_in(client, "department")
        assert client.get("/staff/api/alerts").status_code == 403
        assert client.get("/staff/alerts").status_code == 403
        sign_in(client, "approver")
        assert client.get("/staff/api/alerts").status_code == 200


def test_the_alerts_page_form_acknowledges(settings):
    with handoff_client(settings) as (client, context):
        sid = say(client, FALL)["session_id"]
        alert_id = _alert(context, sid).id
        token = sign_in(client, "admin")
        page = client.get("/staff/alerts")
        assert "我来处理" in page.text and f"/staff/alerts/{alert_id}/acknowledge" in page.text
        done = client.post(f"/staff/alerts/{alert_id}/acknowledge", data={"csrf_token": token})
        assert done.status_code == 303 and "ack=taken" in done.headers["location"]
        assert _alert(context, sid).acknowledged_by == "ada"


def test_escalation_after_the_configured_time_exactly_once(db_settings):
    clock = Clock()
    with handoff_client(db_settings, clock, alert_escalation_seconds=90) as (client, context):
        sid = say(client, FALL)["session_id"]
        smoke = say(client, "楼道里全是黑烟呛得睁不开眼")
        assert [b["payload"] for b in smoke["reply"]["buttons"]][:3] == ["tel:119", "tel:120", "tel:110"]  # fire
        handled_sid = smoke["session_id"]
        token = sign_in(client, "staff")
        handled = _alert(context, handled_sid)
        client.post(f"/staff/api/alerts/{handled.id}/acknowledge", headers={"X-CSRF-Token": token})
        alert = _alert(context, sid)
        created = as_utc(alert.created_at)
        worker = OrdersWorker.from_context(context, client.app.state.engine.handoff)

        clock.now = created + dt.timedelta(seconds=89)
        assert worker.escalate_alerts() == []
        clock.now = created + dt.timedelta(seconds=90)
        assert worker.escalate_alerts() == [alert.id]
        clock.advance(minutes=10)
        assert worker.escalate_alerts() == []  # once, whichever worker runs next
        worker.run_once()  # the background loop's call
        assert len(_audit(context, "alert.escalate")) == 1

        escalated = _events(context, ALERT_ESCALATED)
        assert [(e["id"], e["escalated_note"]) for e in escalated] == [(alert.id, alerts.ESCALATED_NOTE)]
        assert as_utc(_alert(context, sid).escalated_at) == created + dt.timedelta(seconds=90)
        assert _alert(context, handled_sid).escalated_at is None  # acknowledged in time: never escalated
        # Still open: the banner stays and says so; the page too.
        assert client.get("/staff/api/alerts").json()["alerts"][0]["escalated"] is True
        assert alerts.ESCALATED_NOTE in client.get("/staff/alerts").text

        with session_scope(context.sessions) as db:
            rows = list(db.scalars(select(OutboxMessage)))
        assert [(r.alert_id, r.order_id, r.event, r.department) for r in rows] == [
            (alert.id, None, "alert_escalated", "社区")]
        sink = MemorySink()
        report = drain(context.sessions, sink, now=clock.now)
        assert report.delivered == 1
        delivery = sink.deliveries[0]
        assert delivery.idempotency_key == f"alert:{alert.id}:escalated"
        assert delivery.body["alert"]["kind"] == "medical" and "13912345678" not in str(delivery.body)


def test_the_tel_payload_round_trip():
    assert payloads.call("120") == "tel:120"
    parsed = payloads.parse("tel:120")
    assert parsed is not None and (parsed.command, parsed.argument) == (Command.call, "120")
    assert str(parsed) == "tel:120"
    assert str(payloads.parse(payloads.call("12345"))) == "tel:12345"
    assert payloads.call("077112345678") == "tel:077112345678"  # 12 digits: a landline with area code
    for bad in ("tel:12", "tel:1234567890123", "tel:12a", "tel:+86120", "tel:", "tel:１２０", "/call 120",
                "tel:120;ext=1", "tel:120 "):
        parsed = payloads.parse(bad)
        assert parsed is None or parsed.command != Command.call or bad.strip() == "tel:120", bad
    for bad in ("12", "abc", "1234567890123", "120#"):
        with pytest.raises(ValueError):
            payloads.call(bad)
    assert payloads.parse("/human") is not None  # the other commands are untouched


def test_two_workers_at_once_acknowledge_and_escalate_exactly_once(db_url):
    """Racing threads with their own sessions stand for workers: the conditional UPDATEs let one through."""
    import threading

    from handoff_testkit import migrated

    from assistant.events import MemoryBus

    bus = MemoryBus()
    start = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
    with migrated(db_url) as sessions:
        with session_scope(sessions) as db:
            # Raised later: not overdue at the escalation time, so only the acknowledgements race for it.
            acked = alerts.raise_alert(db, bus, "s-ack", "kiosk", "fire", "楼道冒烟",
                                       now=start + dt.timedelta(seconds=100)).id
            late = alerts.raise_alert(db, bus, "s-late", "web", "medical", "老人晕倒", now=start).id
        results: list[object] = []
        barrier = threading.Barrier(4)

        def take(user: str) -> None:
            barrier.wait()
            with session_scope(sessions) as db:
                results.append(alerts.acknowledge(db, bus, acked, user, now=start).ok)

        def escalate() -> None:
            barrier.wait()
            with session_scope(sessions) as db:
                results.append(alerts.escalate_overdue(db, bus, start + dt.timedelta(seconds=121), 120))

        threads = [threading.Thread(target=take, args=(u,)) for u in ("sam", "sue")]
        threads += [threading.Thread(target=escalate) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        oks = [r for r in results if isinstance(r, bool)]
        escalations = [r for r in results if isinstance(r, list)]
        assert sorted(oks) == [False, True]
        assert sorted(len(e) for e in escalations) == [0, 1] and [late] in escalations
        kinds = [e.kind for e in bus.since(0)]
        assert kinds.count(ALERT_ACKNOWLEDGED) == 1 and kinds.count(ALERT_ESCALATED) == 1
        with session_scope(sessions) as db:
            assert len(list(db.scalars(select(OutboxMessage)))) == 1
