"""Kiosk devices: the resident ID-card reader and the receipt printer, with their simulators and layouts.

- ``device_adapters.idcard``: SAM serial framing, the ``IdCardReader`` seam (``SamSerialReader``,
  ``FakeIdCardReader``), the poll loop, card parsing and the pseudo-terminal simulator.
- ``device_adapters.printer``: the ``ReceiptPrinter`` seam over python-escpos chosen by URI, receipt
  dataclasses and layouts, status, and the spooler that keeps jobs that cannot print now.
- ``device_adapters.health``: one status summary for the kiosk and the staff pages.
- ``device_adapters.errors``: the exception tree (``DeviceError`` and below).

This package imports nothing else of the project but the leaf ``pii`` (masks for names, ID and phone numbers);
configuration comes in through constructor arguments. The package root stays light (no pyserial, no
python-escpos).
"""

from device_adapters.errors import DeviceError

__all__ = ["DeviceError"]
