"""Every code a person can see has a Chinese label: a new audit action, intent, action, channel, role or status
cannot ship untranslated, because the scan below finds it in the code base and fails."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pytest
import yaml

from assistant.auth import ROLE_LABELS, ROLES
from assistant.console.audit_text import audit_text
from assistant.console.clustering import REASON_LABELS
from assistant.console.unanswered import CLOSE_STATUSES
from assistant.dialogue.schemas import Action, Channel
from assistant.kb_runtime import DIALECT_DOC, SYNONYMS_DOC
from assistant.labels import AUDIT, AUDIT_GROUPS, LABELS, percent, zh
from assistant.settings import PROJECT_ROOT
from knowledge_base.models import EntryStatus

SOURCE_DIRS = ("assistant", "knowledge_base", "intents", "kiosk_app", "accessibility", "device_adapters", "pii")
CODE = re.compile(r"[a-z_]+(?:\.(?:[a-z_]+|\{\w+\}))*")
# Codes built at run time, and what they expand to (the values come from the code that builds them).
EXPANSIONS: dict[str, list[str]] = {
    "kb.document.{name}": [SYNONYMS_DOC, DIALECT_DOC],
    "unanswered.{status}": list(CLOSE_STATUSES),
}
# Codes other features write (issue 13: alerts, contact reveal, account management).
PLANNED = ("alert.raise", "alert.acknowledge", "alert.escalate", "contact.reveal", "user.disable", "user.enable",
           "user.reset_password", "user.role")


def _sources() -> list[Path]:
    files: list[Path] = []
    for name in SOURCE_DIRS:
        files += [p for p in (PROJECT_ROOT / name).rglob("*.py") if "migrations" not in p.parts]
    return files


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _strings(node: ast.expr | None, constants: dict[str, str]) -> list[str]:
    """The texts an expression can be: a literal, either side of ``a if c else b``, a module constant, or an
    f-string as a template (``unanswered.{status}``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body, constants) + _strings(node.orelse, constants)
    if isinstance(node, ast.Name) and node.id in constants:
        return [constants[node.id]]
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}"
                        for v in node.values)]
    return []  # a parameter passed through (``action=action``): its callers are scanned instead


def _action_args(call: ast.Call, constants: dict[str, str]) -> list[str]:
    """What an audit call writes as its action: ``AuditLog(action=…)``, or the action of a helper whose name
    says it audits (``_audit(session, user, "kb.publish")``, ``record_access(…, "personal.export")``)."""
    name = _name(call.func)
    keyword = [k.value for k in call.keywords if k.arg == "action"]
    if name == "AuditLog":
        return _strings(keyword[0], constants) if keyword else []
    if "audit" not in name.lower() and name != "record_access":
        return []
    if keyword:
        return _strings(keyword[0], constants)
    for arg in call.args:  # the first text argument is the action; later ones are target and detail
        texts = _strings(arg, constants)
        if texts:
            return texts
    return []


def written_audit_codes() -> dict[str, str]:
    """Every audit action code the code base writes, with the file that writes it."""
    found: dict[str, str] = {}
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                     and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                     for t in node.targets if isinstance(t, ast.Name)}
        where = str(path.relative_to(PROJECT_ROOT))
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            for code in _action_args(call, constants):
                if not CODE.fullmatch(code):
                    continue  # a sentence, not a code
                if "{" in code:
                    assert code in EXPANSIONS, f"{where}: audit code {code!r} is built at run time; add it to EXPANSIONS"
                    found.update({re.sub(r"\{\w+\}", value, code): where for value in EXPANSIONS[code]})
                else:
                    found[code] = where
    return found


def test_the_scan_finds_the_audit_codes_it_should():
    codes = written_audit_codes()
    # one of each way of writing: AuditLog(action=...), a helper (_audit / record_access), an f-string
    for code in ("auth.login", "auth.login.fail", "kb.sync", "kb.export", "kb.publish", "personal.export",
                 "unanswered.add_to_entry", "unanswered.spam", "kb.document.synonyms",
                 "user.disable", "contact.reveal"):  # either side of an if-else; a module constant
        assert code in codes, code
    assert "answer" not in codes and "fallback" not in codes  # turn actions are not audit codes


def test_every_audit_code_written_has_a_chinese_label():
    missing = {code: where for code, where in written_audit_codes().items() if code not in AUDIT}
    assert not missing, f"audit codes without a label in assistant/labels.py: {missing}"
    for code in PLANNED:
        assert code in AUDIT, code


def test_every_label_is_chinese():
    for kind, table in LABELS.items():
        for code, label in table.items():
            assert re.search(r"[\u4e00-\u9fff]", label), (kind, code, label)
            assert not re.search(r"[A-Za-z]{2,}", label), (kind, code, label)


def test_every_intent_action_channel_role_and_status_has_a_label():
    domain = yaml.safe_load((PROJECT_ROOT / "intents" / "data" / "domain.yml").read_text(encoding="utf-8"))
    assert len(domain["intents"]) >= 15
    for intent in domain["intents"]:
        assert intent in LABELS["intent"], intent
    for action in typing.get_args(Action):
        assert action in LABELS["action"], action
    for channel in typing.get_args(Channel):
        assert channel in LABELS["channel"], channel
    for status in EntryStatus:
        assert str(status.value) in LABELS["kb_status"], status
    for reason in REASON_LABELS:
        assert reason in LABELS["unanswered_reason"], reason
    for status in ("open", "resolved", *CLOSE_STATUSES):
        assert status in LABELS["unanswered_status"], status
    assert LABELS["role"] is ROLE_LABELS and all(zh(role, "role") != role for role in ROLES)


def test_every_audit_code_belongs_to_a_filter_group():
    prefixes = [p for _, group in AUDIT_GROUPS.values() for p in group]
    for code in AUDIT:
        assert any(code.startswith(p) for p in prefixes), code
    assert AUDIT_GROUPS["alert"][0] == "紧急求助"


def test_unknown_codes_are_shown_as_they_are():
    assert zh("published", "kb_status") == "已发布"
    assert zh("ask_service", "intent") == "咨询办事"
    assert zh("something.new", "audit") == "something.new"
    assert zh(None, "audit") == "" and zh("x", "no-such-table") == "x"


@pytest.mark.parametrize(("value", "shown"), [(0.5056, "50.6%"), (1, "100.0%"), (0.0, "0.0%"), (None, "—"),
                                               ("0.5", "—"), (True, "—")])
def test_percent(value, shown):
    assert percent(value) == shown


@pytest.mark.parametrize(("detail", "shown"), [
    ("v3 published", "第 3 版，已发布"),
    ("role=staff", "角色：工作人员"),
    ("draft #12 from cluster", "草稿 #12，来源：未答问题"),
    ("draft #12: 金额不对", "草稿 #12：金额不对"),
    ("v4 from draft #9", "第 4 版，来自草稿 #9"),
    ("v2 → v5", "第 2 版 → 第 5 版"),
    ("failure 3, locked", "第 3 次输错密码，已锁定"),
    ("unknown user", "账号不存在或已停用"),
    ("12 entries as xlsx", "12 条，XLSX 格式"),
    ("2 drafts, 5 unchanged, 0 busy", "新建草稿 2 条，没变 5 条，已有人在改 0 条"),
    ("inserted 1, updated 2, unchanged 3, kept staff edits 0, documents changed 1",
     "新增 1，更新 2，未变 3，保留人工修改 0，词典变化 1"),
    ("4 questions, 3 phrasings → draft #7", "4 条未答问题，加入 3 个问法 → 草稿 #7"),
    ("6 work orders with contacts", "6 张工单（含联系方式）"),
    ("staff → admin", "工作人员 → 管理员"),  # a shape not listed: the codes in it are still translated
    ("emergency，180秒内无人确认", "紧急求助，180秒内无人确认"),
    ("generated", "系统生成新密码"),
    ("127.0.0.1", "127.0.0.1"),
    ("", ""),
])
def test_audit_details_read_in_chinese(detail, shown):
    assert audit_text(detail) == shown


def test_a_target_that_looks_like_a_code_is_a_name_and_stays():
    assert audit_text("admin", codes=False) == "admin"
    assert audit_text("alert:42", codes=False) == "紧急求助 #42"
    assert audit_text("work_orders 2026-03-01..2026-03-31", codes=False) == "工单 2026-03-01 至 2026-03-31"
