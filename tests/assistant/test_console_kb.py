"""Knowledge base in the browser: edit with field messages, review by other roles, publish, diff, rollback."""

from __future__ import annotations

import io
import time

from console_testkit import chat, console_client, form_post, signed_in
from openpyxl import load_workbook
from sqlalchemy import select

from assistant.console.entry_form import entry_to_form
from assistant.console.models import KbDraft
from assistant.kb_runtime import KnowledgeBaseProvider
from assistant.storage.db import session_scope
from assistant.storage.models import AuditLog, KbEntryRow

ENTRY = "senior-age-allowance"
NEW_ANSWER = "年满80周岁的本地老人每月可领高龄津贴，带身份证、户口簿和银行卡到社区服务中心申请。"


def _form(context, entry_id: str = ENTRY, **changes: str) -> dict[str, str]:
    with session_scope(context.sessions) as session:
        values = entry_to_form(session.get(KbEntryRow, entry_id).data)
    values.update(changes)
    return values


def _start_edit(client, entry_id: str = ENTRY) -> str:
    response = form_post(client, f"/staff/kb/entry/{entry_id}", f"/staff/kb/entry/{entry_id}/edit")
    assert response.status_code == 303
    return response.headers["location"]


def _actions(context) -> list[str]:
    with session_scope(context.sessions) as session:
        return [row.action for row in session.scalars(select(AuditLog).order_by(AuditLog.id))]


def test_edit_review_publish_then_chat_serves_the_new_answer_and_rollback_restores(db_settings):
    with console_client(db_settings) as (client, context):
        old_answer = chat(client, "高龄津贴怎么申请")["reply"]["text"]
        signed_in(client, "staff")
        draft_url = _start_edit(client)
        saved = form_post(client, draft_url, draft_url, {**_form(context, answer=NEW_ANSWER), "action": "submit",
                                                         "note": "更新材料"})
        assert saved.status_code == 303 and "submitted" in saved.headers["location"]
        assert chat(client, "高龄津贴怎么申请")["reply"]["text"] == old_answer  # not published yet

        # staff may not approve; nobody approves their own submission
        refused = form_post(client, draft_url, draft_url + "/approve")
        assert refused.status_code == 403
        signed_in(client, "approver")
        assert form_post(client, draft_url, draft_url + "/publish").status_code == 409  # approve first
        assert form_post(client, draft_url, draft_url + "/approve").status_code == 303
        published = form_post(client, draft_url, draft_url + "/publish")
        assert published.status_code == 303
        assert NEW_ANSWER in chat(client, "高龄津贴怎么申请")["reply"]["text"]

        page = client.get(f"/staff/kb/entry/{ENTRY}")
        assert "第 1 版 → 第 2 版" in page.text and "<ins>" in page.text and "<del>" in page.text
        confirm_url = f"/staff/kb/entry/{ENTRY}/rollback?version=1"
        confirm = client.get(confirm_url)  # a confirmation page with what will be published; nothing changes
        assert confirm.status_code == 200 and "确认回滚并发布" in confirm.text
        assert "<ins>" in confirm.text and "<del>" in confirm.text
        unconfirmed = form_post(client, f"/staff/kb/entry/{ENTRY}", f"/staff/kb/entry/{ENTRY}/rollback",
                                {"version": "1"})
        assert unconfirmed.status_code == 200 and "确认回滚并发布" in unconfirmed.text
        assert NEW_ANSWER in chat(client, "高龄津贴怎么申请")["reply"]["text"]  # still the published version
        with session_scope(context.sessions) as session:
            assert session.get(KbEntryRow, ENTRY).version == 2
        rolled = form_post(client, confirm_url, f"/staff/kb/entry/{ENTRY}/rollback",
                           {"version": "1", "confirmed": "1"})
        assert rolled.status_code == 303 and "rolled_back" in rolled.headers["location"]
        assert "已发布" in client.get(rolled.headers["location"]).text
        assert chat(client, "高龄津贴怎么申请")["reply"]["text"] == old_answer
        with session_scope(context.sessions) as session:
            assert session.get(KbEntryRow, ENTRY).version == 3  # rollback is a new version, history kept
        actions = _actions(context)
        for expected in ("kb.draft.save", "kb.draft.submit", "kb.draft.approve", "kb.publish", "kb.rollback"):
            assert expected in actions


def test_admin_cannot_approve_own_submission(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "admin")
        draft_url = _start_edit(client)
        form_post(client, draft_url, draft_url, {**_form(context, answer=NEW_ANSWER), "action": "submit"})
        refused = form_post(client, draft_url, draft_url + "/approve")
        assert refused.status_code == 409 and "不能审核自己提交的修改" in refused.text


def test_validation_messages_stand_next_to_their_fields(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "staff")
        draft_url = _start_edit(client)
        bad = _form(context, answer="短", title="", effective_from="2025-13-01", category="nope",
                    aspect_materials="材" * 401)
        response = form_post(client, draft_url, draft_url, {**bad, "action": "save"})
        assert response.status_code == 422
        html = response.text
        for field, message in (("answer", "答案要 4 到"), ("title", "不能为空"), ("effective_from", "日期格式"),
                               ("category", "请选择分类"), ("aspect_materials", "不超过 400")):
            start = html.index(f'id="f-{field}"')
            assert message in html[start:].split('<div class="field')[0], field
        # the typed text is kept so nothing is lost
        assert "材" * 401 in html
        too_few = _form(context, questions="只有一条问法", answer=NEW_ANSWER)
        response = form_post(client, draft_url, draft_url, {**too_few, "action": "submit"})
        assert response.status_code == 422 and "至少要有 8 条相似问法" in response.text
        with session_scope(context.sessions) as session:
            assert session.scalar(select(KbDraft)).state == "draft"


def test_try_box_shows_signals_before_and_after_an_edit(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "staff")
        page = client.get("/staff/kb", params={"trial": "长寿金怎么领"})
        assert page.status_code == 200 and "居民会听到" in page.text
        for label in ("词", "字", "拼音", "语义", "整条", "通用语义", "综合分"):
            assert f"<th>{label}</th>" in page.text
        # a sure question does not ask the pretrained encoder: its cell says so instead of showing 0
        assert 'title="前几项已有把握，没有用到">—</span>' in page.text
        draft_url = _start_edit(client, "community-elderly-canteen")
        phrase = "社区饭堂搭伙怎么报名呢"
        values = _form(context, "community-elderly-canteen")
        values["questions"] += "\n" + phrase
        form_post(client, draft_url, draft_url, {**values, "action": "save"})
        trial = client.get(draft_url, params={"q": phrase})
        assert "现在（已发布）" in trial.text and "按这份草稿修改后" in trial.text
        after = trial.text.split("按这份草稿修改后")[1]
        first_row = after.split("<tbody>")[1].split("</tr>")[0]
        assert 'class="hl"' in first_row and "community-elderly-canteen" in first_row


def test_new_entry_goes_through_review_and_can_be_archived(settings):
    with console_client(settings) as (client, _context):
        signed_in(client, "staff")
        questions = "\n".join(f"老人乘车卡问法{i}" for i in range(8))
        values = {"id": "senior-bus-card", "category": "yanglao", "title": "老年人乘车卡怎么办",
                  "questions": questions, "answer": "65岁以上老人带身份证到公交公司办理乘车卡，免费乘坐市内公交。",
                  "department": "交通", "region": "广西", "review_by": "2020-01-01"}
        created = form_post(client, "/staff/kb/new", "/staff/kb/new", values)
        assert created.status_code == 303
        draft_url = created.headers["location"].split("?")[0]
        form_post(client, draft_url, draft_url, {**values, "action": "submit"})
        signed_in(client, "approver")
        form_post(client, draft_url, draft_url + "/approve")
        assert form_post(client, draft_url, draft_url + "/publish").status_code == 303
        assert chat(client, "老年人乘车卡怎么办")["topic"]["id"] == "senior-bus-card"
        due = client.get("/staff/kb/due")
        assert "老年人乘车卡怎么办" in due.text and "已过期" in due.text
        listed = client.get("/staff/kb", params={"due": "1"})
        assert "senior-bus-card" in listed.text and ENTRY not in listed.text
        assert form_post(client, "/staff/kb/entry/senior-bus-card",
                         "/staff/kb/entry/senior-bus-card/archive").status_code == 303
        assert (chat(client, "老年人乘车卡怎么办")["topic"] or {}).get("id") != "senior-bus-card"


def test_stale_draft_cannot_overwrite_a_newer_version(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "staff")
        draft_url = _start_edit(client)
        form_post(client, draft_url, draft_url, {**_form(context, answer=NEW_ANSWER), "action": "submit"})
        signed_in(client, "approver")
        form_post(client, draft_url, draft_url + "/approve")
        with session_scope(context.sessions) as session:  # someone else publishes meanwhile
            from assistant.storage import kb_repository
            from knowledge_base.models import KbEntry

            row = session.get(KbEntryRow, ENTRY)
            kb_repository.save_entry(session, KbEntry.model_validate(row.data), "other")
        refused = form_post(client, draft_url, draft_url + "/publish")
        assert refused.status_code == 409 and "已被更新" in refused.text


def test_every_worker_serves_a_published_version_within_seconds(db_settings):
    with console_client(db_settings) as (client, context):
        other_worker = KnowledgeBaseProvider(context.settings, context.sessions, check_interval=0.5)
        before = other_worker.current()
        signed_in(client, "staff")
        draft_url = _start_edit(client)
        form_post(client, draft_url, draft_url, {**_form(context, answer=NEW_ANSWER), "action": "submit"})
        signed_in(client, "approver")
        form_post(client, draft_url, draft_url + "/approve")
        form_post(client, draft_url, draft_url + "/publish")
        published_at = time.monotonic()
        for _ in range(300):  # bounded wait; the check interval is 0.5 s
            current = other_worker.current()
            if current.revision != before.revision:
                break
            time.sleep(0.1)
        print(f"other worker serving the new revision after {time.monotonic() - published_at:.2f}s")
        assert current.revision > before.revision
        assert current.rendered_answer(ENTRY) == NEW_ANSWER


def test_synonyms_are_validated_and_take_effect(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "staff")
        page = client.get("/staff/synonyms")
        assert "高龄津贴:" in page.text
        text = page.text.split('name="synonyms"')[1].split(">", 1)[1].split("</textarea>")[0]
        import html as html_lib

        current = html_lib.unescape(text)
        bad = form_post(client, "/staff/synonyms", "/staff/synonyms",
                        {"synonyms": current + "\n养老钱: 高龄津贴\n没有冒号这一行"})
        assert bad.status_code == 422
        lines = len(current.split("\n"))
        assert f"第{lines + 1}行：说法「高龄津贴」本身是标准词" in bad.text
        assert f"第{lines + 2}行：格式应为" in bad.text
        before = chat(client, "敬老金去哪里申请")
        good = form_post(client, "/staff/synonyms", "/staff/synonyms",
                         {"synonyms": current.replace("高龄津贴: ", "高龄津贴: 敬老金，")})
        assert good.status_code == 303
        after = chat(client, "敬老金去哪里申请")
        assert after["topic"]["id"] == ENTRY
        assert (before["topic"] or {}).get("id") != ENTRY or before["action"] != "answer"
        assert "kb.document.synonyms" in _actions(context)


def test_spreadsheet_export_and_import_from_the_browser(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "staff")
        exported = client.get("/staff/kb/export.xlsx")
        assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
        workbook = load_workbook(io.BytesIO(exported.content))
        sheet = workbook["知识库"]
        header = [cell.value for cell in sheet[1]]
        answer_col = header.index("答案") + 1
        for row in range(2, sheet.max_row + 1):
            if sheet.cell(row, 1).value == ENTRY:
                sheet.cell(row, answer_col).value = NEW_ANSWER
        buffer = io.BytesIO()
        workbook.save(buffer)
        token_page = client.get("/staff/kb/transfer")
        from console_testkit import csrf_from

        token = csrf_from(token_page.text)
        response = client.post("/staff/kb/import", data={"csrf_token": token},
                               files={"file": ("kb.xlsx", buffer.getvalue(), "application/octet-stream")})
        assert response.status_code == 200 and "新建草稿 1 条" in response.text
        with session_scope(context.sessions) as session:
            draft = session.scalar(select(KbDraft).where(KbDraft.entry_id == ENTRY))
            assert draft.data["answer"] == NEW_ANSWER and draft.source == "import"
        broken = client.post("/staff/kb/import", data={"csrf_token": token},
                             files={"file": ("kb.csv", "编号,答案\nBad Id,x\n".encode(), "text/csv")})
        assert broken.status_code == 422 and "第2行" in broken.text
        wrong_type = client.post("/staff/kb/import", data={"csrf_token": token},
                                 files={"file": ("kb.exe", b"MZ\x00\x00", "application/octet-stream")})
        assert wrong_type.status_code == 422 and "只能导入" in wrong_type.text
        csv_export = client.get("/staff/kb/export.csv")
        assert csv_export.content.startswith(b"\xef\xbb\xbf")


def test_the_dialect_lexicon_is_validated_takes_effect_and_shows_in_the_try_box(settings):
    with console_client(settings) as (client, context):
        signed_in(client, "staff")
        page = client.get("/staff/dialect")
        assert page.status_code == 200 and "方言词典" in page.text
        bad = form_post(client, "/staff/dialect", "/staff/dialect",
                        {"dialect": "咗 = 了（粤语）\n咗 = 了\n没有等号这一行\n<script>alert(1)</script>"})
        assert bad.status_code == 422
        assert "第3行：格式应为" in bad.text and "<script>alert" not in bad.text
        good = form_post(client, "/staff/dialect", "/staff/dialect", {"dialect": "长寿钱 = 高龄津贴（南宁白话）"})
        assert good.status_code == 303
        assert "长寿钱 = 高龄津贴（南宁白话）" in client.get("/staff/dialect").text
        after = chat(client, "长寿钱去边度申请")
        assert after["topic"]["id"] == ENTRY
        trial = client.get("/staff/kb", params={"trial": "长寿钱点样申请"})
        assert "按普通话理解为" in trial.text and "长寿钱→高龄津贴" in trial.text
        assert "kb.document.dialect" in _actions(context)


def test_a_question_typed_in_pinyin_is_answered_and_the_try_box_shows_its_characters(settings):
    with console_client(settings) as (client, _context):
        signed_in(client, "staff")
        assert chat(client, "gaoling jintie zenme shenqing")["topic"]["id"] == ENTRY
        trial = client.get("/staff/kb", params={"trial": "gaoling jintie zenme shenqing"})
        assert "按普通话理解为：</strong>高龄津贴怎么申请（拼音已转成汉字）" in trial.text
        plain = client.get("/staff/kb", params={"trial": "高龄津贴怎么申请"})
        assert "拼音已转成汉字" not in plain.text


def test_kb_stale_lists_what_is_due_in_china_dates(settings, monkeypatch, tiny_kb_data, write_kb) -> None:  # type: ignore[no-untyped-def]
    import copy
    import datetime as dt

    from console_testkit import users_command

    from assistant.clock import today_china
    from assistant.commands import kb as kb_command

    today = today_china()
    data = copy.deepcopy(tiny_kb_data)
    first, second = data["entries"]["shebao.yaml"]["entries"][:2]
    first["review_by"] = (today + dt.timedelta(days=10)).isoformat()
    second["review_by"] = (today - dt.timedelta(days=5)).isoformat()
    write_kb(settings.kb_data_dir, data)
    with users_command(settings, monkeypatch) as runner:
        listed = runner.invoke(kb_command.kb, ["stale", "--within-days", "30"])
        overdue_only = runner.invoke(kb_command.kb, ["stale", "--within-days", "0"])
    assert listed.exit_code == 0, listed.output
    assert f"今天（北京时间）{today.isoformat()}" in listed.output and "：2 条" in listed.output
    rows = [line for line in listed.output.splitlines()[1:] if line.strip()]
    assert len(rows) == 2 and second["id"] in rows[0] and first["id"] in rows[1]  # soonest (overdue) first
    assert "已过期 5 天" in rows[0] and "还有 10 天" in rows[1]
    assert "：1 条" in overdue_only.output and first["id"] not in overdue_only.output
