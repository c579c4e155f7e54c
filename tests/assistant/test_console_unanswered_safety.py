"""未答问题 safe defaults: no pre-selected suggestion below the clarify threshold, a warning before adding
elliptical or already-answered phrasings, and clusters of one meaning merged with the KB's own encoder."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import numpy as np
import pytest
from console_testkit import console_client, csrf_from, form_post, signed_in
from sqlalchemy import select

from assistant.console.clustering import (
    MERGE_SIMILARITY,
    cluster_queries,
    merge_same_meaning,
    merge_threshold,
)
from assistant.console.models import KbDraft
from assistant.console.unanswered import elliptical, phrase_warnings
from assistant.dialogue.policy import PolicyThresholds
from assistant.storage.db import session_scope
from assistant.storage.models import UnansweredQuery


def _rows(texts: list[str]) -> list[SimpleNamespace]:
    now = dt.datetime.now(dt.UTC)
    return [SimpleNamespace(id=i, query=t, channel="web", reason="fallback", created_at=now)
            for i, t in enumerate(texts)]


def _seed(context, texts: list[str]) -> list[int]:
    with session_scope(context.sessions) as session:
        rows = [UnansweredQuery(session_id=f"s-{i}", channel="web", query=t, normalized=t, reason="fallback")
                for i, t in enumerate(texts)]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def _sections(html: str) -> list[str]:
    return re.findall(r'<section class="card cluster".*?</section>', html, re.S)


def test_a_low_scored_suggestion_is_shown_as_a_percentage_and_not_preselected(settings):
    clarify = PolicyThresholds.from_settings(settings).clarify
    with console_client(settings) as (client, context):
        _seed(context, ["长寿金去哪领取", "长寿金在哪里领取呀", "看病报销", "看病报销"])
        signed_in(client, "staff")
        html = client.get("/staff/unanswered").text
        seen = {"high": 0, "low": 0}
        for section in _sections(html):
            radios = re.findall(r'<input type="radio" name="entry_id" value="[^"]+"( checked)?> [^<]*'
                                r'<small class="score">（匹配度 (\d+)%）</small>', section)
            if not radios:
                continue
            checked, percent = radios[0]
            assert all(not c for c, _ in radios[1:])  # never more than the first
            if int(percent) / 100 >= clarify + 0.01:
                seen["high"] += 1
                assert checked, section
            elif int(percent) / 100 < clarify - 0.01:
                seen["low"] += 1
                assert not checked and "请确认是哪个条目再选" in section, section
        assert seen["high"] >= 1 and seen["low"] >= 1, seen
        assert "0.0" not in re.sub(r"<svg.*?</svg>", "", html, flags=re.S)  # scores are percentages


def test_elliptical_phrases_are_recognised(tiny_kb):
    for text in ("那医保呢", "那个呢", "还有呢", "要带什么", "怎么办理"):
        assert elliptical(tiny_kb, text), text
    for text in ("长寿金去哪领取", "社保卡丢了怎么补办", "老人吃饭便宜吗", "看病报销"):
        assert not elliptical(tiny_kb, text), text


def test_warnings_name_the_entry_that_already_answers(tiny_kb):
    warnings = phrase_warnings(tiny_kb, "senior-age-allowance", ["那医保呢", "长寿金去哪领取", "社保卡丢了怎么补办"])
    assert set(warnings) == {"那医保呢", "社保卡丢了怎么补办"}
    assert "上文" in warnings["那医保呢"] and "社保卡丢了怎么挂失和补办" in warnings["社保卡丢了怎么补办"]
    # The entry that answers it is the one being extended: nothing to warn about.
    assert phrase_warnings(tiny_kb, "social-security-card-loss", ["社保卡丢了怎么补办"]) == {}


def test_adding_warns_first_and_adds_only_what_staff_keep(settings):
    with console_client(settings) as (client, context):
        texts = ["长寿金去哪领取", "那医保呢", "要带什么", "社保卡丢了怎么补办"]
        ids = ",".join(map(str, _seed(context, texts)))
        signed_in(client, "staff")
        warned = form_post(client, "/staff/unanswered", "/staff/unanswered/add",
                           {"ids": ids, "entry_id": "senior-age-allowance"})
        assert warned.status_code == 200 and "加入勾选的问法" in warned.text
        for text in ("那医保呢", "要带什么", "社保卡丢了怎么补办"):
            assert re.search(rf'value="{text}">\s*{text} <span class="error">', warned.text), text
        assert re.search(r'value="长寿金去哪领取" checked>', warned.text)
        with session_scope(context.sessions) as session:  # nothing changed before the confirmation
            assert session.scalar(select(KbDraft)) is None
            assert {r.status for r in session.scalars(select(UnansweredQuery))} == {"open"}

        kept = {f"phrase_{i}": t for i, t in enumerate(texts) if t == "长寿金去哪领取"}
        done = client.post("/staff/unanswered/add", data={"csrf_token": csrf_from(warned.text), "ids": ids,
                                                          "entry_id": "senior-age-allowance", "confirmed": "1",
                                                          **kept})
        assert done.status_code == 303 and "/staff/kb/draft/" in done.headers["location"]
        with session_scope(context.sessions) as session:
            questions = session.scalar(select(KbDraft)).data["questions"]
            assert "长寿金去哪领取" in questions
            assert not {"那医保呢", "要带什么", "社保卡丢了怎么补办"} & set(questions)


_AXES = {"天气": 0, "下雨": 0, "报销": 1, "狗": 2, "上牌": 3}


class _TableEncoder:
    """Vectors by keyword, like a trained encoder that knows 天气≈下雨; unknown text → the unknown vector."""

    name = "table"

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(6, dtype=np.float32)
        for word, axis in _AXES.items():
            if word in text:
                vector[axis] += 1.0 if word != "下雨" else 0.8
                vector[5] += 0.3 if word == "下雨" else 0.0
        if not vector.any():
            vector[4] = 1.0  # the unknown-word direction
        return vector / np.linalg.norm(vector)

    def encode(self, texts):
        return np.stack([self._vector(t) for t in texts])

    def encode_prepared(self, prepared):
        return self.encode(prepared)

    def save(self, directory):  # pragma: no cover - not used
        raise NotImplementedError


def test_groups_that_mean_the_same_merge_and_unknown_text_never_does():
    groups = [["今天天气", "明天天气"], ["会不会下雨"], ["狗证"], ["哈哈哈"], ["asdf"], ["电动车上牌"]]
    counts = {t: 1 for g in groups for t in g}
    merged = merge_same_meaning(groups, counts, _TableEncoder(), MERGE_SIMILARITY)
    as_sets = sorted(sorted(g) for g in merged)
    assert sorted(next(g for g in merged if "会不会下雨" in g)) == sorted(["今天天气", "明天天气", "会不会下雨"])
    assert ["哈哈哈"] in as_sets and ["asdf"] in as_sets  # both "unknown", alike, but never merged
    assert ["狗证"] in as_sets and ["电动车上牌"] in as_sets
    assert sum(len(g) for g in merged) == sum(len(g) for g in groups)


def test_a_weak_encoder_needs_groups_to_be_more_alike(tiny_kb):
    # Six entries teach the encoder little: different entries already look this alike, so merging needs more.
    assert merge_threshold(tiny_kb) > MERGE_SIMILARITY + 0.1


@pytest.mark.slow
def test_weather_and_reimbursement_pairs_merge_with_the_shipped_encoder(shipped_kb):
    weather = ["今天天气怎么样", "明天天气好不好", "天气预报", "明天会下雨吗", "会不会下雨", "外面下雨了吗"]
    reimbursement = ["医保报销", "医保能报多少", "看病报销", "看病怎么报销"]
    others = ["狗证在哪里办", "养狗要办证吗", "电动车上牌去哪里", "电动自行车怎么上牌照", "小区停车位怎么租",
              "停车费多少钱", "社区有没有免费wifi", "哈哈哈哈", "asdfgh"]
    rows = _rows(weather + reimbursement + others)
    without = cluster_queries(rows, shipped_kb.synonyms)
    threshold = merge_threshold(shipped_kb)  # as the page does it
    assert MERGE_SIMILARITY <= threshold < 0.4
    merged = cluster_queries(rows, shipped_kb.synonyms, encoder=shipped_kb.index.encoder, merge_similarity=threshold)

    def holder(clusters, text):
        return next(c for c in clusters if text in dict(c.phrasings))

    assert holder(without, "天气预报") is not holder(without, "会不会下雨")  # no shared characters
    # 天气 and 下雨 share no character: whether the KB-trained encoder joins them depends on its training (it
    # knows no weather entry), so only the groups that share a subject are required to merge.
    assert set(dict(holder(merged, "天气预报").phrasings)) >= {"今天天气怎么样", "明天天气好不好", "天气预报"}
    assert set(dict(holder(merged, "会不会下雨").phrasings)) >= {"明天会下雨吗", "会不会下雨", "外面下雨了吗"}
    assert set(dict(holder(merged, "看病报销").phrasings)) == set(reimbursement)
    for text in others:
        assert not set(dict(holder(merged, text).phrasings)) & set(weather + reimbursement), text
    assert holder(merged, "狗证在哪里办") is not holder(merged, "电动车上牌去哪里")
    assert holder(merged, "哈哈哈哈") is not holder(merged, "社区有没有免费wifi")
