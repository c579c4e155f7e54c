"""``shequ worker``: the loop, its stop on a signal, ``--once``, and the server leaving the work to it."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assistant.commands import worker as worker_command
from assistant.handoff.outbox import DrainReport
from assistant.settings import Settings, get_settings


@dataclass
class FakeOrders:
    fail_first: int = 0
    rounds: list[float] = field(default_factory=list)

    def run_once(self) -> DrainReport:
        self.rounds.append(time.monotonic())
        if len(self.rounds) <= self.fail_first:
            raise ConnectionError("database away")
        return DrainReport()

    def run_warnings(self) -> None:
        self.rounds.append(time.monotonic())


def test_warnings_have_a_loop_of_their_own_at_the_feeds_pace() -> None:
    """A warning must be on screens within 10 s: the feed is polled every few seconds, whatever the drain's pace."""
    orders, stop = FakeOrders(), threading.Event()
    runner = threading.Thread(target=worker_command.run_warnings_loop, args=(orders, 0.1, stop))
    runner.start()
    time.sleep(2.2)
    stop.set()
    runner.join(2)
    assert not runner.is_alive()
    assert 3 <= len(orders.rounds) <= 6  # the 0.5 s floor: a mistyped 0.1 does not hammer the feed


def test_loop_runs_every_interval_until_stopped() -> None:
    orders, stop = FakeOrders(), threading.Event()
    runner = threading.Thread(target=worker_command.run_loop, args=(orders, 0.05, stop))
    runner.start()
    time.sleep(0.4)
    stop.set()
    runner.join(2)
    assert not runner.is_alive()
    assert 4 <= len(orders.rounds) <= 10
    gaps = [b - a for a, b in zip(orders.rounds, orders.rounds[1:], strict=False)]
    assert min(gaps) >= 0.04


def test_a_failed_round_is_logged_and_retried_after_a_pause(monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(worker_command, "ERROR_PAUSE_SECONDS", 0.2)
    orders = FakeOrders(fail_first=1)
    done = worker_command.run_loop(orders, 0.01, threading.Event(), rounds=2)
    assert done == 2 and orders.rounds[1] - orders.rounds[0] >= 0.19
    assert "worker round failed: ConnectionError" in caplog.text


def test_sigterm_stops_the_loop_between_rounds() -> None:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    flag = worker_command.StopFlag()
    try:
        flag.install()
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        started = time.monotonic()
        worker_command.run_loop(FakeOrders(), 30.0, flag.event)  # would sleep 30 s without the signal
        assert time.monotonic() - started < 5
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_once_runs_one_round(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEQU_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("SHEQU_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("SHEQU_KB_DATA_DIR", str(settings.kb_data_dir))
    monkeypatch.setenv("SHEQU_TICKET_SINK", "memory")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(worker_command.worker, ["--once"])
        bad = CliRunner().invoke(worker_command.worker, ["--interval", "0"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "已送达 0" in result.output and "失败 0" in result.output
    assert bad.exit_code != 0 and "Traceback" not in bad.output


@pytest.mark.parametrize("background", [True, False])
def test_the_server_drains_only_without_a_separate_worker(settings: Settings, background: bool) -> None:
    from assistant.api.main import create_app
    from assistant.context import create_context

    context = create_context(settings.model_copy(update={"background_worker": background,
                                                         "outbox_drain_interval_seconds": 30}))
    try:
        with TestClient(create_app(context=context)) as client:
            async def names() -> set[str]:
                return {task.get_name() for task in asyncio.all_tasks()}

            running = client.portal.call(names)
    finally:
        context.close()
    assert ("orders-outbox" in running) is background
