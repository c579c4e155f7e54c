"""Moves an embedded SQLite installation into PostgreSQL: every table of the models, as stored.

Generic over tables: whatever ``assistant.storage.all_models.metadata`` declares is copied, so a table a later
migration adds needs no change here. Values are copied as stored (encrypted contacts stay encrypted with the
same key), except that naive SQLite times, which are UTC by convention, become aware UTC times.

One transaction for the whole copy: a failure (a full disk, a value PostgreSQL refuses) leaves the target as
empty as it was, so the operator fixes the cause and simply runs the command again; per-table commits would
leave a half-filled target that the "target must be empty" check then refuses.

Nothing here prints or logs row contents: messages name tables and counts only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    create_engine,
    func,
    inspect,
    select,
    text,
    type_coerce,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from assistant.clock import as_utc
from assistant.storage.db import MIGRATIONS_DIR, DbTimeouts, make_engine, migrate

BATCH_ROWS = 1_000  # rows per read and per multi-row insert: bounded memory, few round trips
# A long statement (counting a big table, a setval) must not hit the service's 10-second limit.
TRANSFER_STATEMENT_SECONDS = 600.0
TARGET_CONNECT_SECONDS = 5.0
ALEMBIC_TABLE = "alembic_version"  # the target gets its own from the migrations
CHECKSUM_MODULUS = 2 ** 128  # order-independent sum of per-key digests (no sorting, streams)

Progress = Callable[[str], None]


class TransferError(Exception):
    """A problem the operator can fix; the message is Chinese and carries no row contents."""


@dataclass(frozen=True)
class TableResult:
    name: str
    source_rows: int
    target_rows: int | None = None  # None: not copied (a dry run)
    source_checksum: str = ""
    target_checksum: str = ""

    @property
    def ok(self) -> bool:
        if self.target_rows is None:
            return True
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum

    @property
    def verdict(self) -> str:
        if self.target_rows is None:
            return "待复制"
        if self.source_rows != self.target_rows:
            return f"行数不一致（目标 {self.target_rows}）"
        if self.source_checksum != self.target_checksum:
            return "主键校验不一致"
        return "一致"


@dataclass
class TransferReport:
    dry_run: bool
    tables: list[TableResult] = field(default_factory=list)
    unknown_tables: list[str] = field(default_factory=list)  # in the source, not in the models: not copied
    missing_tables: list[str] = field(default_factory=list)  # in the models, not in the source: nothing to copy

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    @property
    def total_rows(self) -> int:
        return sum(t.source_rows for t in self.tables)


# ---------------------------------------------------------------- opening the two databases

def source_path(value: str) -> Path:
    """The SQLite file named by a path or a ``sqlite:///`` URL."""
    if "://" in value:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise TransferError("源数据库地址无法识别，请给 SQLite 文件路径或 sqlite:/// 地址") from exc
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            raise TransferError("源数据库必须是 SQLite 文件（路径或 sqlite:/// 地址）")
        value = url.database
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise TransferError(f"找不到源数据库文件：{path}")
    return path


def open_source(value: str) -> Engine:
    """The source, read-only: the copy must never change (or create) the old installation's file."""
    path = source_path(value)
    engine = create_engine(f"sqlite:///file:{path.as_posix()}?mode=ro&uri=true", hide_parameters=True)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one()
    except SQLAlchemyError as exc:
        engine.dispose()
        raise TransferError(f"无法读取源数据库 {path.name}：文件不是 SQLite 数据库，或已损坏，或没有读权限") from exc
    return engine


def open_target(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise TransferError("目标地址无法识别，格式如 postgresql+psycopg://用户@主机:5432/库名") from exc
    if parsed.get_backend_name() != "postgresql":
        raise TransferError("目标必须是 PostgreSQL（postgresql+psycopg://…）")
    where = f"{parsed.host or '本机'}:{parsed.port or 5432}/{parsed.database or ''}"
    engine = make_engine(url, timeouts=DbTimeouts(connect=TARGET_CONNECT_SECONDS,
                                                  statement=TRANSFER_STATEMENT_SECONDS))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        engine.dispose()
        raise TransferError(f"连不上目标 PostgreSQL（{where}）：请检查地址、账号和库是否已建好") from exc
    return engine


# ---------------------------------------------------------------- checks before copying

def code_heads() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return set(ScriptDirectory.from_config(config).get_heads())


def known_revisions() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def database_heads(connection: Connection) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    return set(MigrationContext.configure(connection).get_current_heads())


def check_source_revision(source: Engine) -> None:
    """The source must be at exactly the code's schema: the models describe the columns we copy."""
    with source.connect() as connection:
        heads = database_heads(connection)
    wanted = code_heads()
    if heads == wanted:
        return
    if not heads:
        raise TransferError("源数据库没有版本记录：它不是社区助手的数据库，或从未启动过。"
                            "请先用本版本程序启动一次旧安装，再迁移")
    if heads - known_revisions():
        raise TransferError("源数据库比本程序新：请用与旧安装相同（或更新）版本的程序来迁移")
    raise TransferError("源数据库的结构版本比本程序旧：请先把旧安装升级到本版本并启动一次"
                        "（启动时会自动升级数据库结构），停掉服务后再迁移")


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def count_rows(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def occupied_tables(target: Engine, tables: Sequence[Table]) -> dict[str, int]:
    """Tables of the models that already hold rows in the target (those that exist there)."""
    with target.connect() as connection:
        present = table_names(connection)
        counts = {t.name: count_rows(connection, t) for t in tables if t.name in present}
    return {name: n for name, n in counts.items() if n}


def refuse_if_occupied(target: Engine, tables: Sequence[Table]) -> None:
    occupied = occupied_tables(target, tables)
    if occupied:
        listed = "、".join(f"{name}（{n} 行）" for name, n in sorted(occupied.items()))
        raise TransferError(f"目标库已有数据，不能迁入：{listed}。请换一个新建的空库"
                            "（迁移前不要在目标库上启动服务）")


# ---------------------------------------------------------------- copying

def _transfer_table(table: Table, source_columns: set[str]) -> tuple[Table, set[str], set[str]]:
    """A stand-in for ``table`` that copies JSON text as is (SQL NULL stays NULL, JSON null stays null).

    Returns the stand-in (the columns the source has), its JSON columns and its aware-time columns.
    """
    stand_in = Table(table.name, MetaData(), *(Column(c.name, c.type, primary_key=c.primary_key)
                                               for c in table.columns if c.name in source_columns))
    json_columns = {c.name for c in stand_in.columns if isinstance(c.type, JSON)}
    for name in json_columns:
        stand_in.c[name].type = JSON(none_as_null=True)
    aware = {c.name for c in stand_in.columns if isinstance(c.type, DateTime) and c.type.timezone}
    return stand_in, json_columns, aware


def _source_select(table: Table, stand_in: Table, json_columns: set[str]):
    # JSON is read as its stored text: the JSON type would turn both SQL NULL and JSON null into None.
    columns = [type_coerce(table.c[c.name], Text).label(c.name) if c.name in json_columns else table.c[c.name]
               for c in stand_in.columns]
    return select(*columns).order_by(*table.primary_key.columns)


def _json_value(raw: str | None) -> Any:
    if raw is None:
        return None
    parsed = json.loads(raw)
    return JSON.NULL if parsed is None else parsed


def _convert(row: dict[str, Any], json_columns: set[str], aware: set[str]) -> dict[str, Any]:
    for name in json_columns:
        row[name] = _json_value(row[name])
    for name in aware:
        value = row[name]
        if isinstance(value, dt.datetime):
            row[name] = as_utc(value)  # SQLite keeps no zone; stored times are UTC by convention
    return row


def copy_table(source: Connection, target: Connection, table: Table, source_columns: set[str]) -> int:
    stand_in, json_columns, aware = _transfer_table(table, source_columns)
    result = source.execution_options(yield_per=BATCH_ROWS).execute(_source_select(table, stand_in, json_columns))
    copied = 0
    for batch in result.mappings().partitions(BATCH_ROWS):
        rows = [_convert(dict(row), json_columns, aware) for row in batch]
        target.execute(stand_in.insert(), rows)
        copied += len(rows)
    return copied


def reset_sequences(target: Connection, table: Table) -> None:
    """Moves each serial/identity sequence past the copied ids, so the next insert does not collide."""
    for column in table.primary_key.columns:
        if not isinstance(column.type, Integer):
            continue
        sequence = target.execute(text("SELECT pg_get_serial_sequence(:table, :column)"),
                                  {"table": table.name, "column": column.name}).scalar_one()
        if sequence is None:
            continue
        quoted = target.dialect.identifier_preparer.quote
        target.execute(text(f"SELECT setval(:sequence, COALESCE(MAX({quoted(column.name)}), 1), "
                            f"MAX({quoted(column.name)}) IS NOT NULL) FROM {quoted(table.name)}"),
                       {"sequence": sequence})


# ---------------------------------------------------------------- verification

def _key_text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat()  # type: ignore[union-attr]
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def key_checksum(connection: Connection, table: Table) -> str:
    """An order-independent digest of the primary keys (string keys sort differently in the two databases)."""
    keys = list(table.primary_key.columns)
    if not keys:
        return ""
    total = 0
    result = connection.execution_options(yield_per=BATCH_ROWS).execute(select(*keys))
    for batch in result.partitions(BATCH_ROWS):
        for row in batch:
            digest = hashlib.blake2b("\x1f".join(_key_text(v) for v in row).encode("utf-8"), digest_size=16)
            total = (total + int.from_bytes(digest.digest(), "big")) % CHECKSUM_MODULUS
    return f"{total:032x}"


def _measure(connection: Connection, tables: Iterable[Table], present: set[str]) -> dict[str, tuple[int, str]]:
    return {t.name: ((count_rows(connection, t), key_checksum(connection, t)) if t.name in present else (0, ""))
            for t in tables}


# ---------------------------------------------------------------- the whole move

def model_tables() -> list[Table]:
    from assistant.storage.all_models import metadata

    return [t for t in metadata.sorted_tables if t.name != ALEMBIC_TABLE]


def migrate_from_sqlite(source_value: str, target_url: str, *, dry_run: bool = False,
                        progress: Progress | None = None) -> TransferReport:
    """Checks, copies (unless ``dry_run``) and verifies; raises ``TransferError`` when it must refuse."""
    say = progress or (lambda _message: None)
    tables = model_tables()
    report = TransferReport(dry_run=dry_run)
    source = open_source(source_value)
    try:
        check_source_revision(source)
        target = open_target(target_url)
        try:
            refuse_if_occupied(target, tables)
            with source.connect() as read:
                present = table_names(read)
                report.unknown_tables = sorted(n for n in present - {t.name for t in tables}
                                               if n != ALEMBIC_TABLE and not n.startswith("sqlite_"))
                report.missing_tables = sorted(t.name for t in tables if t.name not in present)
                if dry_run:
                    before = _measure(read, tables, present)
                    report.tables = [TableResult(t.name, before[t.name][0]) for t in tables]
                    return report
            say("正在建立目标库的表结构…")
            migrate(target)
            refuse_if_occupied(target, tables)  # a server started on the target meanwhile
            _copy_everything(source, target, tables, say)
            say("正在核对…")
            with source.connect() as read, target.connect() as written:
                before = _measure(read, tables, present)
                after = _measure(written, tables, table_names(written))
            report.tables = [TableResult(t.name, before[t.name][0], after[t.name][0], before[t.name][1],
                                         after[t.name][1]) for t in tables]
            return report
        finally:
            target.dispose()
    finally:
        source.dispose()


def _copy_everything(source: Engine, target: Engine, tables: Sequence[Table], say: Progress) -> None:
    # One read transaction on the source (a consistent snapshot) and one write transaction on the target.
    with source.connect() as read, read.begin(), target.begin() as write:
        present = table_names(read)
        for table in tables:
            if table.name not in present:
                continue
            columns = {c["name"] for c in inspect(read).get_columns(table.name)}
            try:
                copied = copy_table(read, write, table, columns)
                reset_sequences(write, table)
            except DBAPIError as exc:
                # The driver's message may quote a value (a duplicate key, say): name the table and the kind only.
                kind = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
                raise TransferError(f"复制表 {table.name} 时出错（{kind}），目标库没有写入任何数据") from exc
            say(f"已复制 {table.name}：{copied} 行")
