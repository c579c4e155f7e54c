"""``shequ db migrate-from-sqlite``: a real SQLite installation moved into a fresh PostgreSQL schema.

The PostgreSQL target is the shared ``db_url`` fixture forced to its ``postgres`` case (its own schema, dropped
afterwards; skipped with the reason when ``SHEQU_TEST_DATABASE_URL`` does not answer).
"""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from assistant.auth.deps import StaffUser
from assistant.auth.service import LockoutPolicy, authenticate, create_account
from assistant.clock import as_utc
from assistant.commands.db import REFUSED_EXIT_CODE, db
from assistant.console import kb_workflow
from assistant.context import AppContext, create_context
from assistant.dialogue.factory import build_engine
from assistant.dialogue.schemas import ChatRequest
from assistant.handoff.models import OutboxMessage
from assistant.handoff.outbox import enqueue
from assistant.handoff.tickets import create_work_order
from assistant.security.crypto import PersonalDataCipher
from assistant.settings import Settings
from assistant.storage import transfer
from assistant.storage.db import MIGRATIONS_DIR, make_engine, session_scope
from assistant.storage.models import KbEntryRow, Turn, WorkOrder, WorkOrderEvent

# The shared fixture's PostgreSQL case only (a fresh schema per test, or a skip with the reason).
POSTGRES = pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)

PASSWORD = "transfer-test-password-7"
PHONE = "13912345678"
EDITOR = StaffUser("sam", "staff")
APPROVER = StaffUser("amy", "approver")


def _keys() -> dict[str, str]:
    return {"encryption_key": Fernet.generate_key().decode(), "secret_key": "transfer-test-server-secret"}


def _migrate(source: Path, target: str, *extra: str) -> Any:
    return CliRunner().invoke(db, ["migrate-from-sqlite", "--from", str(source), "--to", target, *extra])


def _populate(context: AppContext, tiny_kb_data: dict[str, Any]) -> None:
    """What an installation accumulates: staff, a conversation, a work order with a contact, an outbox row,
    a published knowledge-base entry."""
    with session_scope(context.sessions) as session:
        create_account(session, EDITOR.username, "staff", PASSWORD)
        create_account(session, APPROVER.username, "approver", PASSWORD)
    engine = build_engine(context)
    first = engine.handle(ChatRequest(text="社保卡怎么办理"))
    engine.handle(ChatRequest(text="高龄津贴在哪里申请", session_id=first.session_id))
    cipher = PersonalDataCipher(context.settings.encryption_key)
    with session_scope(context.sessions) as session:
        order = create_work_order(session, cipher, source="web", description="3栋楼道灯坏了", location="3栋",
                                  contact=PHONE, transcript=[{"role": "resident", "text": "楼道灯坏了"}])
        if not session.scalar(select(func.count()).select_from(OutboxMessage)):  # no webhook configured
            event = session.scalar(select(WorkOrderEvent).where(WorkOrderEvent.order_id == order.id))
            enqueue(session, order, event)
    entry = copy.deepcopy(tiny_kb_data["entries"]["yanglao.yaml"]["entries"][1])
    entry.update(id="transfer-canteen-hours", title="老年食堂几点开饭", category="yanglao")
    with session_scope(context.sessions) as session:
        draft = kb_workflow.new_draft(session, entry, EDITOR)
        kb_workflow.submit(session, draft, EDITOR)
        kb_workflow.approve(session, draft, APPROVER)
        kb_workflow.publish(session, draft, APPROVER)


@pytest.fixture
def installation(tmp_path: Path, settings: Settings, tiny_kb_data: dict[str, Any]) -> Settings:
    """A populated SQLite installation (the app's own wiring) in ``tmp_path/old``; returns its settings."""
    old = settings.model_copy(update={"var_dir": tmp_path / "old", "index_dir": tmp_path / "old" / "index",
                                      "database_url": f"sqlite:///{(tmp_path / 'old' / 'shequ.db').as_posix()}",
                                      **_keys()})
    context = create_context(old)
    try:
        _populate(context, tiny_kb_data)
    finally:
        context.close()
    return old


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {t.name: transfer.count_rows(connection, t) for t in transfer.model_tables()}
    finally:
        engine.dispose()


def _rows(url: str) -> dict[str, Any]:
    """The values a move must keep, read through the models."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            order = connection.execute(select(WorkOrder.__table__)).mappings().one()
            return {
                "order": {k: as_utc(v) if k.endswith("_at") else v for k, v in order.items()},
                "outbox": connection.execute(select(OutboxMessage.payload)).scalars().all(),
                "entry": connection.execute(select(KbEntryRow.data).where(KbEntryRow.id == "transfer-canteen-hours"))
                .scalar_one(),
                "null_pending": connection.execute(select(func.count()).select_from(KbEntryRow)
                                                   .where(KbEntryRow.pending_shipped.is_(None))).scalar_one(),
            }
    finally:
        engine.dispose()


def _in_china(url: str) -> str:
    """The target in a server whose own time zone is China's: a naive time would be read as China time."""
    parsed = make_url(url)
    options = f"{parsed.query.get('options', '')} -ctimezone=Asia/Shanghai".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


@POSTGRES
def test_a_sqlite_installation_moves_into_postgresql_and_keeps_working(installation: Settings, db_url: str,
                                                                        tmp_path: Path) -> None:
    source = installation.var_dir / "shequ.db"
    db_url = _in_china(db_url)
    with sqlite3.connect(source) as extra:  # a table somebody added by hand: reported, not copied
        extra.execute("CREATE TABLE city_notes (note TEXT)")
    dry = _migrate(source, db_url, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "不认识的表，未复制：city_notes" in dry.output
    assert "待复制" in dry.output and "未写入目标库" in dry.output
    assert _no_tables(db_url), "a dry run must not create tables"

    moved = _migrate(source, db_url)
    assert moved.exit_code == 0, moved.output
    assert "全部核对一致" in moved.output and "加密密钥" in moved.output
    assert PHONE not in moved.output and "楼道灯" not in moved.output  # counts only, never contents

    before = _counts(installation.resolved_database_url())
    assert before["turns"] >= 2 and before["work_orders"] == 1 and before["outbox"] >= 1
    assert before["staff_accounts"] == 2 and before["kb_drafts"] == 1
    assert _counts(db_url) == before
    old, new = _rows(installation.resolved_database_url()), _rows(db_url)
    assert new == old  # JSON (transcript, payload, entry), times as UTC, SQL NULL kept NULL
    assert new["order"]["created_at"].utcoffset().total_seconds() == 0

    # The new server: another var_dir, the same keys in its settings.
    target = installation.model_copy(update={"database_url": db_url, "var_dir": tmp_path / "new",
                                             "index_dir": tmp_path / "new" / "index"})
    context = create_context(target)
    try:
        cipher = PersonalDataCipher(target.encryption_key)
        with session_scope(context.sessions) as session:
            order = session.scalar(select(WorkOrder))
            assert cipher.decrypt(order.contact_encrypted) == PHONE
            assert PersonalDataCipher(Fernet.generate_key()).decrypt(order.contact_encrypted) is None
            assert authenticate(session, EDITOR.username, PASSWORD, LockoutPolicy()).role == "staff"
            old_max_turn = session.scalar(select(func.max(Turn.id)))
            new_order = create_work_order(session, cipher, source="web", description="新的报修", contact=PHONE)
            assert new_order.id > order.id
        build_engine(context).handle(ChatRequest(text="老年食堂在哪里"))
        with session_scope(context.sessions) as session:
            assert session.scalar(select(func.max(Turn.id))) > old_max_turn
    finally:
        context.close()

    again = _migrate(source, db_url)
    assert again.exit_code == REFUSED_EXIT_CODE
    assert "目标库已有数据" in again.output and "work_orders" in again.output


def _no_tables(url: str) -> bool:
    """True when the target has no table of the models yet."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return not (transfer.table_names(connection) & {t.name for t in transfer.model_tables()})
    finally:
        engine.dispose()


@POSTGRES
def test_a_source_at_an_older_revision_is_refused(tmp_path: Path, db_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_revision(sorted(transfer.code_heads())[0])
    older = head.down_revision if isinstance(head.down_revision, str) else head.down_revision[0]
    source = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{source.as_posix()}")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, older)
    engine.dispose()

    result = _migrate(source, db_url)
    assert result.exit_code == REFUSED_EXIT_CODE, result.output
    assert "比本程序旧" in result.output and "启动一次" in result.output
    assert _no_tables(db_url)


@POSTGRES
def test_a_missing_or_broken_source_gets_a_plain_message(tmp_path: Path, db_url: str) -> None:
    missing = _migrate(tmp_path / "nowhere.db", db_url)
    assert missing.exit_code == REFUSED_EXIT_CODE
    assert "找不到源数据库文件" in missing.output and "Traceback" not in missing.output
    assert not (tmp_path / "nowhere.db").exists()  # the source is opened read-only, never created

    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database" * 100)
    result = _migrate(broken, db_url)
    assert result.exit_code == REFUSED_EXIT_CODE
    assert "不是 SQLite 数据库" in result.output and "Traceback" not in result.output

    empty = tmp_path / "empty.db"
    empty.touch()
    result = _migrate(empty, db_url)
    assert result.exit_code == REFUSED_EXIT_CODE and "没有版本记录" in result.output


def test_a_target_that_is_not_postgresql_is_refused(tmp_path: Path) -> None:
    with pytest.raises(transfer.TransferError, match="PostgreSQL"):
        transfer.open_target(f"sqlite:///{(tmp_path / 'y.db').as_posix()}")


def test_a_copy_that_does_not_verify_exits_non_zero(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    short = transfer.TableResult("turns", source_rows=3, target_rows=2, source_checksum="a", target_checksum="b")
    other_keys = transfer.TableResult("outbox", 1, 1, "a", "b")
    same = transfer.TableResult("work_orders", 1, 1, "a", "a")
    report = transfer.TransferReport(dry_run=False, tables=[short, other_keys, same])
    monkeypatch.setattr("assistant.commands.db.migrate_from_sqlite", lambda *_a, **_k: report)
    result = _migrate(tmp_path / "x.db", "postgresql+psycopg://u@127.0.0.1/x")
    assert result.exit_code == 1
    assert "行数不一致（目标 2）" in result.output and "主键校验不一致" in result.output
    assert "核对不一致：turns、outbox" in result.output and "迁移完成" not in result.output
