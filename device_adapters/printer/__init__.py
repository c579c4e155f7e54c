"""Receipt printer: URIs and backends over python-escpos, layouts for 58/80 mm, status, and a spooler."""

import device_adapters.printer._escpos_guard  # noqa: F401  (must precede every python-escpos import)
from device_adapters.printer.backends import BACKENDS, PrinterUri, SimulatedDummy, parse_printer_uri
from device_adapters.printer.layout import ReceiptRenderer, render_receipt
from device_adapters.printer.preview import preview
from device_adapters.printer.printer import (
    DummyReceiptPrinter,
    EscposReceiptPrinter,
    ReceiptPrinter,
    open_printer,
)
from device_adapters.printer.receipts import AnswerReceipt, QueueReceipt, Receipt, WorkOrderReceipt
from device_adapters.printer.spooler import JobState, PrintJob, PrintOutcome, PrintSpooler
from device_adapters.printer.status import PaperState, PrinterState, PrinterStatus
from device_adapters.printer.text import PaperWidth, display_width, wrap

__all__ = [
    "BACKENDS",
    "AnswerReceipt",
    "DummyReceiptPrinter",
    "EscposReceiptPrinter",
    "JobState",
    "PaperState",
    "PaperWidth",
    "PrintJob",
    "PrintOutcome",
    "PrintSpooler",
    "PrinterState",
    "PrinterStatus",
    "PrinterUri",
    "QueueReceipt",
    "Receipt",
    "ReceiptPrinter",
    "ReceiptRenderer",
    "SimulatedDummy",
    "WorkOrderReceipt",
    "display_width",
    "open_printer",
    "parse_printer_uri",
    "preview",
    "render_receipt",
    "wrap",
]
