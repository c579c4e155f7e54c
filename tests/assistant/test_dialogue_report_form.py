"""Report intake as slots (what, where, contact): any order, several in one message, the place answered when asked,
declining the contact, cancelling — first on the form itself, then through the chat API to the stored order."""

from __future__ import annotations

import pytest
from handoff_testkit import handoff_client, say
from sqlalchemy import select

from assistant.dialogue import replies
from assistant.dialogue.forms import MAX_TURNS, ReportIssueForm, split_place
from assistant.storage.db import session_scope
from assistant.storage.models import WorkOrder

PHONE = "13912345678"


def converse(*messages: str) -> tuple[ReportIssueForm, list[str | None]]:
    form = ReportIssueForm.start(messages[0])
    questions = [form.next_question()]
    for message in messages[1:]:
        form.fill(message)
        questions.append(form.next_question())
    return form, questions


def test_one_message_with_all_three_files_at_once():
    form, questions = converse(f"3栋2单元楼道灯坏了，电话{PHONE}")
    assert questions == [None]
    assert (form.what, form.where, form.contact) == ("楼道灯坏了", "3栋2单元", PHONE)


def test_each_missing_slot_is_asked_once_and_what_was_given_is_acknowledged():
    form, questions = converse("我要反映问题", "楼道灯坏了", "幸福小区3栋2单元", PHONE)
    assert questions[0] == replies.REPORT_ASK_WHAT
    assert questions[1].startswith("好的，记下了：楼道灯坏了。") and "哪个小区" in questions[1]
    assert "幸福小区3栋2单元" in questions[2] and "手机号码" in questions[2]
    assert questions[3] is None
    assert (form.what, form.where, form.contact) == ("楼道灯坏了", "幸福小区3栋2单元", PHONE)


def test_slots_in_any_order():
    form, questions = converse(f"我的电话是{PHONE}", "在民族大道100号", "井盖不见了")
    assert "139****5678" in questions[0] and "什么问题" in questions[0]
    assert "什么问题" in questions[1]  # the place alone is no problem: still asked
    assert questions[2] is None
    assert (form.what, form.where, form.contact) == ("井盖不见了", "民族大道100号", PHONE)


def test_a_place_given_when_the_place_was_asked_fills_the_place_and_the_phone_is_not_asked_again():
    form, questions = converse(f"楼道灯坏了，我电话{PHONE}", "就在我家那里")
    assert "哪个小区" in questions[0] and "手机" not in questions[0]
    assert questions[1] is None  # filed: never the phone prompt again
    assert form.where == "我家那里" and form.what == "楼道灯坏了"


def test_problem_and_place_in_one_message_are_split():
    form, questions = converse("我要反映问题", "三栋门口那个井盖不见了好危险")
    assert form.where == "三栋门口"
    assert "井盖不见了" in form.what and "三栋" not in form.what
    assert "手机号码" in questions[1]


@pytest.mark.parametrize(("message", "place", "problem"), [
    ("幸福小区3栋楼道的灯坏了", "幸福小区3栋楼道", "楼道的灯坏了"),
    ("我们这条巷子的路灯黑了好几天", "这条巷子", "路灯黑了好几天"),
    ("我住在民族大道100号3栋", "民族大道100号3栋", ""),
    ("我家楼上天天半夜剁肉吵死了", "", "我家楼上天天半夜剁肉吵死了"),
    ("小区外面晚上走路好黑", "小区", "外面晚上走路好黑"),
])
def test_split_place(message: str, place: str, problem: str):
    assert split_place(message) == (place, problem)


def test_the_opener_is_not_part_of_the_problem_but_a_complaint_stays_one():
    assert converse("我要反映楼上漏水")[0].what == "楼上漏水"
    form, questions = converse(f"我想报修，5栋电梯坏了，电话{PHONE}")
    assert (form.what, form.where, questions) == ("电梯坏了", "5栋", [None])
    assert "投诉" in converse("我要投诉，路灯坏了")[0].what  # 投诉 sets the category and its deadline


def test_declining_the_contact():
    form, questions = converse("路灯坏了", "和平路口", "不留")
    assert questions[-1] is None and form.contact is None and form.contact_declined
    form, questions = converse("路灯坏了，电话不留", "和平路口")
    assert questions == [replies.REPORT_NOTED.format(noted="路灯坏了，不留电话") + replies.REPORT_ASK_WHERE, None]


def test_the_number_of_turns_is_bounded():
    messages = ["我要反映问题"] * (MAX_TURNS + 2)
    form = ReportIssueForm.start(messages[0])
    asked = 0
    for message in messages[1:]:
        if form.next_question() is None:
            break
        asked += 1
        form.fill(message)
    assert asked == MAX_TURNS - 1 and form.next_question() is None
    assert form.description()  # something to file even so


def test_the_transcript_keeps_only_masked_phone_numbers():
    form, _ = converse(f"楼道灯坏了，电话{PHONE}")
    assert PHONE not in str(form.transcript()) and "139****5678" in str(form.transcript())


def test_through_the_chat_a_report_lands_as_an_order_with_place_phone_and_department(settings):
    with handoff_client(settings) as (client, context):
        first = say(client, "我要反映问题")
        sid = first["session_id"]
        asked = say(client, "我家屋顶漏水了，天花板一直滴", sid)
        assert asked["ticket"] is None and "哪个小区" in asked["reply"]["text"] and "漏水" in asked["reply"]["text"]
        place = say(client, "幸福小区5栋2单元", sid)
        assert "手机号码" in place["reply"]["text"] and "幸福小区5栋2单元" in place["reply"]["text"]
        done = say(client, PHONE, sid)
        assert done["ticket"]["department"] == "物业"  # a leaking roof: never 司法
        with session_scope(context.sessions) as db:
            order = db.scalar(select(WorkOrder).where(WorkOrder.number == done["ticket"]["number"]))
            assert order.location == "幸福小区5栋2单元" and "漏水" in order.description
            assert "幸福小区" not in order.description
            assert order.contact_masked == "139****5678" and PHONE not in (order.contact_encrypted or "")

        one = say(client, "我要反映问题")
        filed = say(client, f"3栋2单元楼道灯坏了，电话{PHONE}", one["session_id"])
        assert filed["ticket"]["department"] == "物业"
        with session_scope(context.sessions) as db:
            order = db.scalar(select(WorkOrder).where(WorkOrder.number == filed["ticket"]["number"]))
            assert (order.location, order.description) == ("3栋2单元", "楼道灯坏了")


def test_through_the_chat_cancelling_files_nothing(settings):
    with handoff_client(settings) as (client, context):
        first = say(client, "我要反映问题")
        say(client, "路灯坏了", first["session_id"])
        cancelled = say(client, "算了", first["session_id"])
        assert cancelled["reply"]["text"] == replies.REPORT_CANCELLED and cancelled["ticket"] is None
        with session_scope(context.sessions) as db:
            assert db.scalar(select(WorkOrder)) is None
