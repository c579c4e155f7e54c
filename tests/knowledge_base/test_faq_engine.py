"""The project's retrieval as an engine of the external FAQ harness (../shared/external/eval_faq.py)."""

from __future__ import annotations

from knowledge_base.faq_engine import make_engine

ITEMS = [
    {"id": "a", "title": "社保卡丢了怎么补办", "answer": None, "questions": ["社保卡不见了怎么办", "补办社保卡去哪里"]},
    {"id": "b", "title": "高龄津贴怎么申请", "answer": None, "questions": ["八十岁老人补贴怎么领", "长寿金去哪申请"]},
    {"id": "c", "title": "医保怎么报销", "answer": None, "questions": ["住院费用能报多少", "看病报销比例"]},
]


def test_the_engine_ranks_item_ids_for_the_harness() -> None:
    engine = make_engine(ITEMS)
    ranked = engine.search("我的社保卡找不到了", 3)
    assert ranked[0] == "a" and set(ranked) <= {"a", "b", "c"} and len(ranked) == len(set(ranked))
    assert engine.search("八十多岁的老人有什么补贴", 1) == ["b"]
