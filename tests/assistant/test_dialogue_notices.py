"""Residents asking the assistant about notices and warnings (issue 17): 「最近有什么通知」「哪天停水」「有没有台风预警」
are answered from the community's board with their dates; a specific question picks its notices; with none the
reply says so with the community's own contact (never an invented number); service questions that share a word
(低保公示, 暴雨预警要不要搬, 孩子打疫苗去哪里) still go to the knowledge base."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from handoff_testkit import handoff_client

from assistant.auth.deps import StaffUser
from assistant.bulletins import notices as notice_service
from assistant.communities.directory import import_community
from assistant.dialogue import notices
from assistant.storage.db import session_scope

ZHUXI = "nn-zhuxi"
ZHUXI_PHONE = "0771-0000001"  # the test kit's made-up number (community_testkit), not a real one


def _notice(notice_id: int, title: str, category: str, body: str, dates: str) -> dict[str, Any]:
    return {"id": notice_id, "title": title, "body": body, "category": category, "audience_min_age": None,
            "audience_max_age": None, "audience_label": "全体居民", "valid_from": "", "valid_to": "",
            "dates_text": dates, "image_url": None, "published_at": ""}


WATER = _notice(3, "竹溪小区停水通知", "停水停电", "因管道维修，竹溪小区1至5栋停水，请提前储水。", "12月5日 08:00 至 18:00")
VACCINE = _notice(2, "老人流感疫苗免费接种", "疫苗接种", "60岁以上老人带身份证到社区卫生服务中心接种。", "12月6日 至 12月20日")
PARTY = _notice(1, "重阳节文艺汇演", "活动", "欢迎居民到社区广场观看。", "12月8日 19:30 至 21:00")
TYPHOON = {"id": 12, "event": "台风", "level": "orange", "level_label": "橙色", "title": "台风橙色预警",
           "headline": "南宁市气象台发布台风橙色预警信号", "description": "受台风影响，将有大风。",
           "instruction": "请关好门窗，不要外出。", "area": "南宁市青秀区", "sender_name": "南宁市气象台",
           "source": "cap", "assembly_point": "", "severity": "Severe", "urgency": "Immediate", "banner": True,
           "effective": "", "expires": "", "expires_text": "12月5日 08:00", "banner_text": "",
           "speech": "", "colors": {"background": "#F08000", "text": "#000000"}, "repeat_seconds": 600}


def board(notice_list: list[dict[str, Any]] | None = None, warnings: list[dict[str, Any]] | None = None,
          community: str = "default") -> dict[str, Any]:
    return {"revision": "r", "community": community, "poll_seconds": 2.0,
            "warnings": warnings or [], "notices": notice_list or []}


# ---------------------------------------------------------------- which messages are bulletin questions

@pytest.mark.parametrize("text", ["最近有什么通知", "社区有什么公告", "哪天停水", "什么时候打疫苗", "有没有台风预警",
                                  "现在有什么预警", "今天有暴雨预警吗", "明天停不停电", "看看通知", "/notices"])
def test_notice_and_warning_questions_are_recognised(text: str) -> None:
    assert notices.read_question(text) is not None


@pytest.mark.parametrize("text", [
    "怎么办低保", "低保怎么申请", "低保公示有什么要求", "公示期多久", "暴雨预警 住河边的要不要先搬走",
    "高温预警来了老人要注意啥", "孩子打疫苗去哪里，怎么预约", "社区医院那边是哪天打疫苗", "停电了打哪个电话报修",
    "要是停电停水好几天，家里要备些什么东西", "我家停水两天了，也没见贴通知", "燃气报警器有没有必要装",
    "老人有点糊涂了，社区有没有认知症的活动", "我们舞蹈队想借社区的活动室", "招生公告什么时候出", "高龄津贴怎么申请",
])
def test_service_questions_that_share_a_word_are_not_bulletin_questions(text: str) -> None:
    question = notices.read_question(text)
    # Either not a bulletin question at all, or one that gives way to the knowledge base when nothing matches.
    assert question is None or not question.must_answer, question


def test_a_specific_question_picks_its_notice_with_its_dates() -> None:
    found = notices.answer(notices.read_question("哪天停水"), board([VACCINE, WATER, PARTY]), "")
    assert found is not None and found.matched == [3]
    assert "竹溪小区停水通知" in found.text and "12月5日 08:00 至 18:00" in found.text
    assert "流感" not in found.text and "汇演" not in found.text
    vaccine = notices.answer(notices.read_question("什么时候打疫苗"), board([VACCINE, WATER, PARTY]), "")
    assert vaccine is not None and vaccine.matched == [2] and "12月6日 至 12月20日" in vaccine.text


def test_a_general_question_lists_the_newest_first_and_points_to_the_rest() -> None:
    many = [_notice(10 + i, f"通知{i}", "其他", "内容", f"12月{i + 1}日") for i in range(5)]
    found = notices.answer(notices.read_question("最近有什么通知"), board(many), "")
    assert found is not None and found.matched == [10, 11, 12]
    assert "社区通知有5条" in found.text and "还有2条" in found.text and "12月1日" in found.text
    assert found.notices_button


def test_nothing_to_say_gives_the_none_reply_or_gives_way() -> None:
    contact = "详情请咨询社区。"
    assert notices.answer(notices.read_question("最近有什么通知"), board(), contact).text == "目前没有社区通知。" + contact
    assert notices.answer(notices.read_question("哪天停水"), board([VACCINE]), contact).text == \
        "目前没有关于停水的社区通知。" + contact
    assert notices.answer(notices.read_question("现在有什么预警"), board(), contact).text == "目前没有生效的预警。" + contact
    # A vaccination question with no vaccination notice: the knowledge base explains vaccinations instead.
    assert notices.answer(notices.read_question("什么时候打疫苗"), board([WATER]), contact) is None


def test_warnings_are_answered_with_their_expiry_and_advice() -> None:
    found = notices.answer(notices.read_question("有没有台风预警"), board(warnings=[TYPHOON]), "")
    assert found is not None and found.matched == [12]
    assert "台风橙色预警" in found.text and "有效至12月5日 08:00" in found.text and "关好门窗" in found.text
    other = notices.answer(notices.read_question("有没有暴雨预警"), board(warnings=[TYPHOON]), "")
    assert other is not None and other.text.startswith("目前没有暴雨预警。") and "台风橙色预警" in other.text


# ---------------------------------------------------------------- through the chat API

@pytest.fixture
def chat(settings: Any) -> Iterator[tuple[Any, Any]]:
    with handoff_client(settings) as (client, context):
        with session_scope(context.sessions) as db:
            import_community(db, ZHUXI, {"name": "竹溪社区", "phone": ZHUXI_PHONE}, district="青秀区")
        context.communities.invalidate()
        context.kb.refresh()  # the community's profile (its phone) is part of the knowledge base's revision
        yield client, context


def _ask(client: Any, text: str, community: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"session_id": None, "text": text, "channel": "web"}
    if community:
        body["community"] = community
    response = client.post("/api/v1/chat", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_chat_answers_from_the_conversations_community_board(chat: tuple[Any, Any]) -> None:
    client, _context = chat
    asked: list[str | None] = []

    def fake_board(code: str | None) -> dict[str, Any]:
        asked.append(code)
        return board([WATER, VACCINE], [TYPHOON], community=code or "default")

    client.app.state.engine.bulletins = fake_board
    reply = _ask(client, "哪天停水", ZHUXI)
    assert asked == [ZHUXI]
    assert reply["action"] == "answer" and reply["topic"] is None and reply["aspect"] is None
    assert "竹溪小区停水通知" in reply["reply"]["text"] and "12月5日 08:00 至 18:00" in reply["reply"]["text"]
    assert {"title": "全部通知", "payload": "/notices"} in reply["reply"]["buttons"]
    assert reply["reply"]["speech"]
    listed = _ask(client, "最近有什么通知")
    assert "社区通知有2条" in listed["reply"]["text"] and "12月6日 至 12月20日" in listed["reply"]["text"]
    assert listed["reply"]["text"].startswith("请注意，现在有台风橙色预警")  # a warning in force comes first
    warned = _ask(client, "现在有什么预警")
    assert "台风橙色预警" in warned["reply"]["text"] and warned["topic"] is None
    everything = _ask(client, "/notices")
    assert "社区通知有2条" in everything["reply"]["text"]


def test_with_nothing_published_the_none_reply_names_the_communitys_own_contact(chat: tuple[Any, Any]) -> None:
    client, _context = chat
    client.app.state.engine.bulletins = lambda code: board(community=code or "default")
    mine = _ask(client, "最近有什么通知", ZHUXI)
    assert mine["reply"]["text"] == f"目前没有社区通知。详情请咨询社区（电话{ZHUXI_PHONE}）。"
    assert mine["action"] == "answer" and mine["topic"] is None
    # The default community's profile has no number here: the sentence drops it rather than invent one.
    default = _ask(client, "现在有什么预警")
    assert default["reply"]["text"].startswith("目前没有生效的预警。")
    assert not re.search(r"\d{5,}", default["reply"]["text"])


@pytest.mark.parametrize("text", ["怎么办低保", "低保怎么申请", "高龄津贴怎么申请"])
def test_service_questions_still_reach_the_knowledge_base(chat: tuple[Any, Any], text: str) -> None:
    client, _context = chat
    called: list[str | None] = []
    client.app.state.engine.bulletins = lambda code: called.append(code) or board([WATER])
    reply = _ask(client, text)
    assert called == [] and "停水" not in reply["reply"]["text"]


def test_a_published_notice_is_answered_through_the_real_board(chat: tuple[Any, Any]) -> None:
    client, context = chat
    staff = StaffUser("sam", "staff")
    approver = StaffUser("amy", "approver")
    now = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    form = notice_service.NoticeForm("竹溪小区停水通知", "因管道维修，1至5栋停水，请提前储水。", "停水停电", ZHUXI, None, None,
                                     now - dt.timedelta(hours=1), now + dt.timedelta(days=1))
    with session_scope(context.sessions) as db:
        notice = notice_service.create(db, context.events, staff, form)
        notice_service.submit(db, context.events, staff, notice.id)
        notice_service.approve(db, context.events, approver, notice.id)
        notice_service.publish(db, context.events, approver, notice.id)
    context.bulletins.invalidate()
    reply = _ask(client, "哪天停水", ZHUXI)
    assert "竹溪小区停水通知" in reply["reply"]["text"], reply["reply"]["text"]
    assert "至" in reply["reply"]["text"]  # its dates
    other = _ask(client, "哪天停水")  # the default community has no such notice
    assert other["reply"]["text"].startswith("目前没有关于停水的社区通知。")
