"""``shequ orders``: drain, outbox, requeue, due and sweep from the command line."""

from __future__ import annotations

from click.testing import CliRunner
from handoff_testkit import CIPHER, TUESDAY

from assistant.cli_commands import _COMMANDS
from assistant.commands.orders import orders
from assistant.context import create_context
from assistant.handoff.policy import load_policy
from assistant.handoff.tickets import create_work_order
from assistant.settings import get_settings
from assistant.storage.db import session_scope


def test_orders_commands(settings, monkeypatch):
    monkeypatch.setenv("SHEQU_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("SHEQU_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("SHEQU_KB_DATA_DIR", str(settings.kb_data_dir))
    get_settings.cache_clear()
    context = create_context(settings)
    with session_scope(context.sessions) as db:
        create_work_order(db, CIPHER, source="staff", description="社保卡补办进度咨询", department="人社",
                          policy=load_policy(deliver=True), now=TUESDAY)
    context.close()
    assert ("assistant.commands.orders", "orders") in _COMMANDS
    runner = CliRunner()
    try:
        assert "drain" in runner.invoke(orders, ["--help"]).output
        overdue = runner.invoke(orders, ["due"])
        assert overdue.exit_code == 0 and "GX20260310001" in overdue.output  # due 2026-03-13, long past
        listing = runner.invoke(orders, ["outbox"])
        assert listing.exit_code == 0 and "pending=1" in listing.output
        drained = runner.invoke(orders, ["drain"])
        assert drained.exit_code == 0 and "nothing to deliver" in drained.output
        monkeypatch.setenv("SHEQU_TICKET_SINK", "webhook")
        get_settings.cache_clear()
        broken = runner.invoke(orders, ["drain"])
        assert broken.exit_code != 0 and "SHEQU_TICKET_WEBHOOK" in broken.output
        assert "Traceback" not in broken.output
        assert runner.invoke(orders, ["requeue"]).exit_code != 0
        assert runner.invoke(orders, ["sweep"]).output.strip() == "timed out 0"
    finally:
        get_settings.cache_clear()
