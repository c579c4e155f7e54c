"""A resident's request by phone or ID number: the blind index finds their data although it is stored masked or
encrypted, the export is masked, erasure deletes conversations and anonymises ended work orders (open ones
wait and are completed by the purge), every step is audited without the number, and bad input is a plain
Chinese message on the console page, never a 500."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator

import pytest
from console_testkit import console_client, csrf_from, signed_in
from cryptography.fernet import Fernet
from handoff_testkit import migrated
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from assistant.privacy import InvalidLookup, index, requests, retention
from assistant.privacy.index import parse_identifier, record_personal_data
from assistant.privacy.models import PendingErasure, PersonalDataKey
from assistant.security.crypto import PersonalDataCipher
from assistant.settings import Settings
from assistant.storage.db import session_scope
from assistant.storage.models import (
    AuditLog,
    ChatSession,
    HandoffRequest,
    Turn,
    UnansweredQuery,
    WorkOrder,
    WorkOrderEvent,
)

PHONE = "13812345678"
ID_NUMBER = "450103199001011234"
OTHER_PHONE = "13987654321"
CIPHER = PersonalDataCipher(Fernet.generate_key())


@pytest.fixture
def sessions(db_url: str, settings: Settings) -> Iterator[sessionmaker[Session]]:
    with migrated(db_url) as factory:
        index.install(factory, settings)
        yield factory


def target(settings: Settings, typed: str = PHONE) -> index.Target:
    return parse_identifier(typed).target(index.key_for_settings(settings))


def say(db: Session, sid: str, text: str, *, at: dt.datetime | None = None) -> None:
    """A resident's turn stored as turn_store stores it (masked), with the index call the lead wires there."""
    if db.get(ChatSession, sid) is None:
        db.add(ChatSession(id=sid, channel="web", state={}, turn_count=0))
        db.flush()
    db.add(Turn(session_id=sid, channel="web", user_text=requests.pii.mask_text(text), action="answer",
                reply_text="好的", **({"created_at": at} if at else {})))
    record_personal_data(db, sid, text)


def order_from(db: Session, sid: str | None, number: str, status: str, contact: str = PHONE) -> WorkOrder:
    order = WorkOrder(number=number, source="report_issue", session_id=sid, status=status,
                      description=f"我叫张三，家门口路灯坏了，电话{contact}", location="青秀区民族大道100号3栋2单元501",
                      contact_encrypted=CIPHER.encrypt(contact), contact_masked=requests.pii.mask_phone(contact),
                      transcript=[{"role": "resident", "text": "路灯坏了"}])
    db.add(order)
    db.flush()
    db.add(WorkOrderEvent(order_id=order.id, actor="sam", to_status=status, note=f"已电话联系{contact}"))
    record_personal_data(db, sid, contact, work_order_id=order.id)
    return order


def all_text(factory: sessionmaker[Session]) -> str:
    """Every stored value of the tables a number could leak into, as one string."""
    with session_scope(factory) as db:
        rows = [*db.scalars(select(AuditLog)), *db.scalars(select(PersonalDataKey)), *db.scalars(select(Turn)),
                *db.scalars(select(WorkOrder)), *db.scalars(select(WorkOrderEvent))]
        return json.dumps([{k: str(v) for k, v in vars(r).items() if not k.startswith("_")} for r in rows],
                          ensure_ascii=False)


# ---------------------------------------------------------------- the index

@pytest.mark.parametrize(("typed", "kind", "masked"), [
    ("13812345678", "phone", "138****5678"), ("138 1234 5678", "phone", "138****5678"),
    ("+86 138-1234-5678", "phone", "138****5678"), ("４５０１０３１９９００１０１１２３４", "id_number", "4501**********1234"),
    ("0771-5551234", "landline", "0771-***1234"),
])
def test_typed_numbers_are_read_in_any_form(typed, kind, masked):
    found = parse_identifier(typed)
    assert (found.kind, found.masked) == (kind, masked)


@pytest.mark.parametrize(("typed", "message"), [
    ("", index.EMPTY), ("   ", index.EMPTY), ("张三", index.NOT_A_NUMBER), ("12345", index.NOT_A_NUMBER),
    ("1" * 500, index.TOO_LONG), (f"{PHONE} 和 {ID_NUMBER}", index.MORE_THAN_ONE),
])
def test_bad_input_is_a_chinese_message(typed, message):
    with pytest.raises(InvalidLookup) as raised:
        parse_identifier(typed)
    assert str(raised.value) == message


def test_the_index_keys_numbers_without_storing_them(sessions, settings):
    with session_scope(sessions) as db:
        say(db, "s1", f"我的电话是{PHONE}，身份证{ID_NUMBER}")
        say(db, "s1", f"再说一遍电话 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}")  # same number, same session: once
        say(db, "s1", "路灯坏了")
    with session_scope(sessions) as db:
        keys = list(db.scalars(select(PersonalDataKey.key)))
    assert len(keys) == 2
    assert target(settings).key in keys and target(settings, ID_NUMBER).key in keys
    stored = all_text(sessions)
    assert PHONE not in stored and ID_NUMBER not in stored and "5678" in stored  # masked forms only
    other_server = index.derive_key(b"another installation's secret")
    assert parse_identifier(PHONE).target(other_server).key not in keys  # keyed: a copy of the table alone is useless


def test_without_an_installed_key_nothing_is_indexed_and_nothing_fails(db_url, caplog, monkeypatch):
    monkeypatch.setattr(index, "_warned", [])
    with migrated(db_url) as factory, session_scope(factory) as db:
        db.add(ChatSession(id="s1", channel="web", state={}, turn_count=0))
        with caplog.at_level(logging.WARNING):
            assert record_personal_data(db, "s1", f"电话{PHONE}") == 0
    assert "not installed" in caplog.text and PHONE not in caplog.text


# ---------------------------------------------------------------- find, export, erase

def seed(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as db:
        say(db, "mine", f"我叫张三，电话{PHONE}，门口路灯坏了")
        say(db, "mine", "什么时候能修好")
        db.add(UnansweredQuery(session_id="mine", channel="web", query="什么时候能修好", reason="fallback"))
        order_from(db, "mine", "GX2026030100001", "已评价")
        db.add(HandoffRequest(session_id="mine", channel="web", queue_number="A001", status="已结束",
                              contact_masked="138****5678", left_message="请回电"))
        say(db, "open-case", f"{PHONE}，楼道灯也坏了")  # the same resident, with an order still being handled
        order_from(db, "open-case", "GX2026030100002", "办理中")
        say(db, "someone-else", f"我电话{OTHER_PHONE}")
        order_from(db, "someone-else", "GX2026030100003", "办结", contact=OTHER_PHONE)


def test_find_and_export_are_masked_and_audited(sessions, settings):
    seed(sessions)
    mine = target(settings)
    with session_scope(sessions) as db:
        held = requests.look_up(db, mine, "ada", "居民申请查阅")
    assert {s.id for s in held.sessions} == {"mine", "open-case"}
    assert {o.number for o in held.orders} == {"GX2026030100001", "GX2026030100002"}
    assert [h.queue_number for h in held.handoffs] == ["A001"]
    assert {s.id: s.turns for s in held.sessions} == {"mine": 2, "open-case": 1}
    assert {s.id: s.kept_reason for s in held.sessions} == {"mine": "", "open-case": requests.KEPT_OPEN_ORDER}
    with session_scope(sessions) as db:
        data = requests.export(db, mine, "ada", "居民申请复制")
    text = json.dumps(data, ensure_ascii=False)
    assert PHONE not in text and "138****5678" in text and "张三" not in text and "501" not in text
    assert {o["工单号"] for o in data["工单"]} == {"GX2026030100001", "GX2026030100002"}
    assert any("路灯坏了" in t["居民说"] for s in data["会话"] for t in s["对话"])
    assert OTHER_PHONE[-4:] not in text  # nothing of the other resident
    with session_scope(sessions) as db:
        audits = [(a.actor, a.action, a.target, a.detail) for a in db.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert [a[1] for a in audits] == ["privacy.lookup", "privacy.export"]
    assert all(a[0] == "ada" and a[2] == "手机号 138****5678" for a in audits)
    assert "原因：居民申请查阅" in audits[0][3] and "会话 2" in audits[0][3]
    assert PHONE not in json.dumps(audits, ensure_ascii=False)


def test_erase_deletes_conversations_anonymises_ended_orders_and_waits_for_open_ones(sessions, settings):
    seed(sessions)
    mine = target(settings)
    with session_scope(sessions) as db:
        result = requests.erase(db, mine, "ada", "居民申请删除")
    assert (result.sessions_deleted, result.turns_deleted, result.orders_anonymised) == (1, 2, 1)
    assert (result.sessions_waiting, result.orders_waiting, result.handoffs_deleted) == (1, 1, 1)
    with session_scope(sessions) as db:
        assert set(db.scalars(select(ChatSession.id))) == {"open-case", "someone-else"}
        assert db.scalar(select(func.count()).select_from(UnansweredQuery)) == 0
        assert db.scalar(select(func.count()).select_from(HandoffRequest)) == 0
        done = db.scalar(select(WorkOrder).where(WorkOrder.number == "GX2026030100001"))
        assert done.contact_encrypted is None and done.contact_masked == "" and done.transcript == []
        assert done.session_id is None and "张三" not in done.description and PHONE not in done.description
        assert "路灯坏了" in done.description and done.status == "已评价" and "501" not in done.location
        notes = list(db.scalars(select(WorkOrderEvent.note).where(WorkOrderEvent.order_id == done.id)))
        assert notes and all(PHONE not in n for n in notes)
        still_open = db.scalar(select(WorkOrder).where(WorkOrder.number == "GX2026030100002"))
        assert still_open.contact_encrypted and still_open.session_id == "open-case"  # the department still calls
        assert db.scalar(select(func.count()).select_from(PendingErasure)) == 2
        other = db.scalar(select(WorkOrder).where(WorkOrder.number == "GX2026030100003"))
        assert other.contact_encrypted and other.session_id == "someone-else"
        audit = db.scalar(select(AuditLog).where(AuditLog.action == "privacy.erase"))
        assert audit.target == "手机号 138****5678" and "待办结后处理" in audit.detail
        held = requests.find(db, mine)
    assert [o.number for o in held.orders] == ["GX2026030100002"] and held.pending == 2

    # the department finishes the case; the next daily purge completes the erasure
    with session_scope(sessions) as db:
        db.scalar(select(WorkOrder).where(WorkOrder.number == "GX2026030100002")).status = "办结"
    report = retention.purge(sessions, settings)
    assert report.pending_erasures == 2
    with session_scope(sessions) as db:
        assert set(db.scalars(select(ChatSession.id))) == {"someone-else"}
        finished = db.scalar(select(WorkOrder).where(WorkOrder.number == "GX2026030100002"))
        assert finished.contact_encrypted is None and finished.session_id is None
        assert db.scalar(select(func.count()).select_from(PendingErasure)) == 0
        assert requests.find(db, mine).empty
        assert not requests.find(db, target(settings, OTHER_PHONE)).empty
    assert PHONE not in all_text(sessions)


def test_a_reason_is_required():
    with pytest.raises(InvalidLookup, match="请写明查询原因"):
        requests.checked_reason("  ")
    with pytest.raises(InvalidLookup, match="原因太长"):
        requests.checked_reason("原" * 201)
    assert requests.checked_reason(" 居民申请  查阅 ") == "居民申请 查阅"


# ---------------------------------------------------------------- the console page

def test_the_console_page(settings):
    with console_client(settings) as (client, context):
        index.install(context.sessions, context.settings)
        seed(context.sessions)
        signed_in(client, "staff")
        assert client.get("/staff/privacy").status_code == 403  # administrators only
        signed_in(client, "admin")
        page = client.get("/staff/privacy")
        assert page.status_code == 200 and "个人信息查询" in page.text
        token = csrf_from(page.text)
        assert client.post("/staff/privacy", data={"number": PHONE, "reason": "居民申请查阅"}).status_code == 403

        for typed, reason, message in [("", "居民申请查阅", "请输入"), ("张三", "居民申请查阅", "没有认出"),
                                       ("9" * 5000, "居民申请查阅", "输入太长"), (PHONE, "", "请写明查询原因"),
                                       (PHONE + "\x00", "x", "")]:
            bad = client.post("/staff/privacy", data={"number": typed, "reason": reason, "csrf_token": token})
            assert bad.status_code == 422, (typed, bad.status_code)
            assert message in bad.text

        found = client.post("/staff/privacy", data={"number": PHONE, "reason": "居民申请查阅", "csrf_token": token})
        assert found.status_code == 200
        assert "GX2026030100001" in found.text and "138****5678" in found.text and PHONE not in found.text
        assert "办结或结束后系统会自动匿名化" in found.text
        ref = found.text.split('name="ref" value="')[1].split('"')[0]

        exported = client.post("/staff/privacy/export", data={"ref": ref, "reason": "居民申请复制",
                                                              "csrf_token": token})
        assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
        assert PHONE not in exported.text and json.loads(exported.text)["号码"] == "手机号 138****5678"

        forged = client.post("/staff/privacy/export", data={"ref": ref.replace("phone", "id_number", 1),
                                                            "reason": "x", "csrf_token": token})
        assert forged.status_code == 422 and "页面已过期" in forged.text

        confirm = client.post("/staff/privacy/erase", data={"ref": ref, "reason": "居民申请删除", "csrf_token": token})
        assert confirm.status_code == 200 and "确认删除" in confirm.text and "未办结的工单 1 张" in confirm.text
        with session_scope(context.sessions) as db:
            assert db.get(ChatSession, "mine") is not None  # nothing happens before the confirmation
        erased = client.post("/staff/privacy/erase", data={"ref": ref, "reason": "居民申请删除", "confirmed": "1",
                                                           "csrf_token": token})
        assert erased.status_code == 200 and "已处理" in erased.text
        with session_scope(context.sessions) as db:
            assert db.get(ChatSession, "mine") is None
            actions = list(db.scalars(select(AuditLog.action).where(AuditLog.action.like("privacy.%"))
                                      .order_by(AuditLog.id)))
            audit_rows = [f"{a.target} {a.detail}" for a in db.scalars(select(AuditLog))]
        assert actions == ["privacy.lookup", "privacy.export", "privacy.erase"]
        assert PHONE not in " ".join(audit_rows)


def test_numbers_said_in_the_chat_are_found_from_the_console(settings):
    """The wiring: the chat API, the 报修 form and the live handoff index what residents say, as they store it."""
    with console_client(settings) as (client, context):
        first = client.post("/api/v1/chat", json={"session_id": None, "channel": "web",
                                                  "text": f"我的身份证是4501 0319 4003 1200 21，电话{PHONE}，养老金怎么查"})
        assert first.status_code == 200
        sid = first.json()["session_id"]
        other = client.post("/api/v1/chat", json={"session_id": None, "channel": "web",
                                                  "text": f"我电话{OTHER_PHONE}，低保怎么申请"}).json()["session_id"]
        signed_in(client, "admin")
        token = csrf_from(client.get("/staff/privacy").text)
        by_id = client.post("/staff/privacy", data={"number": "450103194003120021", "reason": "居民申请查阅",
                                                    "csrf_token": token})
        by_phone = client.post("/staff/privacy", data={"number": PHONE, "reason": "居民申请查阅",
                                                       "csrf_token": token})
        with session_scope(context.sessions) as db:
            held = requests.find(db, target(settings))
            stored = " ".join(db.scalars(select(PersonalDataKey.key)))
    assert [s.id for s in held.sessions] == [sid] and other not in {s.id for s in held.sessions}
    assert by_id.status_code == 200 and by_phone.status_code == 200
    assert "没有找到" not in by_id.text and "没有找到" not in by_phone.text
    assert PHONE not in stored and "450103194003120021" not in stored  # keyed hashes only


def test_backfill_indexes_contacts_stored_before_the_index(sessions, settings):
    with session_scope(sessions) as db:
        db.add(ChatSession(id="old", channel="web", state={}, turn_count=0))
        db.flush()
        # Stored as before the index existed: encrypted contacts, no personal_data_keys rows.
        db.add(WorkOrder(number="GX2025010100001", source="report_issue", session_id="old", status="办结",
                         description="路灯坏了", contact_encrypted=CIPHER.encrypt(PHONE),
                         contact_masked="138****5678"))
        db.add(HandoffRequest(session_id="old", channel="web", queue_number="A009", status="已结束",
                              contact_encrypted=CIPHER.encrypt(f"座机0771-5551234，手机{PHONE}"),
                              contact_masked="138****5678"))
        db.add(WorkOrder(number="GX2025010100002", source="staff", session_id=None, status="办结",
                         description="无联系方式"))
    with session_scope(sessions) as db:
        assert requests.find(db, target(settings)).empty
    first = index.backfill_contacts(sessions, CIPHER)
    again = index.backfill_contacts(sessions, CIPHER)
    assert first == {"work_orders": 1, "handoff_requests": 1, "keys_added": 3}
    assert again["keys_added"] == 0  # safe to run twice
    with session_scope(sessions) as db:
        held = requests.find(db, target(settings))
        by_landline = requests.find(db, target(settings, "0771-5551234"))
    assert [o.number for o in held.orders] == ["GX2025010100001"]
    assert [h.queue_number for h in held.handoffs] == ["A009"] and [h.queue_number for h in by_landline.handoffs] == ["A009"]


def test_backfill_command(settings, monkeypatch):
    from console_testkit import users_command

    from assistant.commands.privacy import privacy

    with users_command(settings, monkeypatch) as runner:
        done = runner.invoke(privacy, ["backfill"])
    assert done.exit_code == 0, done.output
    assert "读了工单 0 张" in done.output and "新建索引 0 条" in done.output
