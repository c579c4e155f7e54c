"""Communities (issue 15): a request names its community, and everything the resident starts belongs to it."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from assistant.api.main import create_app
from assistant.commands.communities import communities as communities_command
from assistant.communities import DEFAULT_CODE, CommunityError, UnknownCommunity, valid_code
from assistant.communities.directory import (
    CommunityDirectory,
    ensure_default,
    import_community,
    list_communities,
)
from assistant.communities.models import Community
from assistant.context import AppContext, create_context
from assistant.settings import Settings, get_settings
from assistant.storage.db import session_scope
from assistant.storage.models import Alert, ChatSession, HandoffRequest, UnansweredQuery, WorkOrder

WORKDAY_MORNING = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
ZHUXI = {"name": "竹溪社区", "address": "青秀区竹溪大道1号", "phone": "0771-0000001",
         "department_phones": {"民政": "0771-0000002"}}
TINGHONG = {"name": "亭洪社区", "address": "江南区亭洪路2号", "phone": "0771-0000003"}


# ---------------------------------------------------------------- the directory, without the app

def test_codes_are_url_safe_and_short() -> None:
    assert valid_code("nn-zhuxi") and valid_code("A1_b")
    for bad in ("", " ", "竹溪", "a b", "a/b", "-lead", "x" * 33, "a?c=1"):
        assert not valid_code(bad), bad


def test_the_default_community_follows_the_profile_file(app_context: AppContext) -> None:
    with session_scope(app_context.sessions) as db:
        ensure_default(db, {"name": "旧名字"})
        ensure_default(db, {"name": "新名字", "phone": "0771-1"})
        rows = db.scalars(select(Community)).all()
        assert [(r.code, r.name, r.is_default) for r in rows] == [(DEFAULT_CODE, "新名字", True)]
        assert rows[0].profile["phone"] == "0771-1"


def test_an_imported_default_is_not_overwritten_by_the_profile_file(app_context: AppContext) -> None:
    with session_scope(app_context.sessions) as db:
        import_community(db, "nn-zhuxi", ZHUXI, make_default=True)
        ensure_default(db, {"name": "配置文件里的名字"})
        communities = {c.code: c for c in list_communities(db)}
    assert communities["nn-zhuxi"].is_default and communities["nn-zhuxi"].name == "竹溪社区"
    assert not communities[DEFAULT_CODE].is_default
    assert communities[DEFAULT_CODE].name != "配置文件里的名字"


def test_import_refuses_bad_codes_and_bad_profiles(app_context: AppContext) -> None:
    with session_scope(app_context.sessions) as db:
        with pytest.raises(CommunityError, match="社区编号"):
            import_community(db, "竹溪", ZHUXI)
        with pytest.raises(CommunityError, match="格式"):
            import_community(db, "nn-zhuxi", ["not", "a", "mapping"])  # type: ignore[arg-type]
        with pytest.raises(CommunityError, match="格式不对"):
            import_community(db, "nn-zhuxi", {"department_phones": "not a mapping"})
        assert db.scalar(select(Community).where(Community.code == "nn-zhuxi")) is None


def test_the_directory_finds_a_community_imported_after_it_was_read(app_context: AppContext) -> None:
    directory = CommunityDirectory(app_context.sessions, ttl_seconds=3600)
    assert directory.resolve(None) == directory.resolve("  ") == DEFAULT_CODE
    with pytest.raises(UnknownCommunity, match="没有编号为 nn-zhuxi 的社区"):
        directory.resolve("nn-zhuxi")
    with session_scope(app_context.sessions) as db:  # as if on another node, after this one cached the codes
        import_community(db, "nn-zhuxi", ZHUXI, street="新竹街道", district="青秀区")
    assert directory.resolve("nn-zhuxi") == "nn-zhuxi"
    found = directory.get("nn-zhuxi")
    assert found is not None and found.label == "青秀区新竹街道 · 竹溪社区"
    assert found.profile.department_phones["民政"] == "0771-0000002"
    with pytest.raises(UnknownCommunity, match="格式不对"):  # a hostile code is not echoed back
        directory.resolve("<script>")


def test_communities_cli_imports_and_lists(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                           request: pytest.FixtureRequest) -> None:
    for name, value in {"SHEQU_VAR_DIR": str(tmp_path), "SHEQU_DATABASE_URL": settings.database_url,
                        "SHEQU_KB_DATA_DIR": str(settings.kb_data_dir),
                        "SHEQU_INDEX_DIR": str(tmp_path / "index")}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    request.addfinalizer(get_settings.cache_clear)  # later tests must not see this test's settings
    profile = tmp_path / "zhuxi.yaml"
    profile.write_text(yaml.safe_dump(ZHUXI, allow_unicode=True), encoding="utf-8")
    runner = CliRunner()
    added = runner.invoke(communities_command, ["import", str(profile), "--code", "nn-zhuxi",
                                  "--district", "青秀区", "--street", "新竹街道"])
    assert added.exit_code == 0, added.output
    assert "新增社区 nn-zhuxi：竹溪社区" in added.output
    again = runner.invoke(communities_command, ["import", str(profile), "--code", "nn-zhuxi"])
    assert again.exit_code == 0 and "更新社区 nn-zhuxi" in again.output
    listed = runner.invoke(communities_command, ["list"])
    assert listed.exit_code == 0
    assert "共 2 个社区" in listed.output and "nn-zhuxi\t青秀区新竹街道 · 竹溪社区" in listed.output
    broken = tmp_path / "broken.yaml"
    broken.write_bytes(b"name: [\xff\xfe")
    refused = runner.invoke(communities_command, ["import", str(broken), "--code", "x1"])
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    missing = runner.invoke(communities_command, ["import", str(tmp_path / "nope.yaml"), "--code", "x1"])
    assert missing.exit_code != 0 and "找不到文件" in missing.output


# ---------------------------------------------------------------- through the chat API

@pytest.fixture(scope="module")
def api(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, AppContext]]:
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("SHEQU_") and name != "SHEQU_TEST_DATABASE_URL":
                patch.delenv(name)
        settings = Settings(_env_file=None, var_dir=tmp_path_factory.mktemp("communities-var"),
                            database_url=module_db_url, office_hours="00:00-24:00", office_weekends=True,
                            index_dir=tmp_path_factory.getbasetemp() / "shipped-kb-index")
    context = create_context(settings)
    with session_scope(context.sessions) as db:
        import_community(db, "nn-zhuxi", ZHUXI)
        import_community(db, "nn-tinghong", TINGHONG)
    try:
        with TestClient(create_app(context=context)) as client:
            client.app.state.engine.handoff.clock = lambda: WORKDAY_MORNING  # type: ignore[attr-defined]
            yield client, context
    finally:
        context.close()


def _chat(client: TestClient, text_: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/api/v1/chat", json={"text": text_, "channel": "web", **extra})
    assert response.status_code == 200, response.text
    return response.json()


def _community_of(context: AppContext, model: Any, session_id: str) -> list[str | None]:
    with context.sessions() as db:
        return list(db.scalars(select(model.community_code).where(model.session_id == session_id)))


def test_a_conversation_belongs_to_the_community_it_names(api: tuple[TestClient, AppContext]) -> None:
    client, context = api
    first = _chat(client, "高龄津贴怎么申请", community="nn-zhuxi")
    # A later message naming another community does not move the conversation.
    _chat(client, "要带什么材料", session_id=first["session_id"], community="nn-tinghong")
    plain = _chat(client, "高龄津贴怎么申请")
    with context.sessions() as db:
        assert db.get(ChatSession, first["session_id"]).community_code == "nn-zhuxi"
        assert db.get(ChatSession, plain["session_id"]).community_code == DEFAULT_CODE


def test_an_unknown_community_is_refused_in_chinese_and_nothing_is_stored(api: tuple[TestClient, AppContext]
                                                                         ) -> None:
    client, context = api
    with context.sessions() as db:
        before = len(db.scalars(select(ChatSession.id)).all())
    for code in ("nn-nowhere", "<b>x</b>", "x" * 32):
        response = client.post("/api/v1/chat", json={"text": "你好", "community": code})
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "unknown_community" and "社区" in error["message_zh"]
        assert "<b>" not in response.text
    too_long = client.post("/api/v1/chat", json={"text": "你好", "community": "x" * 33})
    assert too_long.status_code == 422
    wrong_type = client.post("/api/v1/chat", json={"text": "你好", "community": 7})
    assert wrong_type.status_code == 422 and "应该是文字" in wrong_type.json()["error"]["message_zh"]
    with context.sessions() as db:
        assert len(db.scalars(select(ChatSession.id)).all()) == before


def test_what_a_resident_starts_takes_the_conversations_community(api: tuple[TestClient, AppContext]) -> None:
    client, context = api
    emergency = _chat(client, "我家老人摔倒了起不来", community="nn-tinghong")
    assert emergency["action"] == "emergency"
    assert _community_of(context, Alert, emergency["session_id"]) == ["nn-tinghong"]
    human = _chat(client, "我要找工作人员", community="nn-tinghong")
    assert human["action"] == "handoff"
    assert _community_of(context, HandoffRequest, human["session_id"]) == ["nn-tinghong"]
    unknown = _chat(client, "今天股票大盘怎么走", community="nn-zhuxi")
    assert unknown["action"] == "fallback"
    assert _community_of(context, UnansweredQuery, unknown["session_id"]) == ["nn-zhuxi"]


def test_a_work_order_takes_its_conversations_community(api: tuple[TestClient, AppContext]) -> None:
    from assistant.handoff.policy import load_policy
    from assistant.handoff.tickets import create_work_order

    client, context = api
    chat = _chat(client, "路灯坏了", community="nn-zhuxi")
    with session_scope(context.sessions) as db:
        order = create_work_order(db, context.cipher, source="report_issue", description="路灯坏了",
                                  contact="", category="社区事务", policy=load_policy(), now=WORKDAY_MORNING,
                                  department="社区", session_id=chat["session_id"])
        number = order.number
        staff_order = create_work_order(db, context.cipher, source="staff", description="楼道灯不亮",
                                        contact="", category="社区事务", policy=load_policy(),
                                        now=WORKDAY_MORNING, department="社区")
        staff_number = staff_order.number
    with context.sessions() as db:
        codes = dict(db.execute(select(WorkOrder.number, WorkOrder.community_code)).all())
    assert codes[number] == "nn-zhuxi"
    assert codes[staff_number] == DEFAULT_CODE  # no conversation: the default community


# ---------------------------------------------------------------- the migration

def test_records_made_before_communities_belong_to_the_default_one(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from assistant.storage.db import MIGRATIONS_DIR

    engine = create_engine(f"sqlite:///{(tmp_path / 'old.db').as_posix()}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0013_voice_clips")
        connection.execute(text("INSERT INTO chat_sessions (id, channel, created_at, updated_at, state, turn_count)"
                                " VALUES ('s1', 'web', '2026-01-01', '2026-01-01', '{}', 0)"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0014_communities")
        assert connection.execute(text("SELECT community_code FROM chat_sessions")).scalar() == DEFAULT_CODE
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0013_voice_clips")
        columns = [row[1] for row in connection.execute(text("PRAGMA table_info(chat_sessions)"))]
        assert "community_code" not in columns
        assert connection.execute(text("SELECT id FROM chat_sessions")).scalar() == "s1"
    engine.dispose()
