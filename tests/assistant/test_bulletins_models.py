"""The bulletin tables as migration 0018 makes them (SQLite and PostgreSQL): one warning per (sender,
identifier), the covered communities, a notice's picture kept out of ordinary loads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from assistant.bulletins.models import EarlyWarning, Notice, WarningCommunity
from assistant.context import AppContext, create_context
from assistant.settings import Settings
from assistant.storage.all_models import FEATURE_MODEL_MODULES
from assistant.storage.db import session_scope

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def ctx(db_settings: Settings) -> Iterator[AppContext]:
    context = create_context(db_settings)
    try:
        yield context
    finally:
        context.close()


def _warning(identifier: str, sender: str = "nnqxt") -> EarlyWarning:
    return EarlyWarning(source="cap", sender=sender, identifier=identifier, msg_type="Alert", status="active",
                        event="暴雨", level="orange", severity="Severe", sent=NOW, expires=NOW + dt.timedelta(hours=6),
                        geocodes=[["行政区划代码", "450103"]])


def test_the_migration_makes_the_three_tables(ctx: AppContext) -> None:
    names = set(inspect(ctx.engine).get_table_names())
    assert {"notices", "early_warnings", "warning_communities"} <= names
    assert "assistant.bulletins.models" in FEATURE_MODEL_MODULES


def test_one_warning_per_sender_and_identifier(ctx: AppContext) -> None:
    with session_scope(ctx.sessions) as db:
        db.add(_warning("w-1"))
        db.add(_warning("w-1", sender="other-agency"))  # the same identifier from another sender is another alert
    with pytest.raises(IntegrityError), session_scope(ctx.sessions) as db:
        db.add(_warning("w-1"))
        db.flush()


def test_a_warning_keeps_its_communities_and_times_in_utc(ctx: AppContext) -> None:
    with session_scope(ctx.sessions) as db:
        row = _warning("w-2")
        db.add(row)
        db.flush()
        db.add_all([WarningCommunity(warning_id=row.id, community_code=c) for c in ("a", "b")])
        warning_id = row.id
    with session_scope(ctx.sessions) as db:
        row = db.get(EarlyWarning, warning_id)
        assert row.geocodes == [["行政区划代码", "450103"]]
        assert row.sent.replace(tzinfo=dt.UTC) == NOW  # SQLite gives it back naive, in UTC
        codes = db.scalars(select(WarningCommunity.community_code).where(WarningCommunity.warning_id == warning_id))
        assert sorted(codes) == ["a", "b"]


def test_a_notice_picture_is_loaded_only_when_asked_for(ctx: AppContext) -> None:
    with session_scope(ctx.sessions) as db:
        notice = Notice(title="停水通知", body="12月5日停水", category="停水停电", community_code=None,
                        valid_from=NOW, valid_to=NOW + dt.timedelta(hours=10), image=b"\x89PNG...",
                        image_type="image/png", status="draft", version=1, created_by="wa")
        db.add(notice)
        db.flush()
        notice_id = notice.id
    with session_scope(ctx.sessions) as db:
        row = db.get(Notice, notice_id)
        assert "image" in inspect(row).unloaded  # deferred: lists and the board never read the bytes
        assert row.image == b"\x89PNG..." and row.community_code is None
