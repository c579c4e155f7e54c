"""One status summary for the kiosk and the staff pages."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pytest

from device_adapters.errors import ReaderTimeoutError
from device_adapters.health import check_health
from device_adapters.idcard.poller import CardPoller
from device_adapters.idcard.reader import FakeIdCardReader
from device_adapters.idcard.samples import sample_text_block
from device_adapters.printer.printer import DummyReceiptPrinter
from device_adapters.printer.receipts import sample_receipt
from device_adapters.printer.spooler import PrintSpooler
from device_adapters.printer.status import PaperState

NOW = dt.datetime(2024, 5, 6, 9, 0)


def test_all_well() -> None:
    reader = FakeIdCardReader(sample_text_block("resident"))
    health = check_health(reader=reader, printer=DummyReceiptPrinter(), clock=lambda: NOW)
    assert health.ok
    assert (health.reader_connected, health.card_present) == (True, True)
    assert health.printer_online is True and health.paper is PaperState.OK
    assert health.messages_zh == []
    data = health.to_dict()
    json.dumps(data)
    assert data["checked_at"] == "2024-05-06T09:00:00"
    assert data["printer"]["paper"] == "ok"  # type: ignore[index]


def test_problems_are_listed_in_words() -> None:
    reader = FakeIdCardReader()
    reader.unplug()
    printer = DummyReceiptPrinter()
    spooler = PrintSpooler(printer)
    printer.set_paper(PaperState.OUT)
    spooler.submit(sample_receipt("queue"))
    health = check_health(reader=reader, spooler=spooler)
    assert not health.ok
    assert health.reader_connected is False and health.card_present is None
    assert health.printer_online is False and health.paper is PaperState.OUT
    assert health.pending_print_jobs == 1
    assert health.messages_zh == [
        "读卡器没有连接，请联系工作人员。",
        "打印机没有纸了，暂时不能打印，请联系工作人员换纸。",
        "有 1 张凭条等待补打。",
    ]


def test_paper_near_end_is_a_warning_not_a_failure() -> None:
    printer = DummyReceiptPrinter()
    printer.set_paper(PaperState.NEAR_END)
    health = check_health(printer=printer)
    assert health.ok and health.messages_zh == ["打印纸快用完了，请通知工作人员更换。"]
    assert health.reader_configured is False and health.reader_connected is None


def test_a_silent_reader() -> None:
    reader = FakeIdCardReader()
    reader.fail_next(ReaderTimeoutError("silence"))
    health = check_health(reader=reader)
    assert health.reader_connected is False and not health.ok
    assert health.messages_zh == ["读卡器没有响应，请稍后再试。"]


def test_a_running_poller_is_asked_instead_of_the_port() -> None:
    reader = FakeIdCardReader(sample_text_block("resident"))
    poller = CardPoller(reader)
    poller.poll_once()
    calls_before = len(reader.calls)
    health = check_health(poller=poller)
    assert len(reader.calls) == calls_before  # did not compete with the poll loop for the port
    assert (health.reader_connected, health.card_present) == (True, True)
    reader.unplug()
    poller.poll_once()
    health = check_health(poller=poller)
    assert health.reader_connected is False and health.messages_zh == ["读卡器没有连接，请联系工作人员。"]


def test_unknown_printer_status_counts_as_online_unknown(tmp_path) -> None:
    from device_adapters.printer.printer import open_printer

    health = check_health(printer=open_printer(f"file:{tmp_path / 'lp0'}"))
    assert health.ok and health.printer_online is None


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")
def test_health_of_a_simulated_reader(make_simulator, make_reader) -> None:
    sim = make_simulator()
    health = check_health(reader=make_reader(sim.port))
    assert health.ok and health.card_present is True
