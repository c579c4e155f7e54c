"""Jobs that cannot print now are kept, retried and reported — never dropped silently."""

from __future__ import annotations

import datetime as dt

import pytest

from device_adapters.printer.backends import SimulatedDummy
from device_adapters.printer.preview import preview
from device_adapters.printer.printer import DummyReceiptPrinter
from device_adapters.printer.receipts import QueueReceipt, sample_receipt
from device_adapters.printer.spooler import HELD_ZH, INCOMPLETE_ZH, JobState, PrintOutcome, PrintSpooler
from device_adapters.printer.status import PaperState, PrinterState


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2024, 5, 6, 9, 0)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def printer() -> DummyReceiptPrinter:
    return DummyReceiptPrinter()


@pytest.fixture
def reports() -> list[PrintOutcome]:
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def spooler(printer: DummyReceiptPrinter, reports: list[PrintOutcome], clock: Clock) -> PrintSpooler:
    return PrintSpooler(printer, max_attempts=3, on_report=reports.append, clock=clock)


def ticket(number: str) -> QueueReceipt:
    return QueueReceipt("东葛社区", number, printed_at=dt.datetime(2024, 5, 6, 9, 0))


def test_prints_at_once_when_ready(spooler: PrintSpooler, printer: DummyReceiptPrinter, reports) -> None:
    outcome = spooler.submit(ticket("A001"))
    assert outcome.printed and outcome.message_zh == "凭条已打印，请取走。"
    assert outcome.warning_zh is None
    assert len(printer.jobs) == 1 and spooler.pending() == []
    assert reports == [outcome]


def test_paper_out_holds_the_job_and_says_so(
    spooler: PrintSpooler, printer: DummyReceiptPrinter, reports
) -> None:
    printer.set_paper(PaperState.OUT)
    outcome = spooler.submit(ticket("A002"))
    assert outcome.state is JobState.HELD
    assert outcome.status is not None and outcome.status.state is PrinterState.PAPER_OUT
    assert outcome.message_zh.startswith("打印机没有纸了") and outcome.message_zh.endswith(HELD_ZH)
    assert printer.output == b""
    [job] = spooler.pending()
    assert job.description == "排队号 A002" and job.kind == "queue" and job.attempts == 1
    assert "data=" not in repr(job)  # the rendered bytes stay out of logs
    assert reports == [outcome]
    # Paper changed: the retry prints exactly what was rendered at the time.
    printer.set_paper(PaperState.OK)
    [retried] = spooler.retry_pending()
    assert retried.printed and retried.job_id == outcome.job_id
    assert spooler.pending() == []
    assert "A002" in preview(printer.output).lines


def test_unplugged_printer_holds_the_job(spooler: PrintSpooler, printer: DummyReceiptPrinter) -> None:
    printer.unplug()
    outcome = spooler.submit(ticket("A003"))
    assert outcome.state is JobState.HELD
    assert outcome.message_zh.startswith("打印机没有连接")
    printer.plug()
    assert [o.state for o in spooler.retry_pending()] == [JobState.PRINTED]


def test_retries_keep_order_and_stop_at_the_first_failure(
    spooler: PrintSpooler, printer: DummyReceiptPrinter
) -> None:
    printer.set_online(False)
    first, second = spooler.submit(ticket("A004")), spooler.submit(ticket("A005"))
    assert [o.state for o in spooler.retry_pending()] == [JobState.HELD]  # stopped after the first
    printer.set_online(True)
    assert [o.job_id for o in spooler.retry_pending()] == [first.job_id, second.job_id]
    lines = preview(printer.output).lines
    assert lines.index("A004") < lines.index("A005")


def test_a_job_that_keeps_failing_is_reported_as_failed(
    spooler: PrintSpooler, printer: DummyReceiptPrinter, reports
) -> None:
    printer.set_cover_open(True)
    held = spooler.submit(ticket("A006"))
    spooler.retry_pending()
    [failed] = spooler.retry_pending()  # third attempt: max_attempts reached
    assert failed.state is JobState.FAILED and failed.job_id == held.job_id
    assert "已通知工作人员" in failed.message_zh
    assert spooler.pending() == [] and [job.id for job in spooler.failed()] == [held.job_id]
    assert [r.state for r in reports] == [JobState.HELD, JobState.HELD, JobState.FAILED]


def test_a_stale_job_is_reported_instead_of_printed(
    spooler: PrintSpooler, printer: DummyReceiptPrinter, clock: Clock
) -> None:
    printer.set_paper(PaperState.OUT)
    spooler.submit(ticket("A007"))
    printer.set_paper(PaperState.OK)
    clock.now += dt.timedelta(hours=3)
    [outcome] = spooler.retry_pending()
    assert outcome.state is JobState.FAILED
    assert printer.output == b""


def test_a_full_queue_rejects_new_jobs_loudly(printer: DummyReceiptPrinter, reports) -> None:
    spooler = PrintSpooler(printer, max_pending=2, on_report=reports.append)
    printer.set_paper(PaperState.OUT)
    spooler.submit(ticket("A008"))
    spooler.submit(ticket("A009"))
    rejected = spooler.submit(ticket("A010"))
    assert rejected.state is JobState.REJECTED and rejected.message_zh
    assert len(spooler.pending()) == 2 and reports[-1] is rejected


def test_paper_near_end_prints_with_a_warning(spooler: PrintSpooler, printer: DummyReceiptPrinter) -> None:
    printer.set_paper(PaperState.NEAR_END)
    outcome = spooler.submit(sample_receipt("answer"))
    assert outcome.printed
    assert outcome.warning_zh == "打印纸快用完了，请通知工作人员更换。"


def test_paper_running_out_during_a_job_keeps_it_for_a_reprint(printer: DummyReceiptPrinter) -> None:
    class RunsOut(SimulatedDummy):
        def _raw(self, msg: bytes) -> None:
            super()._raw(msg)
            if not msg.startswith(b"\x10\x04"):
                self.paper = PaperState.OUT

    printer = DummyReceiptPrinter(RunsOut())
    spooler = PrintSpooler(printer)
    outcome = spooler.submit(ticket("A011"))
    assert outcome.state is JobState.HELD and outcome.message_zh == INCOMPLETE_ZH
    assert len(spooler.pending()) == 1


def test_staff_can_discard_a_job(spooler: PrintSpooler, printer: DummyReceiptPrinter) -> None:
    printer.set_paper(PaperState.OUT)
    outcome = spooler.submit(ticket("A012"))
    assert spooler.discard(outcome.job_id) is True
    assert spooler.pending() == [] and spooler.discard(outcome.job_id) is False


def test_a_broken_report_callback_does_not_lose_the_job(printer: DummyReceiptPrinter) -> None:
    def explode(outcome: PrintOutcome) -> None:
        raise RuntimeError("kiosk bug")

    spooler = PrintSpooler(printer, on_report=explode)
    printer.set_paper(PaperState.OUT)
    assert spooler.submit(ticket("A013")).state is JobState.HELD
    assert len(spooler.pending()) == 1


def test_pending_jobs_describe_themselves_for_staff(
    spooler: PrintSpooler, printer: DummyReceiptPrinter
) -> None:
    printer.set_paper(PaperState.OUT)
    spooler.submit(sample_receipt("work-order"))
    [job] = spooler.pending()
    info = job.to_dict()
    assert info["description"] == "工单 GX20240501-0001"
    assert info["last_status"]["state"] == "paper_out"  # type: ignore[index]
    assert "13812345678" not in str(info)


def test_a_receipt_that_cannot_be_laid_out_is_reported_not_raised(spooler: PrintSpooler, reports) -> None:
    receipt = sample_receipt("answer")
    receipt.online_url = "https://example.org/" + "x" * 1000  # type: ignore[union-attr]
    outcome = spooler.submit(receipt)
    assert outcome.state is JobState.FAILED and outcome.message_zh
    assert reports == [outcome] and spooler.pending() == []
