"""The audit log in plain Chinese: the free-text details the code base writes, read for a person.

Audit rows are append-only and were written with short English details (``v3 published``, ``draft #12``,
``role=staff``); rewriting stored rows would change the record, so they are translated where they are shown.
A detail of an unknown shape is shown as written, with known status and role codes in it translated.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from assistant.labels import ALERT_KIND, KB_STATUS, LABELS, UNANSWERED_STATUS, zh

_SOURCES = {"edit": "修改", "new": "新建", "cluster": "未答问题", "import": "表格导入"}
_Rewrite = Callable[[re.Match[str]], str]

_PATTERNS: tuple[tuple[re.Pattern[str], _Rewrite], ...] = tuple((re.compile(p), f) for p, f in (
    (r"^role=(\w+)$", lambda m: f"角色：{zh(m[1], 'role')}"),
    (r"^unknown user$", lambda m: "账号不存在或已停用"),
    (r"^failure (\d+)(, locked)?$", lambda m: f"第 {m[1]} 次输错密码" + ("，已锁定" if m[2] else "")),
    (r"^v(\d+) (\w+)$", lambda m: f"第 {m[1]} 版，{zh(m[2], 'kb_status')}"),
    (r"^v(\d+) from draft #(\d+)$", lambda m: f"第 {m[1]} 版，来自草稿 #{m[2]}"),
    (r"^v(\d+) → v(\d+)$", lambda m: f"第 {m[1]} 版 → 第 {m[2]} 版"),
    (r"^v(\d+)$", lambda m: f"第 {m[1]} 版"),
    (r"^draft #(\d+) from (\w+)$", lambda m: f"草稿 #{m[1]}，来源：{_SOURCES.get(m[2], m[2])}"),
    (r"^draft #(\d+)$", lambda m: f"草稿 #{m[1]}"),
    (r"^draft #(\d+): (.*)$", lambda m: f"草稿 #{m[1]}：{m[2]}"),
    (r"^(\d+) entries as (\w+)$", lambda m: f"{m[1]} 条，{m[2].upper()} 格式"),
    (r"^(\d+) drafts, (\d+) unchanged, (\d+) busy$",
     lambda m: f"新建草稿 {m[1]} 条，没变 {m[2]} 条，已有人在改 {m[3]} 条"),
    (r"^inserted (\d+), updated (\d+), unchanged (\d+), kept staff edits (\d+), documents changed (\d+)$",
     lambda m: f"新增 {m[1]}，更新 {m[2]}，未变 {m[3]}，保留人工修改 {m[4]}，词典变化 {m[5]}"),
    (r"^(\d+) questions, (\d+) phrasings → draft #(\d+)$",
     lambda m: f"{m[1]} 条未答问题，加入 {m[2]} 个问法 → 草稿 #{m[3]}"),
    (r"^(\d+) questions → draft #(\d+)$", lambda m: f"{m[1]} 条未答问题 → 草稿 #{m[2]}"),
    (r"^(\d+) questions$", lambda m: f"{m[1]} 条未答问题"),
    (r"^(\d+) work orders with contacts$", lambda m: f"{m[1]} 张工单（含联系方式）"),
    (r"^callback number shown$", lambda m: "已显示回电号码"),
    (r"^work_orders (\S+)\.\.(\S+)$", lambda m: f"工单 {m[1]} 至 {m[2]}"),
    (r"^alert:(\d+)$", lambda m: f"紧急求助 #{m[1]}"),
    # issue 17: targets of the notice and warning actions (assistant/bulletins); their details are Chinese
    (r"^notice:(\d+)$", lambda m: f"社区通知 #{m[1]}"),
    (r"^warning:(\d+)$", lambda m: f"灾害预警 #{m[1]}"),
    (r"^generated$", lambda m: "系统生成新密码"),
    (r"^set$", lambda m: "设定了新密码"),
))
# Codes that may still appear inside a detail of another shape (``staff → admin``, ``status open``).
_CODES = {**KB_STATUS, **UNANSWERED_STATUS, **LABELS["role"], **ALERT_KIND}
_CODE_WORD = re.compile(r"(?<![\w.])(" + "|".join(sorted(map(re.escape, _CODES), key=len, reverse=True))
                        + r")(?![\w.])")


def audit_text(text: str | None, *, codes: bool = True) -> str:
    """An audit detail (or, with ``codes=False``, a target: a user name may look like a code) for a person."""
    if not text:
        return ""
    for pattern, rewrite in _PATTERNS:
        match = pattern.match(text)
        if match:
            return rewrite(match)
    return _CODE_WORD.sub(lambda m: _CODES[m[1]], text) if codes else text
