"""The ``ReceiptPrinter`` seam, its python-escpos implementation, the shipped fake, and ``open_printer``.

A printer is chosen by URI (see ``backends``); the scheme is the registry name. Status comes first: a job is
only sent when the printer can print, and every failure is a typed ``PrinterError`` or ``PrinterStatus``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import serial

from device_adapters.errors import PrinterConnectionError, PrinterNotReadyError
from device_adapters.printer._escpos import Escpos, EscposError
from device_adapters.printer.backends import SimulatedDummy, create_escpos, parse_printer_uri
from device_adapters.printer.layout import ReceiptRenderer
from device_adapters.printer.receipts import Receipt
from device_adapters.printer.status import (
    DLE_EOT_OFFLINE_CAUSE,
    DLE_EOT_PAPER,
    DLE_EOT_PRINTER,
    PaperState,
    PrinterState,
    PrinterStatus,
    decode_status,
)
from device_adapters.printer.text import PaperWidth

log = logging.getLogger(__name__)

# What a vanished or refusing device raises across python-escpos' backends (socket, pyserial, pyusb —
# whose "no libusb backend" is a ValueError, and whose absence python-escpos reports as a RuntimeError).
_CONNECTION_ERRORS = (EscposError, OSError, serial.SerialException, ValueError, RuntimeError, AssertionError)


class ReceiptPrinter(ABC):
    """Seam: a receipt printer. ``open_printer(uri)`` picks the implementation by URI scheme."""

    def __init__(self, renderer: ReceiptRenderer, name: str) -> None:
        self.renderer = renderer
        self.name = name

    @property
    def paper(self) -> PaperWidth:
        return self.renderer.paper

    @abstractmethod
    def status(self) -> PrinterStatus:
        """Never raises: an unreachable printer is a status too."""

    @abstractmethod
    def send(self, data: bytes) -> None:
        """Send rendered bytes; raises ``PrinterConnectionError``."""

    def close(self) -> None:  # noqa: B027 - not every printer holds a connection
        pass

    def render(self, receipt: Receipt) -> bytes:
        return self.renderer.render(receipt)

    def print_bytes(self, data: bytes) -> PrinterStatus:
        """Check status, then print. Raises ``PrinterConnectionError`` when the printer cannot be reached and
        ``PrinterNotReadyError`` (carrying the status) when it answers but cannot print."""
        status = self.status()
        if status.state is PrinterState.UNREACHABLE:
            raise PrinterConnectionError(
                status.detail or f"{self.name} unreachable", message_zh=status.message_zh
            )
        if not status.can_print:
            raise PrinterNotReadyError(status)
        self.send(data)
        return status

    def print_receipt(self, receipt: Receipt) -> PrinterStatus:
        return self.print_bytes(self.render(receipt))


def _one_line(text: str) -> str:
    # python-escpos puts newlines into its messages; status details end up on one-line displays and logs.
    return " ".join(text.split())


def _answers_status(device: Escpos) -> bool:
    # File and Win32Raw cannot read back: querying them would only write DLE EOT into the output.
    return type(device)._read is not Escpos._read


class EscposReceiptPrinter(ReceiptPrinter):
    """Any python-escpos printer. The connection is made on first use and dropped after an error, so an
    unplugged and replugged printer comes back by itself."""

    def __init__(
        self,
        factory: Callable[[], Escpos],
        *,
        name: str,
        renderer: ReceiptRenderer | None = None,
        check_offline_cause: bool = True,
    ) -> None:
        super().__init__(renderer or ReceiptRenderer(), name)
        self._factory = factory
        self._device: Escpos | None = None
        self.check_offline_cause = check_offline_cause

    def _get(self) -> Escpos:
        if self._device is None:
            self._device = self._factory()
        return self._device

    def _drop(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            try:
                device.close()
            except _CONNECTION_ERRORS as e:
                log.debug("closing printer %s failed: %s", self.name, e)

    def status(self) -> PrinterStatus:
        try:
            device = self._get()
            if not _answers_status(device):
                _ = device.device  # python-escpos opens on first access: at least prove it can be opened
                return PrinterStatus.unknown(f"{self.name} cannot report its status")
            printer = device.query_status(DLE_EOT_PRINTER)
            paper = device.query_status(DLE_EOT_PAPER)
            cause = None
            if self.check_offline_cause and printer and printer[-1] & 0x08:
                cause = device.query_status(DLE_EOT_OFFLINE_CAUSE)
        except NotImplementedError:
            return PrinterStatus.unknown(f"{self.name} cannot report its status")
        except TimeoutError as e:
            # Connected but silent: some printers do not answer DLE EOT on every interface.
            return PrinterStatus.unknown(f"no status answer: {e}")
        except _CONNECTION_ERRORS as e:
            self._drop()
            log.info("printer %s unreachable: %s", self.name, e)
            return PrinterStatus.unreachable(_one_line(f"{type(e).__name__}: {e}"))
        status = decode_status(printer, paper, cause)
        log.debug("printer %s status %s", self.name, status.state.value)
        return status

    def send(self, data: bytes) -> None:
        try:
            device = self._get()
            device._raw(data)
            flush = getattr(device, "flush", None)
            if callable(flush):
                flush()
        except _CONNECTION_ERRORS as e:
            self._drop()
            raise PrinterConnectionError(
                _one_line(f"sending to {self.name} failed: {type(e).__name__}: {e}")
            ) from e

    def close(self) -> None:
        self._drop()


class DummyReceiptPrinter(EscposReceiptPrinter):
    """The shipped fake: python-escpos' Dummy with a simulated paper roll, cover and cable."""

    def __init__(
        self, device: SimulatedDummy | None = None, *, renderer: ReceiptRenderer | None = None
    ) -> None:
        self.device = device or SimulatedDummy()
        super().__init__(lambda: self.device, name="dummy:", renderer=renderer)
        self.jobs: list[bytes] = []

    @property
    def output(self) -> bytes:
        return self.device.output

    def send(self, data: bytes) -> None:
        super().send(data)
        self.jobs.append(data)

    def set_paper(self, paper: PaperState) -> None:
        self.device.paper = paper

    def set_online(self, online: bool) -> None:
        self.device.online = online

    def set_cover_open(self, cover_open: bool) -> None:
        self.device.cover_open = cover_open

    def unplug(self) -> None:
        self.device.connected = False

    def plug(self) -> None:
        self.device.connected = True

    def clear(self) -> None:
        self.device.clear()
        self.jobs.clear()


def open_printer(
    uri: str,
    *,
    paper: PaperWidth | int | str = PaperWidth.MM58,
    timeout: float = 3.0,
    **render_options: Any,
) -> ReceiptPrinter:
    """The printer for ``uri``; config errors raise ``DeviceConfigError`` now, connection errors show up
    in ``status()`` and ``send()``."""
    parsed = parse_printer_uri(uri)
    renderer = ReceiptRenderer(paper, **render_options)
    device = create_escpos(parsed, timeout=timeout)  # validates the URI without connecting
    if isinstance(device, SimulatedDummy):
        return DummyReceiptPrinter(device, renderer=renderer)
    first: list[Escpos] = [device]

    def factory() -> Escpos:
        # Reuse the validated object once; after an error a fresh one reconnects.
        return first.pop() if first else create_escpos(parsed, timeout=timeout)

    return EscposReceiptPrinter(factory, name=str(parsed), renderer=renderer)
