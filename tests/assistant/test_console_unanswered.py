"""Unanswered questions: clusters of one need, filters, and the actions that close the loop."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
from types import SimpleNamespace

from console_testkit import console_client, csrf_from, form_post, signed_in
from sqlalchemy import select

from assistant.console.clustering import cluster_queries, normalise
from assistant.console.models import KbDraft
from assistant.console.unanswered import weekly_counts
from assistant.storage.db import session_scope
from assistant.storage.models import UnansweredQuery

BUS_CARD = ["老人公交卡", "老年人公交卡", "老人的公交卡", "老人坐公交的卡", "长者公交卡"]
FRAMES = [("", "怎么办"), ("请问", "在哪里办"), ("我想问", "怎么申请"), ("", "去哪里办理啊"), ("你好，", "怎么办理呢"),
          ("想了解一下", "要什么材料"), ("", "在哪办？"), ("麻烦问下", "怎么弄"), ("", "如何办理"), ("请问", "哪里可以办")]
DOG = ["狗证在哪里办", "养狗要办证吗", "养狗办证去哪里"]
SCOOTER = ["电动车上牌去哪里", "电动自行车怎么上牌照", "电动车上牌要什么"]


def fifty_bus_card_phrasings() -> list[str]:
    phrasings = [f"{before}{core}{after}" for core, (before, after) in itertools.product(BUS_CARD, FRAMES)]
    assert len(phrasings) == 50 and len(set(phrasings)) == 50
    return phrasings


def _rows(texts: list[str], channel: str = "web") -> list[SimpleNamespace]:
    now = dt.datetime.now(dt.UTC)
    return [SimpleNamespace(id=i, query=t, channel=channel, reason="fallback", created_at=now)
            for i, t in enumerate(texts)]


def test_fifty_phrasings_of_one_missing_question_form_one_cluster():
    texts = fifty_bus_card_phrasings() + DOG + SCOOTER + ["哈哈哈哈", "asdfgh"]
    random.Random(7).shuffle(texts)
    clusters = cluster_queries(_rows(texts))
    biggest = clusters[0]
    assert biggest.count == 50
    assert {p for p, _ in biggest.phrasings} == set(fifty_bus_card_phrasings())
    assert all(c.count < 10 for c in clusters[1:])
    dog = next(c for c in clusters if "狗证在哪里办" in dict(c.phrasings))
    assert "养狗要办证吗" in dict(dog.phrasings) and "电动车上牌去哪里" not in dict(dog.phrasings)
    assert sum(c.count for c in clusters) == len(texts)  # every question is in exactly one cluster


def test_identical_questions_are_counted_not_repeated():
    clusters = cluster_queries(_rows(["社保卡丢了", "社保卡丢了", "社保卡丢了！"]))
    assert len(clusters) == 1 and clusters[0].count == 3
    assert clusters[0].phrasings[0] == ("社保卡丢了", 2)


def test_normalise_drops_politeness_and_applies_synonyms(tiny_kb):
    assert normalise("请问，退休金怎么领呢？", tiny_kb.synonyms) == normalise("养老金怎么领", tiny_kb.synonyms)


def _seed(context, texts: list[str], channel: str = "web", days_ago: int = 0, reason: str = "fallback") -> None:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    with session_scope(context.sessions) as session:
        for i, text in enumerate(texts):
            session.add(UnansweredQuery(session_id=f"s-{channel}-{days_ago}-{i}", channel=channel, query=text,
                                        normalized=text, reason=reason, created_at=moment))


def _section(html: str, text: str) -> str:
    return next(s for s in re.findall(r'<section class="card cluster".*?</section>', html, re.S) if text in s)


def _ids(section: str) -> str:
    return re.search(r'name="ids" value="([^"]+)"', section).group(1)


def test_clusters_page_actions_close_the_loop(db_settings):
    with console_client(db_settings) as (client, context):
        bus = fifty_bus_card_phrasings()
        _seed(context, bus[:40], "kiosk")
        _seed(context, bus[40:], "web", days_ago=10)
        _seed(context, ["长寿金在哪里领取呀", "长寿金去哪领取"], "web")
        _seed(context, ["哈哈哈哈哈"], "wechat", reason="thumbs_down")
        signed_in(client, "staff")
        page = client.get("/staff/unanswered")
        assert page.status_code == 200
        assert re.search(r'data-count="50"', page.text) and "<svg" in page.text
        kiosk_only = client.get("/staff/unanswered", params={"channel": "kiosk"})
        assert 'data-count="40"' in kiosk_only.text and "长寿金" not in kiosk_only.text
        since = (dt.date.today() - dt.timedelta(days=3)).isoformat()
        recent = client.get("/staff/unanswered", params={"start": since})
        assert 'data-count="40"' in recent.text
        bad_dates = client.get("/staff/unanswered", params={"start": "2025-02-30"})
        assert bad_dates.status_code == 200 and "日期格式" in bad_dates.text

        # 长寿金 → the existing 高龄津贴 entry is suggested and gets the phrasings as similar questions
        longevity = _section(page.text, "长寿金在哪里领取呀")
        assert 'value="senior-age-allowance"' in longevity
        ids = _ids(longevity)
        added = form_post(client, "/staff/unanswered", "/staff/unanswered/add",
                          {"ids": ids, "entry_id": "senior-age-allowance"})
        assert added.status_code == 303 and "/staff/kb/draft/" in added.headers["location"]
        with session_scope(context.sessions) as session:
            draft = session.scalar(select(KbDraft).where(KbDraft.entry_id == "senior-age-allowance"))
            assert {"长寿金在哪里领取呀", "长寿金去哪领取"} <= set(draft.data["questions"])

        # the bus-card cluster becomes a new draft entry
        page = client.get("/staff/unanswered")
        ids = _ids(_section(page.text, 'data-count="50"'))
        created = form_post(client, "/staff/unanswered", "/staff/unanswered/new", {"ids": ids, "category": "yanglao"})
        assert created.status_code == 303
        draft_page = client.get(created.headers["location"])
        assert "老人公交卡" in draft_page.text

        # nonsense is closed as spam; handled clusters leave the list
        page = client.get("/staff/unanswered")
        assert 'data-count="50"' not in page.text and "长寿金在哪里领取呀" not in page.text
        spam_ids = _ids(_section(page.text, "哈哈哈哈哈"))
        closed = form_post(client, "/staff/unanswered", "/staff/unanswered/close", {"ids": spam_ids, "status": "spam"})
        assert closed.status_code == 303
        assert "没有待处理的未答问题" in client.get("/staff/unanswered").text
        again = client.post("/staff/unanswered/close", data={"ids": spam_ids, "status": "spam",
                                                              "csrf_token": csrf_from(page.text)})
        assert again.status_code == 409 and "已经有人处理过了" in again.text
        junk = client.post("/staff/unanswered/close", data={"ids": "1,abc", "status": "spam",
                                                             "csrf_token": csrf_from(page.text)})
        assert junk.status_code == 409
        with session_scope(context.sessions) as session:
            statuses = {row.status for row in session.scalars(select(UnansweredQuery))}
            assert statuses == {"resolved", "spam"}


def test_weekly_count_of_unanswered_questions(app_context):
    today = dt.date(2026, 11, 26)  # a Thursday
    monday = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    with session_scope(app_context.sessions) as session:
        for days, n in ((0, 3), (7, 2), (21, 1), (70, 4)):  # this week, last week, three weeks ago, too old
            for i in range(n):
                session.add(UnansweredQuery(session_id=f"w{days}-{i}", channel="web", query="x", reason="fallback",
                                            created_at=monday - dt.timedelta(days=days)))
    with session_scope(app_context.sessions) as session:
        weeks = weekly_counts(session, weeks=8, today=today)
    assert len(weeks) == 8
    assert weeks[-1] == ("11-23", 3) and weeks[-2] == ("11-16", 2) and weeks[-4] == ("11-02", 1)
    assert sum(n for _, n in weeks) == 6
