"""One status summary of the kiosk's devices, for the kiosk screen and the staff pages.

The reader's state is taken from a running ``CardPoller`` when there is one (so that the health check never
competes with the poll loop for the serial port), else the reader is asked directly.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from device_adapters.errors import ReaderError
from device_adapters.idcard.poller import CardPoller
from device_adapters.idcard.reader import IdCardReader
from device_adapters.printer.printer import ReceiptPrinter
from device_adapters.printer.spooler import PrintSpooler
from device_adapters.printer.status import PaperState, PrinterState, PrinterStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceHealth:
    checked_at: dt.datetime
    reader_configured: bool
    reader_connected: bool | None  # None: not configured or not yet polled
    card_present: bool | None
    reader_detail: str = ""
    printer_configured: bool = False
    printer: PrinterStatus | None = None
    pending_print_jobs: int = 0
    failed_print_jobs: int = 0
    messages_zh: list[str] = field(default_factory=list)

    @property
    def printer_online(self) -> bool | None:
        if self.printer is None:
            return None
        if self.printer.state is PrinterState.UNKNOWN:
            return None
        return self.printer.state is not PrinterState.UNREACHABLE and self.printer.online is not False

    @property
    def paper(self) -> PaperState | None:
        return None if self.printer is None else self.printer.paper

    @property
    def ok(self) -> bool:
        """Everything configured works (paper near end still counts as working)."""
        reader_ok = not self.reader_configured or bool(self.reader_connected)
        printer_ok = not self.printer_configured or (self.printer is not None and self.printer.can_print)
        return reader_ok and printer_ok and not self.failed_print_jobs

    def to_dict(self) -> dict[str, object]:
        return {
            "checked_at": self.checked_at.isoformat(timespec="seconds"),
            "ok": self.ok,
            "reader": {
                "configured": self.reader_configured,
                "connected": self.reader_connected,
                "card_present": self.card_present,
                "detail": self.reader_detail,
            },
            "printer": {
                "configured": self.printer_configured,
                "online": self.printer_online,
                "paper": self.paper.value if self.paper else None,
                "status": self.printer.to_dict() if self.printer else None,
                "pending_jobs": self.pending_print_jobs,
                "failed_jobs": self.failed_print_jobs,
            },
            "messages_zh": list(self.messages_zh),
        }


def _reader_state(
    reader: IdCardReader | None, poller: CardPoller | None
) -> tuple[bool | None, bool | None, str, str | None]:
    """(connected, card present, detail, message) of the reader."""
    if poller is not None:
        connected = poller.reader_connected
        message = "读卡器没有连接，请联系工作人员。" if connected is False else None
        return connected, poller.card_present if connected else None, "from the poll loop", message
    if reader is None:
        return None, None, "", None
    try:
        reader.open()
        reader.sam_status()
        present = reader.find_card()
    except ReaderError as e:
        reader.close()
        return False, None, f"{type(e).__name__}: {e}", e.message_zh
    return True, present, "", None


def check_health(
    *,
    reader: IdCardReader | None = None,
    poller: CardPoller | None = None,
    printer: ReceiptPrinter | None = None,
    spooler: PrintSpooler | None = None,
    clock: Callable[[], dt.datetime] = dt.datetime.now,
) -> DeviceHealth:
    messages: list[str] = []
    connected, present, detail, reader_message = _reader_state(reader, poller)
    if reader_message:
        messages.append(reader_message)
    if printer is None and spooler is not None:
        printer = spooler.printer
    printer_status = printer.status() if printer is not None else None
    if printer_status is not None and printer_status.state is not PrinterState.READY:
        messages.append(printer_status.message_zh)
    pending = len(spooler.pending()) if spooler else 0
    failed = len(spooler.failed()) if spooler else 0
    if pending:
        messages.append(f"有 {pending} 张凭条等待补打。")
    if failed:
        messages.append(f"有 {failed} 张凭条没有打印出来，请处理。")
    health = DeviceHealth(
        checked_at=clock(),
        reader_configured=reader is not None or poller is not None,
        reader_connected=connected,
        card_present=present,
        reader_detail=detail,
        printer_configured=printer is not None,
        printer=printer_status,
        pending_print_jobs=pending,
        failed_print_jobs=failed,
        messages_zh=messages,
    )
    if not health.ok:
        log.info("device health: %s", "; ".join(messages) or "not ok")
    return health
