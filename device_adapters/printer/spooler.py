"""Print jobs that cannot print now are kept, retried, and reported — never dropped silently.

``submit`` renders a receipt to bytes and tries to print it at once; when the printer cannot (paper out,
offline, unplugged) the job is held and the outcome says so in words. ``retry_pending`` (called by the kiosk
when the printer comes back, or by staff) prints held jobs in order. A job that has failed ``max_attempts``
times or waited longer than ``max_age`` is moved to ``failed`` and reported instead of printing a stale
receipt into the next resident's hands. Every outcome also goes to ``on_report``.

Jobs live in memory only; receipts carry no unmasked personal data.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from device_adapters.errors import PrinterConnectionError, PrinterNotReadyError, PrintJobError
from device_adapters.printer.printer import ReceiptPrinter
from device_adapters.printer.receipts import Receipt
from device_adapters.printer.status import PaperState, PrinterState, PrinterStatus

log = logging.getLogger(__name__)


class JobState(Enum):
    PRINTED = "printed"
    HELD = "held"  # kept; will be retried
    FAILED = "failed"  # given up on, reported to staff
    REJECTED = "rejected"  # not accepted: the queue is full


PRINTED_ZH = "凭条已打印，请取走。"
HELD_ZH = "凭条已保留，打印机恢复后会补打，也可以请工作人员帮忙。"
FAILED_ZH = "凭条没有打印出来，已通知工作人员，请到服务台询问。"
REJECTED_ZH = "待打印的凭条太多，暂时不能打印，请联系工作人员。"
INCOMPLETE_ZH = "打印中纸用完了，凭条可能不完整，换纸后会重新打印。"


@dataclass
class PrintJob:
    id: str
    kind: str
    description: str  # non-personal, for staff pages: "排队号 A012"
    data: bytes = field(repr=False)
    created_at: dt.datetime
    attempts: int = 0
    last_status: PrinterStatus | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "description": self.description,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "attempts": self.attempts,
            "last_status": self.last_status.to_dict() if self.last_status else None,
        }


@dataclass(frozen=True)
class PrintOutcome:
    job_id: str
    state: JobState
    message_zh: str  # what to show and say to the resident
    status: PrinterStatus | None = None
    warning_zh: str | None = None  # e.g. paper near end: printed, but staff should know

    @property
    def printed(self) -> bool:
        return self.state is JobState.PRINTED


class PrintSpooler:
    def __init__(
        self,
        printer: ReceiptPrinter,
        *,
        max_pending: int = 20,
        max_attempts: int = 5,
        max_age: dt.timedelta | None = dt.timedelta(hours=2),
        verify_after_print: bool = True,
        on_report: Callable[[PrintOutcome], None] | None = None,
        clock: Callable[[], dt.datetime] = dt.datetime.now,
    ) -> None:
        self.printer = printer
        self.max_pending = max_pending
        self.max_attempts = max_attempts
        self.max_age = max_age
        self.verify_after_print = verify_after_print
        self.on_report = on_report
        self._clock = clock
        self._pending: list[PrintJob] = []
        self._failed: list[PrintJob] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    def pending(self) -> list[PrintJob]:
        with self._lock:
            return list(self._pending)

    def failed(self) -> list[PrintJob]:
        with self._lock:
            return list(self._failed)

    def submit(self, receipt: Receipt) -> PrintOutcome:
        """Print now if possible, else keep the job; the outcome says which, in words."""
        with self._lock:
            job_id = f"P{next(self._ids):05d}"
            try:
                data = self.printer.render(receipt)
            except PrintJobError as e:
                # Content that cannot be laid out (an over-long QR link): nothing to keep or retry.
                log.error("print job %s (%s) cannot be rendered: %s", job_id, receipt.kind, e)
                return self._report(PrintOutcome(job_id, JobState.FAILED, e.message_zh))
            job = PrintJob(
                id=job_id,
                kind=receipt.kind,
                description=receipt.describe(),
                data=data,
                created_at=self._clock(),
            )
            if len(self._pending) >= self.max_pending:
                log.error("print queue full (%d jobs); rejected %s", len(self._pending), job.id)
                return self._report(PrintOutcome(job.id, JobState.REJECTED, REJECTED_ZH))
            outcome = self._attempt(job)
            if outcome.state is JobState.HELD:
                self._pending.append(job)
            return self._report(outcome)

    def retry_pending(self) -> list[PrintOutcome]:
        """Print held jobs in order; stop at the first that still cannot print."""
        outcomes: list[PrintOutcome] = []
        with self._lock:
            for job in list(self._pending):
                if self._expired(job):
                    self._give_up(job, outcomes, reason="expired")
                    continue
                outcome = self._attempt(job)
                if outcome.state is JobState.PRINTED:
                    self._pending.remove(job)
                    outcomes.append(self._report(outcome))
                    continue
                if job.attempts >= self.max_attempts:
                    self._give_up(job, outcomes, reason="too many attempts")
                    continue
                outcomes.append(self._report(outcome))
                break
        return outcomes

    def discard(self, job_id: str) -> bool:
        """Staff removed a job on purpose (reported in the log, not silent)."""
        with self._lock:
            for bucket in (self._pending, self._failed):
                for job in bucket:
                    if job.id == job_id:
                        bucket.remove(job)
                        log.info("print job %s (%s) discarded by staff", job.id, job.kind)
                        return True
        return False

    def _expired(self, job: PrintJob) -> bool:
        return self.max_age is not None and self._clock() - job.created_at > self.max_age

    def _give_up(self, job: PrintJob, outcomes: list[PrintOutcome], *, reason: str) -> None:
        self._pending.remove(job)
        self._failed.append(job)
        log.error("print job %s (%s) failed: %s", job.id, job.kind, reason)
        outcomes.append(self._report(PrintOutcome(job.id, JobState.FAILED, FAILED_ZH, job.last_status)))

    def _attempt(self, job: PrintJob) -> PrintOutcome:
        job.attempts += 1
        try:
            status = self.printer.print_bytes(job.data)
        except PrinterNotReadyError as e:
            job.last_status = e.status
            return PrintOutcome(job.id, JobState.HELD, f"{e.status.message_zh}{HELD_ZH}", e.status)
        except PrinterConnectionError as e:
            status = PrinterStatus.unreachable(str(e))
            job.last_status = status
            return PrintOutcome(job.id, JobState.HELD, f"{status.message_zh}{HELD_ZH}", status)
        job.last_status = status
        if self.verify_after_print:
            after = self.printer.status()
            if after.state is PrinterState.PAPER_OUT:
                # The roll ran out during this job: what came out may be cut short.
                job.last_status = after
                return PrintOutcome(job.id, JobState.HELD, INCOMPLETE_ZH, after)
            status = after if after.can_print else status
        warning = status.message_zh if status.paper is PaperState.NEAR_END else None
        return PrintOutcome(job.id, JobState.PRINTED, PRINTED_ZH, status, warning)

    def _report(self, outcome: PrintOutcome) -> PrintOutcome:
        if outcome.state is not JobState.PRINTED:
            log.warning("print job %s %s", outcome.job_id, outcome.state.value)
        if self.on_report is not None:
            try:
                self.on_report(outcome)
            except Exception:
                log.exception("print report callback failed")
        return outcome
