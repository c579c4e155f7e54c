"""Community overlays through the app (issue 15): storage, the chat API, the CLI, and profile updates."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from assistant.api.main import create_app
from assistant.cli import _attach_subcommands
from assistant.cli import cli as shequ
from assistant.communities.directory import import_community
from assistant.context import AppContext, create_context
from assistant.kb_runtime import KnowledgeBaseProvider
from assistant.settings import Settings
from assistant.storage import kb_repository
from assistant.storage.db import session_scope
from assistant.storage.models import KbEntryRow, KbEntryVersion
from knowledge_base.models import KbEntry
from knowledge_base.overlays import Overlay, Override, local_id

ZHUXI = {"name": "竹溪社区", "address": "青秀区竹溪大道1号", "phone": "0771-5550001",
         "department_phones": {"民政": "0771-5550002"}}
TINGHONG = {"name": "亭洪社区", "address": "江南区亭洪路2号", "phone": "0771-5550003",
            "department_phones": {"民政": "0771-5550004"}}
ZHUXI_ANSWER = "竹溪社区满80岁的老人，带身份证、户口簿和银行卡到社区一楼2号窗口申请高龄津贴，每月10日发放。"
CLINIC_QUESTIONS = ["晚上小孩发烧去哪里看病", "夜间门诊在哪里", "半夜看病去哪", "晚上有没有医生值班",
                    "夜里头疼去哪里看", "社区夜诊几点开", "晚上能打针吗", "夜间门诊要挂号吗"]
PROFILE_WAIT_SECONDS = 30


def clinic(code: str) -> KbEntry:
    return KbEntry(id=local_id(code, "night-clinic"), category="weijian", title="竹溪社区夜间门诊在哪里",
                   questions=CLINIC_QUESTIONS, answer="竹溪社区卫生站每晚8点到12点开夜间门诊，电话{社区电话}。",
                   department="卫健")


ZHUXI_OVERLAY = Overlay("nn-zhuxi", {"senior-age-allowance": Override(ZHUXI_ANSWER,
                                                                      {"location": "{社区地址}一楼2号窗口"})},
                        (clinic("nn-zhuxi"),))


@pytest.fixture(scope="module")
def api(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, AppContext]]:
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("SHEQU_") and name != "SHEQU_TEST_DATABASE_URL":
                patch.delenv(name)
        settings = Settings(_env_file=None, var_dir=tmp_path_factory.mktemp("overlays-var"),
                            database_url=module_db_url, office_hours="00:00-24:00", office_weekends=True,
                            index_dir=tmp_path_factory.getbasetemp() / "overlays-index")
    context = create_context(settings)
    with session_scope(context.sessions) as db:
        import_community(db, "nn-zhuxi", ZHUXI)
        import_community(db, "nn-tinghong", TINGHONG)
        kb_repository.save_overlay(db, ZHUXI_OVERLAY, "tester")
    context.kb.refresh()
    context.communities.invalidate()
    try:
        with TestClient(create_app(context=context)) as client:
            yield client, context
    finally:
        context.close()


def _chat(client: TestClient, text_: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/chat", json={"text": text_, "channel": "web", **extra})
    assert response.status_code == 200, response.text
    return response.json()


def test_overlay_rows_are_ordinary_versioned_entries(api: tuple[TestClient, AppContext]) -> None:
    _, context = api
    with session_scope(context.sessions) as db:
        override = db.get(KbEntryRow, "nn-zhuxi--senior-age-allowance")
        local = db.get(KbEntryRow, "nn-zhuxi--night-clinic")
        assert (override.community, override.overrides) == ("nn-zhuxi", "senior-age-allowance")
        assert (local.community, local.overrides) == ("nn-zhuxi", None)
        assert db.scalar(select(KbEntryRow.community).where(KbEntryRow.id == "senior-age-allowance")) is None
        assert db.scalar(select(KbEntryVersion.version).where(KbEntryVersion.entry_id == local.id)) == 1
        assert "nn-zhuxi--night-clinic" not in {e.id for e in kb_repository.published_entries(db)}
        assert kb_repository.save_overlay(db, ZHUXI_OVERLAY, "tester") == []  # unchanged: no new versions


def test_each_community_gets_its_own_answer_for_the_same_question(api: tuple[TestClient, AppContext]) -> None:
    client, _ = api
    zhuxi = _chat(client, "高龄津贴怎么申请", community="nn-zhuxi")
    tinghong = _chat(client, "高龄津贴怎么申请", community="nn-tinghong")
    plain = _chat(client, "高龄津贴怎么申请")
    assert zhuxi["topic"]["id"] == tinghong["topic"]["id"] == plain["topic"]["id"] == "senior-age-allowance"
    assert ZHUXI_ANSWER in zhuxi["reply"]["text"]
    assert ZHUXI_ANSWER not in tinghong["reply"]["text"] and "户籍所在社区" in tinghong["reply"]["text"]
    assert ZHUXI_ANSWER not in plain["reply"]["text"]
    # A follow-up keeps the overlay and the community's own details.
    where = _chat(client, "去哪里办", session_id=zhuxi["session_id"])
    assert where["aspect"] == "location" and "青秀区竹溪大道1号一楼2号窗口" in where["reply"]["text"]
    phone = _chat(client, "打什么电话问", session_id=tinghong["session_id"])
    assert phone["aspect"] == "contact"
    assert "0771-5550003" in phone["reply"]["text"] and "0771-5550004" in phone["reply"]["text"]
    assert "0771-555000" not in _chat(client, "打什么电话问", session_id=plain["session_id"])["reply"]["text"]


def test_a_local_entry_is_found_only_by_its_communitys_residents(api: tuple[TestClient, AppContext]) -> None:
    client, _ = api
    zhuxi = _chat(client, "晚上小孩发烧去哪里看病", community="nn-zhuxi")
    assert zhuxi["topic"]["id"] == "nn-zhuxi--night-clinic", zhuxi
    assert "0771-5550001" in zhuxi["reply"]["text"]
    for other in (_chat(client, "晚上小孩发烧去哪里看病", community="nn-tinghong"),
                  _chat(client, "晚上小孩发烧去哪里看病")):
        assert (other["topic"] or {}).get("id", "").startswith("nn-zhuxi--") is False
        assert "竹溪" not in other["reply"]["text"]
        assert all("竹溪" not in b["title"] for b in other["reply"]["buttons"])


def test_an_imported_profile_is_used_within_seconds_on_another_node(api: tuple[TestClient, AppContext]) -> None:
    client, context = api
    other_node = KnowledgeBaseProvider(context.settings, context.sessions, check_interval=0.0)
    before = other_node.current()
    assert "0771-5550003" in before.for_community("nn-tinghong").rendered_aspect("senior-age-allowance", "contact")
    with session_scope(context.sessions) as db:
        import_community(db, "nn-tinghong", {**TINGHONG, "phone": "0771-5559999"})
    deadline = time.monotonic() + PROFILE_WAIT_SECONDS
    while other_node.current() is before and time.monotonic() < deadline:
        time.sleep(0.2)
    contact = other_node.current().for_community("nn-tinghong").rendered_aspect("senior-age-allowance", "contact")
    assert "0771-5559999" in contact
    context.kb.refresh()
    context.communities.invalidate()
    reply = _chat(client, "高龄津贴找谁咨询，打什么电话", community="nn-tinghong")
    assert "0771-5559999" in reply["reply"]["text"], reply


# ---------------------------------------------------------------- the command line

def test_overlay_cli_imports_lists_and_refuses_bad_files(tmp_path: Path, settings: Settings,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"SHEQU_VAR_DIR": str(tmp_path), "SHEQU_DATABASE_URL": settings.database_url,
                        "SHEQU_KB_DATA_DIR": str(settings.kb_data_dir),
                        "SHEQU_INDEX_DIR": str(tmp_path / "index")}.items():
        monkeypatch.setenv(name, value)
    _attach_subcommands()  # what `shequ` does before it runs
    runner = CliRunner()
    profile = tmp_path / "zhuxi.yaml"
    profile.write_text(yaml.safe_dump(ZHUXI, allow_unicode=True), encoding="utf-8")
    assert runner.invoke(shequ, ["communities", "import", str(profile), "--code", "nn-zhuxi"]).exit_code == 0
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({
        "overrides": {"senior-age-allowance": {"answer": ZHUXI_ANSWER, "aspects": {"location": "社区一楼"}}},
        "entries": [{"id": "night-clinic", "category": "weijian", "title": "夜间门诊在哪里", "department": "卫健",
                     "questions": CLINIC_QUESTIONS, "answer": "社区卫生站每晚8点到12点开夜间门诊。"}],
    }, allow_unicode=True), encoding="utf-8")
    imported = runner.invoke(shequ, ["kb", "overlay", "import", str(overlay), "--community", "nn-zhuxi"])
    assert imported.exit_code == 0, imported.output
    assert "改写全市条目 1 条，本社区条目 1 条（新增或有改动 2 条）" in imported.output
    listed = runner.invoke(shequ, ["kb", "overlay", "list", "--community", "nn-zhuxi"])
    assert listed.exit_code == 0
    assert "改写  senior-age-allowance" in listed.output and "办理地点" in listed.output
    assert "本社区  nn-zhuxi--night-clinic" in listed.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("overrides:\n  no-such-entry:\n    answer: 这条不存在的回答\n", encoding="utf-8")
    refused = runner.invoke(shequ, ["kb", "overlay", "import", str(bad), "--community", "nn-zhuxi"])
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert f"{bad}:2: 全市知识库里没有编号为 no-such-entry 的条目" in refused.output
    assert "什么也没有导入" in refused.output
    unknown = runner.invoke(shequ, ["kb", "overlay", "import", str(overlay), "--community", "nowhere"])
    assert unknown.exit_code != 0 and "没有编号为 nowhere 的社区" in unknown.output


# ---------------------------------------------------------------- the console workflow, unchanged

def test_the_console_edits_reviews_and_publishes_an_override_like_any_entry(settings: Settings) -> None:
    from console_testkit import console_client, form_post, signed_in

    from assistant.console.entry_form import entry_to_form

    new_answer = "竹溪社区的高龄津贴每月10日发，带身份证、户口簿和银行卡到社区一楼2号窗口申请。"
    override_id = "nn-zhuxi--senior-age-allowance"
    with console_client(settings) as (client, context):
        with session_scope(context.sessions) as db:
            import_community(db, "nn-zhuxi", ZHUXI)
            kb_repository.save_overlay(db, Overlay("nn-zhuxi", {"senior-age-allowance": Override(
                None, {"location": "{社区地址}一楼"})}), "tester")
        context.kb.refresh()
        signed_in(client, "staff")
        page = f"/staff/kb/entry/{override_id}"
        started = form_post(client, page, f"{page}/edit")
        assert started.status_code == 303, started.text[:300]
        draft_url = started.headers["location"]
        with session_scope(context.sessions) as db:
            values = entry_to_form(db.get(KbEntryRow, override_id).data)
        submitted = form_post(client, draft_url, draft_url, {**values, "answer": new_answer, "action": "submit"})
        assert submitted.status_code == 303
        signed_in(client, "approver")
        assert form_post(client, draft_url, draft_url + "/approve").status_code == 303
        assert form_post(client, draft_url, draft_url + "/publish").status_code == 303
        context.kb.refresh()
        context.communities.invalidate()
        mine = _chat(client, "高龄津贴怎么申请", community="nn-zhuxi")
        theirs = _chat(client, "高龄津贴怎么申请")
        assert new_answer in mine["reply"]["text"] and new_answer not in theirs["reply"]["text"]
        with session_scope(context.sessions) as db:
            row = db.get(KbEntryRow, override_id)
            assert (row.version, row.community, row.overrides) == (2, "nn-zhuxi", "senior-age-allowance")


def test_an_override_of_aspects_alone_follows_later_city_answer_changes(app_context: AppContext) -> None:
    with session_scope(app_context.sessions) as db:
        import_community(db, "nn-zhuxi", ZHUXI)
        kb_repository.save_overlay(db, Overlay("nn-zhuxi", {"senior-age-allowance": Override(
            None, {"location": "{社区地址}一楼"})}), "tester")
        city = next(e for e in kb_repository.published_entries(db) if e.id == "senior-age-allowance")
        kb_repository.save_entry(db, city.model_copy(update={"answer": "高龄津贴的新规定：满80岁到社区申请，每月发放。"}),
                                 "staff1")
    view = app_context.kb.refresh().for_community("nn-zhuxi")
    assert view.rendered_answer("senior-age-allowance") == "高龄津贴的新规定：满80岁到社区申请，每月发放。"
    assert view.rendered_aspect("senior-age-allowance", "location") == "青秀区竹溪大道1号一楼"


def test_community_staff_change_only_their_own_communitys_rows(api: tuple[TestClient, AppContext]) -> None:
    from assistant.auth.deps import StaffUser
    from assistant.console import WorkflowError
    from assistant.console import kb_workflow as wf

    _client, context = api
    zhuxi_editor = StaffUser("wa", "staff", community="nn-zhuxi")
    tinghong_editor = StaffUser("wb", "staff", community="nn-tinghong")
    tinghong_reviewer = StaffUser("rb", "approver", community="nn-tinghong")
    city_editor = StaffUser("city", "staff")
    with session_scope(context.sessions) as db:
        # Their own override: yes. The city entry every community gets, or another community's row: no.
        assert wf.start_edit(db, "nn-zhuxi--senior-age-allowance", zhuxi_editor).entry_id == (
            "nn-zhuxi--senior-age-allowance")
        with pytest.raises(WorkflowError, match="全市共用"):
            wf.start_edit(db, "senior-age-allowance", zhuxi_editor)
        with pytest.raises(WorkflowError, match="别的社区"):
            wf.start_edit(db, "nn-zhuxi--night-clinic", tinghong_editor)
        with pytest.raises(WorkflowError, match="别的社区"):
            wf.archive(db, "nn-zhuxi--night-clinic", tinghong_reviewer)
        with pytest.raises(WorkflowError, match="全市共用"):
            wf.new_draft(db, {"title": "新条目"}, tinghong_editor)
        assert wf.start_edit(db, "senior-age-allowance", city_editor).entry_id == "senior-age-allowance"
        rows = {row.id: row for row in db.scalars(select(KbEntryRow))}
        assert wf.visible_to(tinghong_editor, rows["senior-age-allowance"])
        assert not wf.visible_to(tinghong_editor, rows["nn-zhuxi--night-clinic"])
        assert wf.visible_to(zhuxi_editor, rows["nn-zhuxi--night-clinic"])
        db.rollback()  # the drafts opened here are not the other tests' business
