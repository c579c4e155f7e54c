"""Masking must leave ordinary questions alone: every evaluation query of the project and of the external FAQ set
goes through ``mask_text``; the share it changes is printed and held under a named threshold."""

from __future__ import annotations

import pytest
from query_corpus import all_queries, external_questions, yaml_queries

from pii import find_personal_data, mask_text

# Target ≈ 0: a changed query is a resident's question stored or shown wrongly. Measured: 0 of 13,705.
MAX_CHANGED_SHARE = 0.001
MIN_QUERIES = 1000  # the corpus must really be there, or the figure means nothing


def test_evaluation_queries_are_left_as_typed() -> None:
    queries = all_queries()
    if len(external_questions()) == 0:
        pytest.skip("/work/shared/external is not present")
    assert len(queries) >= MIN_QUERIES and yaml_queries()
    changed = [(q, mask_text(q)) for q in queries if mask_text(q) != q]
    share = len(changed) / len(queries)
    print(f"\npii false positives: {len(changed)} of {len(queries)} queries changed ({share:.3%}); "
          f"threshold {MAX_CHANGED_SHARE:.1%}")
    for before, after in changed[:20]:
        print(f"  {before} → {after}")
    assert share <= MAX_CHANGED_SHARE


@pytest.mark.parametrize("text", [
    "我今年80岁了，2025年能领高龄补贴吗",
    "打12345热线投诉有用吗",
    "拨打0771-12345咨询",
    "咨询电话12333，办理时间8:30-17:30",
    "每人每月补贴1,500元",
    "一次性补助15000元",
    "补贴标准是每月3600元，2026年1月1日起执行",
    "2025.1.1-2025.12.31期间参保",
    "2025-10-01到2025-12-31",
    "查工单GX20261120003进度",
    "查一下GX-20261120-003",
    "桂政发〔2009〕76号文件",
    "服务热线400-123-4567",
    "3栋2单元楼道的灯坏了",
    "幸福小区门口井盖不见了",
    "东葛路那边的路灯不亮",
    "社区服务中心在二楼",
    "三室一厅的房子能申请公租房吗",
    "我是高龄老人，想问补贴",
    "我妈高血压吃药能报销吗",
    "本人银行卡或社保卡",
    "老人证怎么办",
    "百分之七十的报销比例",
    "见 https://www.yybnet.net/news/china/201506/1671251.html",
    "第一、二、三、四、五、六、七条",
])
def test_figures_that_are_not_personal_data_stay(text: str) -> None:
    assert find_personal_data(text) == [], text
    assert mask_text(text) == text
