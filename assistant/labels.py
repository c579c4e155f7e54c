"""Chinese labels for every code a person sees: statuses, actions, roles, audit entries, intents, channels.

One table per kind; ``zh(code, kind)`` is also the Jinja filter ``zh`` (``{{ entry.status | zh("kb_status") }}``).
An unknown code is shown as it is (never an error), so a new code shows up, untranslated, instead of a 500;
tests/assistant/test_labels.py checks that every audit code the code base writes, and every intent of
intents/data/domain.yml, has a label here.
"""

from __future__ import annotations

from assistant.auth import ROLE_LABELS

# Statuses of knowledge-base entries and of their drafts on the way to residents (one table: the KB list
# shows both).
KB_STATUS = {"draft": "草稿", "review": "待审核", "submitted": "待审核", "approved": "已审核待发布",
             "published": "已发布", "archived": "已下线", "withdrawn": "已撤销", "in_review": "修改中/审核中"}

UNANSWERED_STATUS = {"open": "待处理", "resolved": "已加入知识库", "out_of_scope": "不属于服务范围",
                     "spam": "无意义/骚扰"}
UNANSWERED_REASON = {"fallback": "答不上来", "low_confidence": "把握不大", "thumbs_down": "居民点了👎"}

INTENT = {
    "greet": "问候", "goodbye": "再见", "thanks": "感谢", "affirm": "肯定", "deny": "否定",
    "ask_service": "咨询办事", "request_human": "转人工", "report_issue": "反映问题",
    "check_ticket_status": "查询工单", "emergency": "紧急求助", "repeat": "再说一遍", "slower": "说慢一点",
    "choose_option": "选择选项", "bot_capabilities": "能做什么", "out_of_scope": "超出服务范围",
    "nlu_fallback": "没听懂",
}

# What the assistant did with a turn; ``agent``/``system`` are messages posted into a live conversation.
ACTION = {"answer": "回答", "clarify": "追问确认", "fallback": "兜底", "handoff": "转人工", "emergency": "紧急求助",
          "ticket": "工单", "smalltalk": "闲聊", "agent": "工作人员回复", "system": "系统消息"}

CHANNEL = {"web": "网页", "kiosk": "一体机", "api": "接口", "wechat": "微信", "wecom": "企业微信", "system": "系统"}

# An alert's kind: the danger the emergency model read in the message (assistant/dialogue/replies.py has the
# advice for each), or just "emergency".
ALERT_KIND = {"emergency": "紧急求助", "medical": "急病受伤", "fire": "火情", "gas": "燃气泄漏", "flood": "水浸",
              "landslide": "山体滑坡", "electric": "触电", "drowning": "溺水", "violence": "暴力危险",
              "suicide": "轻生危险", "missing": "人员走失", "kiosk": "自助机故障",
              "warning": "灾害预警"}

# Where a work order came from (WorkOrder.source).
ORDER_SOURCE = {"report_issue": "居民反映", "handoff": "人工接待", "message": "居民留言", "staff": "工作人员登记"}

# Notes the system writes on KB versions (staff write theirs in Chinese).
KB_NOTE = {"shipped": "内置内容", "shipped update": "内置内容更新", "staff edit": "工作人员修改"}

# Actors that are not people: the shipped KB content, the command line, the system's own timers.
ACTOR = {"shipped": "系统内置", "cli": "命令行", "system": "系统", "assistant": "小助手"}

# The note a work order's first event is stored with ("created from <source>"), as staff read it.
ORDER_EVENT_NOTE = {f"created from {code}": f"{label}，系统登记" for code, label in ORDER_SOURCE.items()}

# Every action code written to the audit log. Codes built at run time (``kb.document.{name}``,
# ``unanswered.{status}``) are listed expanded.
AUDIT = {
    "auth.login": "登录", "auth.login.fail": "登录失败", "auth.login.locked": "账号锁定中登录",
    "kiosk.register": "登记自助机", "user.community": "修改账号所属社区",
    "auth.logout": "退出登录", "auth.user.create": "新建账号", "auth.user.password": "修改密码",
    "auth.user.unlock": "解锁账号",
    "auth.login.password": "密码正确，待输入验证码", "auth.login.recovery": "用备用码登录",
    "auth.totp.enable": "开启两步验证", "auth.totp.disable": "关闭两步验证", "auth.totp.fail": "两步验证码错误",
    "auth.totp.recovery_codes": "重新生成备用码", "auth.totp_reset": "重置两步验证",
    "user.disable": "停用账号", "user.enable": "启用账号", "user.reset_password": "重置密码",
    "user.role": "更改角色",
    "kb.sync": "同步内置知识库", "kb.entry.save": "保存条目", "kb.document.synonyms": "修改同义词词典",
    "kb.document.dialect": "修改方言词典", "kb.export": "导出知识库", "kb.import": "导入知识库",
    "kb.draft.create": "新建草稿", "kb.draft.save": "保存草稿", "kb.draft.submit": "提交审核",
    "kb.draft.approve": "审核通过", "kb.draft.reject": "退回修改", "kb.draft.withdraw": "撤销草稿",
    "kb.publish": "发布条目", "kb.rollback": "回滚条目", "kb.archive": "下线条目",
    "unanswered.add_to_entry": "未答问题加入条目", "unanswered.new_entry": "未答问题新建条目",
    "unanswered.out_of_scope": "未答问题标为超出范围", "unanswered.spam": "未答问题标为无意义",
    "personal.reveal": "查看个人信息", "personal.export": "导出个人信息", "reveal_contact": "查看工单联系电话",
    "contact.reveal": "查看完整号码",
    "alert.raise": "紧急求助", "alert.acknowledge": "确认紧急求助", "alert.escalate": "紧急求助升级",
    "privacy.lookup": "查询居民个人信息", "privacy.export": "导出居民个人信息", "privacy.erase": "删除居民个人信息",
    "privacy.purge": "按保存期限清理数据",
    "notice.create": "新建通知", "notice.update": "修改通知", "notice.submit": "提交通知审核",
    "notice.approve": "通知审核通过", "notice.reject": "退回通知", "notice.publish": "发布通知",
    "notice.archive": "下线通知", "notice.image": "修改通知图片",
    "warning.issue": "发布预警", "warning.cancel": "解除预警",
}

# The audit page filter: a group is every code starting with one of its prefixes.
AUDIT_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "auth": ("登录与账号", ("auth.", "user.")),
    "kb": ("知识库", ("kb.",)),
    "unanswered": ("未答问题", ("unanswered.",)),
    "personal": ("查看个人信息", ("personal.", "contact.", "reveal_contact")),
    "alert": ("紧急求助", ("alert.",)),
    "privacy": ("个人信息保护", ("privacy.",)),
    "kiosk": ("自助机", ("kiosk.",)),
    "bulletin": ("通知与预警", ("notice.", "warning.")),
}

# Community notices and disaster warnings (assistant/bulletins, issue 17).
NOTICE_STATUS = {"draft": "草稿", "submitted": "待审核", "approved": "已审核待发布", "published": "已发布",
                 "archived": "已下线"}
WARNING_STATUS = {"active": "生效中", "cancelled": "已解除", "superseded": "已更新", "expired": "已过期"}
WARNING_LEVEL = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}

LABELS: dict[str, dict[str, str]] = {
    "kb_status": KB_STATUS,
    "unanswered_status": UNANSWERED_STATUS,
    "unanswered_reason": UNANSWERED_REASON,
    "intent": INTENT,
    "action": ACTION,
    "channel": CHANNEL,
    "role": ROLE_LABELS,  # the auth package owns the role names; one table, not a copy
    "alert_kind": ALERT_KIND,
    "order_source": ORDER_SOURCE,
    "actor": ACTOR,
    "kb_note": KB_NOTE,
    "order_event_note": ORDER_EVENT_NOTE,
    "audit": AUDIT,
    "notice_status": NOTICE_STATUS,
    "warning_status": WARNING_STATUS,
    "warning_level": WARNING_LEVEL,
}


def zh(code: object, kind: str) -> str:
    """The Chinese label of ``code`` in the table ``kind``; the code itself when there is none."""
    if code is None:
        return ""
    text = str(code)
    return LABELS.get(kind, {}).get(text, text)


def percent(value: object, digits: int = 1) -> str:
    """A rate (0.5056) as a percentage (50.6%); "—" when there is no rate."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    return f"{value * 100:.{digits}f}%"
