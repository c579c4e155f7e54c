"""Printer URIs, status decoding, and the paper-out / offline / unplugged paths on every backend we can fake."""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
import tty
from collections.abc import Iterator

import pytest

from device_adapters.errors import DeviceConfigError, PrinterConnectionError, PrinterNotReadyError
from device_adapters.printer.backends import (
    BACKENDS,
    PrinterUri,
    SimulatedDummy,
    create_escpos,
    parse_printer_uri,
)
from device_adapters.printer.preview import preview
from device_adapters.printer.printer import DummyReceiptPrinter, EscposReceiptPrinter, open_printer
from device_adapters.printer.receipts import sample_receipt
from device_adapters.printer.status import PaperState, PrinterState, decode_status, paper_state

# --- URIs -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("dummy:", PrinterUri("dummy", "")),
        ("dummy:?paper=out&online=0", PrinterUri("dummy", "", {"paper": "out", "online": "0"})),
        ("file:/dev/usb/lp0", PrinterUri("file", "/dev/usb/lp0")),
        ("file:///tmp/receipt.bin", PrinterUri("file", "/tmp/receipt.bin")),
        ("tcp://192.168.1.50:9100", PrinterUri("tcp", "192.168.1.50:9100")),
        ("serial:/dev/ttyS0?baud=9600", PrinterUri("serial", "/dev/ttyS0", {"baud": "9600"})),
        ("USB:0416:5011", PrinterUri("usb", "0416:5011")),
    ],
)
def test_uris_parse(uri: str, parsed: PrinterUri) -> None:
    assert parse_printer_uri(uri) == parsed


def test_registry_has_one_backend_per_scheme() -> None:
    assert set(BACKENDS) == {"dummy", "file", "tcp", "serial", "usb"}


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "no scheme"),
        ("/dev/usb/lp0", "no scheme"),
        ("lpt:1", "unknown printer type 'lpt'"),
        ("tcp:192.168.1.50", "tcp://host:port"),
        ("tcp://:9100", "needs a host"),
        ("tcp://printer:99999", "bad host or port"),
        ("serial:/dev/ttyS0?baud=fast", "baud must be a number"),
        ("serial:/dev/ttyS0?baud=12345", "unsupported baud rate"),
        ("serial:/dev/ttyS0?speed=9600", "unknown option(s) speed"),
        ("serial:", "needs a device"),
        ("usb:0416", "usb:VID:PID"),
        ("usb:zzzz:5011", "usb:VID:PID"),
        ("file:", "needs a path"),
        ("dummy:?paper=empty", "dummy paper"),
        ("dummy:?paper", "bad query"),
    ],
)
def test_bad_uris_say_what_is_wrong(uri: str, message: str) -> None:
    with pytest.raises(DeviceConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_printer(uri)


def test_creating_a_backend_does_not_connect() -> None:
    # Nothing listens on this port: creating must still succeed; only status/printing find out.
    printer = open_printer("tcp://127.0.0.1:9", timeout=0.3)
    assert isinstance(printer, EscposReceiptPrinter)
    assert create_escpos("usb:0416:5011") is not None


# --- status bytes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printer", "paper", "cause", "state"),
    [
        (b"\x12", b"\x12", None, PrinterState.READY),
        (b"\x12", b"\x1e", None, PrinterState.PAPER_NEAR_END),
        (b"\x1a", b"\x72", b"\x32", PrinterState.PAPER_OUT),
        (b"\x12", b"\x72", None, PrinterState.PAPER_OUT),
        (b"\x1a", b"\x12", b"\x16", PrinterState.COVER_OPEN),
        (b"\x1a", b"\x12", b"\x32", PrinterState.PAPER_OUT),
        (b"\x1a", b"\x12", b"\x52", PrinterState.OFFLINE),
        (b"\x1a", b"\x12", None, PrinterState.OFFLINE),
        (b"", b"", None, PrinterState.UNKNOWN),
        (b"\xff", b"\x00", None, PrinterState.UNKNOWN),  # noise, not status bytes
        (b"\x1a\x12", b"\x1e\x12", None, PrinterState.READY),  # a stale answer before the fresh one
    ],
)
def test_dle_eot_answers_decode(
    printer: bytes, paper: bytes, cause: bytes | None, state: PrinterState
) -> None:
    status = decode_status(printer, paper, cause)
    assert status.state is state
    assert status.message_zh
    assert status.can_print == (
        state in (PrinterState.READY, PrinterState.PAPER_NEAR_END, PrinterState.UNKNOWN)
    )


def test_paper_sensor_bits() -> None:
    assert paper_state(b"\x12") is PaperState.OK
    assert paper_state(b"\x16") is PaperState.NEAR_END
    assert paper_state(b"\x32") is PaperState.OUT
    assert paper_state(None) is PaperState.UNKNOWN


# --- the shipped fake -------------------------------------------------------------------------------------


def test_dummy_printer_prints_when_ready() -> None:
    printer = open_printer("dummy:")
    assert isinstance(printer, DummyReceiptPrinter)
    status = printer.print_receipt(sample_receipt("queue"))
    assert status.state is PrinterState.READY
    assert preview(printer.output).cuts == 1
    assert b"\x10\x04" not in printer.output  # status queries are not part of the job


@pytest.mark.parametrize(
    ("uri", "state", "words"),
    [
        ("dummy:?paper=out", PrinterState.PAPER_OUT, "没有纸"),
        ("dummy:?cover=open", PrinterState.COVER_OPEN, "盖"),
        ("dummy:?online=0", PrinterState.OFFLINE, "暂停"),
    ],
)
def test_not_ready_printers_print_nothing_and_say_why(uri: str, state: PrinterState, words: str) -> None:
    printer = open_printer(uri)
    with pytest.raises(PrinterNotReadyError) as info:
        printer.print_receipt(sample_receipt("answer"))
    assert info.value.status.state is state
    assert words in info.value.message_zh
    assert printer.output == b""


def test_paper_near_end_still_prints_and_says_so() -> None:
    printer = open_printer("dummy:?paper=near_end")
    status = printer.print_receipt(sample_receipt("answer"))
    assert status.state is PrinterState.PAPER_NEAR_END and status.can_print
    assert "快用完" in status.message_zh
    assert printer.output


def test_unplugged_dummy_is_unreachable_and_comes_back() -> None:
    printer = DummyReceiptPrinter()
    printer.unplug()
    assert printer.status().state is PrinterState.UNREACHABLE
    with pytest.raises(PrinterConnectionError):
        printer.send(b"x")
    printer.plug()
    assert printer.status().state is PrinterState.READY


def test_a_printer_that_cannot_report_status_is_unknown_but_printable() -> None:
    printer = DummyReceiptPrinter(SimulatedDummy(answers_status=False))
    assert printer.status().state is PrinterState.UNKNOWN
    printer.print_receipt(sample_receipt("queue"))
    assert printer.jobs


# --- file -------------------------------------------------------------------------------------------------


def test_file_printer_writes_the_job(tmp_path) -> None:
    target = tmp_path / "lp0"
    printer = open_printer(f"file:{target}")
    data = printer.render(sample_receipt("work-order"))
    status = printer.print_bytes(data)
    printer.close()
    assert status.state is PrinterState.UNKNOWN  # a file cannot answer DLE EOT
    assert target.read_bytes() == data  # and no status query was written into it


def test_file_printer_in_a_missing_directory(tmp_path) -> None:
    printer = open_printer(f"file:{tmp_path}/missing/lp0")
    status = printer.status()
    assert status.state is PrinterState.UNREACHABLE and "\n" not in status.detail
    with pytest.raises(PrinterConnectionError):
        printer.send(b"x")


# --- network ----------------------------------------------------------------------------------------------


class FakeNetworkPrinter:
    """A TCP ESC/POS printer on localhost: records jobs and answers DLE EOT with the configured state."""

    def __init__(self, *, paper: int = 0x12, printer: int = 0x12, answers: bool = True) -> None:
        self.paper, self.printer, self.answers = paper, printer, answers
        self.received = bytearray()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        self.server.settimeout(0.05)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(0.05)
                while not self.stop.is_set():
                    try:
                        data = conn.recv(65536)
                    except TimeoutError:
                        continue
                    if not data:
                        break
                    if len(data) == 3 and data[:2] == b"\x10\x04":
                        if self.answers:
                            conn.sendall(bytes([{1: self.printer, 4: self.paper}.get(data[2], 0x12)]))
                        continue
                    self.received += data

    def close(self) -> None:
        self.stop.set()
        self.thread.join(1)
        self.server.close()


@pytest.fixture
def network_printer() -> Iterator[FakeNetworkPrinter]:
    server = FakeNetworkPrinter()
    yield server
    server.close()


def test_network_printer_status_and_job(network_printer: FakeNetworkPrinter) -> None:
    printer = open_printer(f"tcp://127.0.0.1:{network_printer.port}", timeout=1.0)
    assert printer.status().state is PrinterState.READY
    data = printer.render(sample_receipt("answer"))
    printer.print_bytes(data)
    printer.close()
    network_printer.thread.join(0.3)
    assert bytes(network_printer.received) == data


def test_network_printer_out_of_paper(network_printer: FakeNetworkPrinter) -> None:
    network_printer.printer, network_printer.paper = 0x1A, 0x72
    printer = open_printer(f"tcp://127.0.0.1:{network_printer.port}", timeout=1.0)
    with pytest.raises(PrinterNotReadyError) as info:
        printer.print_receipt(sample_receipt("queue"))
    assert info.value.status.state is PrinterState.PAPER_OUT
    printer.close()
    assert bytes(network_printer.received) == b""


def test_network_printer_that_does_not_answer_status(network_printer: FakeNetworkPrinter) -> None:
    network_printer.answers = False
    printer = open_printer(f"tcp://127.0.0.1:{network_printer.port}", timeout=0.2)
    assert printer.status().state is PrinterState.UNKNOWN
    printer.close()


def test_network_printer_switched_off() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens there
    printer = open_printer(f"tcp://127.0.0.1:{port}", timeout=0.5)
    status = printer.status()
    assert status.state is PrinterState.UNREACHABLE and not status.can_print
    assert status.message_zh == "打印机没有连接，暂时不能打印，请联系工作人员。"
    with pytest.raises(PrinterConnectionError):
        printer.print_receipt(sample_receipt("queue"))


# --- serial and USB ---------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")
def test_serial_printer_on_a_pseudo_terminal() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        printer = open_printer(f"serial:{os.ttyname(slave)}?baud=9600&timeout=0.1&dsrdtr=0")
        assert printer.status().state is PrinterState.UNKNOWN  # nobody answers DLE EOT on this line
        data = printer.render(sample_receipt("queue"))
        printer.print_bytes(data)
        received = b""
        while select.select([master], [], [], 0.3)[0]:
            received += os.read(master, 65536)
        printer.close()
        assert received.endswith(data)
    finally:
        os.close(master)
        os.close(slave)


def test_usb_printer_that_is_not_there_is_unreachable() -> None:
    printer = open_printer("usb:0416:5011", timeout=0.2)
    status = printer.status()
    assert status.state is PrinterState.UNREACHABLE
    assert status.detail
