"""Receipt printer: URIs and backends over python-escpos, layouts for 58/80 mm, status, and a spooler.

Names are loaded on first use (PEP 562), so that importing the receipt dataclasses does not pay for
python-escpos' capability database.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BACKENDS": "backends",
    "PrinterUri": "backends",
    "SimulatedDummy": "backends",
    "parse_printer_uri": "backends",
    "ReceiptRenderer": "layout",
    "render_receipt": "layout",
    "preview": "preview",
    "DummyReceiptPrinter": "printer",
    "EscposReceiptPrinter": "printer",
    "ReceiptPrinter": "printer",
    "open_printer": "printer",
    "AnswerReceipt": "receipts",
    "QueueReceipt": "receipts",
    "Receipt": "receipts",
    "WorkOrderReceipt": "receipts",
    "JobState": "spooler",
    "PrintJob": "spooler",
    "PrintOutcome": "spooler",
    "PrintSpooler": "spooler",
    "PaperState": "status",
    "PrinterState": "status",
    "PrinterStatus": "status",
    "PaperWidth": "text",
    "display_width": "text",
    "wrap": "text",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
