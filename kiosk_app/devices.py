"""The kiosk's two devices behind one object: print a receipt, watch the ID-card reader, report problems.

Built from config (printer URI, reader port) or with devices injected (tests pass a ``DummyReceiptPrinter``
and a reader on the pseudo-terminal simulator). A missing or broken device never stops the kiosk: printing
says in words why nothing came out, and the reader's events say when it is unplugged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from device_adapters.errors import DeviceError
from device_adapters.idcard import CardEvent, CardPoller, IdCardReader, create_reader
from device_adapters.printer import PrintSpooler, ReceiptPrinter, open_printer
from device_adapters.printer.receipts import Receipt
from kiosk_app.config import KioskConfig

log = logging.getLogger(__name__)

NO_PRINTER_ZH = "这台机器没有接打印机。请记下屏幕上的内容，或者找工作人员帮忙。"
PRINT_FAILED_ZH = "凭条没有打印出来，请找工作人员帮忙。"
NO_READER_ZH = "这台机器没有接读卡器，请找工作人员帮忙。"


@dataclass(frozen=True)
class PrintResult:
    printed: bool
    message_zh: str
    problem: bool = False  # a device problem staff should hear about (paper out, offline)


class KioskDevices:
    def __init__(
        self,
        *,
        printer: ReceiptPrinter | None = None,
        reader: IdCardReader | None = None,
        poll_interval: float = 0.3,
        on_print_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.printer = printer
        self.spooler = PrintSpooler(printer) if printer is not None else None
        self.reader = reader
        self.poller = CardPoller(reader, interval=poll_interval) if reader is not None else None
        self._on_print_problem = on_print_problem
        self._listener: Callable[[CardEvent], None] | None = None

    @classmethod
    def from_config(cls, config: KioskConfig, **kwargs: object) -> KioskDevices:
        printer = reader = None
        if config.has_printer:
            try:
                printer = open_printer(config.printer_uri, paper=config.printer_paper)
            except DeviceError as e:
                log.error("receipt printer not usable (SHEQU_KIOSK_PRINTER): %s", e)
        if config.has_reader:
            try:
                reader = create_reader(config.idcard_reader, port=config.idcard_port, baudrate=config.idcard_baud)
            except DeviceError as e:
                log.error("ID-card reader not usable (SHEQU_KIOSK_IDCARD_PORT): %s", e)
        return cls(printer=printer, reader=reader, **kwargs)  # type: ignore[arg-type]

    # --- the reader ---
    @property
    def has_reader(self) -> bool:
        return self.poller is not None

    @property
    def reader_connected(self) -> bool | None:
        return self.poller.reader_connected if self.poller is not None else None

    @property
    def card_present(self) -> bool:
        return bool(self.poller and self.poller.card_present)

    def start(self, on_card_event: Callable[[CardEvent], None]) -> None:
        """Poll the reader on a background thread; ``on_card_event`` is called on that thread."""
        self._listener = on_card_event
        if self.poller is not None:
            self.poller.start(self._dispatch)

    def _dispatch(self, event: CardEvent) -> None:
        # The record is personal: only the kind of event is logged.
        log.info("ID-card event: %s", event.kind.value)
        if self._listener is not None:
            self._listener(event)

    # --- the printer ---
    @property
    def has_printer(self) -> bool:
        return self.spooler is not None

    def print_receipt(self, receipt: Receipt) -> PrintResult:
        if self.spooler is None:
            return PrintResult(False, NO_PRINTER_ZH)
        try:
            # Jobs that cannot print now are kept and printed when the printer is back.
            self.spooler.retry_pending()
            outcome = self.spooler.submit(receipt)
        except DeviceError as e:
            log.error("printing a %s receipt failed: %s", receipt.kind, e)
            return PrintResult(False, e.message_zh or PRINT_FAILED_ZH, problem=True)
        if outcome.warning_zh and self._on_print_problem:
            self._on_print_problem(outcome.warning_zh)
        if not outcome.printed and self._on_print_problem:
            self._on_print_problem(outcome.message_zh)
        return PrintResult(outcome.printed, outcome.message_zh, problem=not outcome.printed)

    def printer_problem(self) -> str | None:
        """The printer's problem in words, or ``None`` when it can print (held receipts are printed then)."""
        if self.spooler is None or self.printer is None:
            return None
        status = self.printer.status()
        if not status.can_print:
            return status.message_zh
        if self.spooler.pending():
            self.spooler.retry_pending()
        return None

    def stop(self) -> None:
        if self.poller is not None:
            self.poller.stop()
        if self.reader is not None:
            self.reader.close()
        if self.printer is not None:
            self.printer.close()

