"""The ``IdCardReader`` seam, the SAM serial driver, an in-memory fake, and the registry that picks one.

The driver speaks the request/response protocol of ``framing`` over pyserial; the port name and baud rate
come from config (constructor arguments). Every failure becomes a ``ReaderError`` subclass.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

import serial

from device_adapters.errors import (
    ChecksumError,
    DeviceConfigError,
    DeviceError,
    FrameError,
    NoCardError,
    ReaderConnectionError,
    ReaderTimeoutError,
)
from device_adapters.idcard import framing
from device_adapters.idcard.framing import FrameDecoder, Response, Sw3
from device_adapters.idcard.record import TEXT_LENGTH, IdCardRecord, parse_text_block

log = logging.getLogger(__name__)

BAUD_RATES = (115200, 57600, 38400, 19200, 9600)

try:
    import termios

    # pyserial lets termios.error (not an OSError) escape from tcflush on a port that has gone away.
    _PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, termios.error)
except ImportError:  # Windows
    _PORT_ERRORS = (serial.SerialException, OSError)
# After a frame with a bad checksum, wait this long for a good one (garbage may have mimicked a frame).
_CHECKSUM_GRACE = 0.05
_POLL_READ_TIMEOUT = 0.02


class IdCardReader(ABC):
    """Seam: a resident ID-card reader. Implementations are picked by name from ``READERS``."""

    @abstractmethod
    def open(self) -> None:
        """Connect; raises ``ReaderConnectionError`` when the device is not there."""

    @abstractmethod
    def close(self) -> None: ...

    @property
    @abstractmethod
    def is_open(self) -> bool: ...

    @abstractmethod
    def sam_status(self) -> None:
        """Raise unless the reader's SAM module reports itself healthy."""

    @abstractmethod
    def find_card(self) -> bool:
        """Is a card in the field? (寻卡)"""

    @abstractmethod
    def select_card(self) -> bool:
        """Select the card in the field; ``False`` when there is none to select. (选卡)"""

    @abstractmethod
    def read_card(self) -> IdCardRecord:
        """Read text and photo of the selected card. (读基本信息)"""

    def read_appended_address(self) -> str | None:
        """The address endorsement (追加住址) if the card has one."""
        return None

    def __enter__(self) -> IdCardReader:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SerialPort(Protocol):
    """What the driver needs of a ``serial.Serial``; tests may pass anything shaped like it."""

    in_waiting: int

    def write(self, data: bytes) -> int | None: ...
    def read(self, size: int = 1) -> bytes: ...
    def reset_input_buffer(self) -> None: ...
    def close(self) -> None: ...


class SamTransport:
    """One request, one response, over a port: timeouts, resync and checksum handling live here."""

    def __init__(self, port: SerialPort, *, timeout: float = 1.0) -> None:
        self._port = port
        self.timeout = timeout

    def transact(self, request: bytes, timeout: float | None = None) -> Response:
        budget = self.timeout if timeout is None else timeout
        try:
            # A late answer to an earlier, timed-out command must not be taken for this one.
            self._port.reset_input_buffer()
            self._port.write(request)
        except _PORT_ERRORS as e:
            raise ReaderConnectionError(f"writing to the reader failed: {e}") from e
        decoder = FrameDecoder()
        deadline = time.monotonic() + budget
        bad_frame: ChecksumError | None = None
        while True:
            try:
                response = decoder.next_response()
            except ChecksumError as e:
                bad_frame = e
                deadline = min(deadline, time.monotonic() + _CHECKSUM_GRACE)
                continue
            if response is not None:
                if decoder.skipped_bytes:
                    log.debug("skipped %d garbage bytes before the response", decoder.skipped_bytes)
                return response
            if time.monotonic() >= deadline:
                if bad_frame is not None:
                    raise bad_frame
                raise ReaderTimeoutError(
                    f"no complete response within {budget:.2f} s ({decoder.buffered} bytes pending)"
                )
            try:
                chunk = self._port.read(max(1, self._port.in_waiting))
            except _PORT_ERRORS as e:
                raise ReaderConnectionError(f"reading from the reader failed: {e}") from e
            if chunk:
                decoder.feed(chunk)


def split_read_payload(data: bytes, *, with_fingerprint: bool = False) -> tuple[bytes, bytes]:
    """The text block and photo of a read response's data (after the status word)."""
    header = 6 if with_fingerprint else 4
    if len(data) < header:
        raise FrameError(f"read response data of {len(data)} bytes has no length header")
    text_len = int.from_bytes(data[0:2], "big")
    photo_len = int.from_bytes(data[2:4], "big")
    fp_len = int.from_bytes(data[4:6], "big") if with_fingerprint else 0
    if text_len < TEXT_LENGTH or len(data) < header + text_len + photo_len + fp_len:
        raise FrameError(
            f"read response lengths do not add up: text {text_len}, photo {photo_len}, "
            f"fingerprint {fp_len}, data {len(data)}"
        )
    text = data[header : header + text_len]
    photo = data[header + text_len : header + text_len + photo_len]
    return text, photo


class SamSerialReader(IdCardReader):
    """A SAM reader on a serial port (or a USB CDC port), via pyserial."""

    def __init__(
        self,
        port: str,
        baudrate: int = 115200,
        *,
        timeout: float = 1.0,
        read_timeout: float = 3.0,
        retries: int = 2,
        serial_factory: Callable[..., SerialPort] | None = None,
    ) -> None:
        if not port:
            raise DeviceConfigError("no serial port given for the ID-card reader")
        if baudrate not in BAUD_RATES:
            raise DeviceConfigError(
                f"unsupported baud rate {baudrate}; the SAM reader speaks {', '.join(map(str, BAUD_RATES))}"
            )
        if timeout <= 0 or read_timeout <= 0:
            raise DeviceConfigError("timeouts must be positive")
        if retries < 0:
            raise DeviceConfigError("retries must not be negative")
        self.retries = retries
        self.port = port
        self.baudrate = baudrate
        self.timeout = timeout
        self.read_timeout = read_timeout
        self._serial_factory = serial_factory or serial.Serial
        self._serial: SerialPort | None = None
        self._transport: SamTransport | None = None
        self._lock = threading.RLock()

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        with self._lock:
            if self._serial is not None:
                return
            try:
                port = self._serial_factory(
                    self.port, self.baudrate, timeout=_POLL_READ_TIMEOUT, write_timeout=1.0
                )
            except (*_PORT_ERRORS, ValueError) as e:
                raise ReaderConnectionError(f"cannot open serial port {self.port}: {e}") from e
            self._serial = port
            self._transport = SamTransport(port, timeout=self.timeout)
            log.info("ID-card reader opened on %s at %d baud", self.port, self.baudrate)

    def close(self) -> None:
        with self._lock:
            port, self._serial, self._transport = self._serial, None, None
            if port is not None:
                try:
                    port.close()
                except _PORT_ERRORS as e:
                    log.debug("closing %s failed: %s", self.port, e)

    def _transact(self, command: bytes, timeout: float | None = None) -> Response:
        with self._lock:
            if self._transport is None:
                self.open()
            request = framing.build_request(command)
            for attempt in range(self.retries + 1):
                assert self._transport is not None
                try:
                    return self._transport.transact(request, timeout)
                except ReaderConnectionError:
                    # The device is gone (unplugged): drop the handle so the next call reopens it.
                    self.close()
                    raise
                except FrameError as e:
                    # Bytes damaged on the line; every command here is idempotent, so ask again.
                    if attempt == self.retries:
                        raise
                    log.debug("resending 0x%s after a damaged answer: %s", bytes(command).hex(), e)
            raise AssertionError("unreachable")

    def sam_status(self) -> None:
        self._transact(framing.SAM_STATUS).raise_for_status()

    def find_card(self) -> bool:
        response = self._transact(framing.FIND_CARD)
        if response.sw3 == Sw3.NO_CARD:
            return False
        response.raise_for_status()
        return True

    def select_card(self) -> bool:
        response = self._transact(framing.SELECT_CARD)
        if response.sw3 in (Sw3.SELECT_FAILED, Sw3.NO_CARD):
            return False
        response.raise_for_status()
        return True

    def read_card(self, *, with_fingerprint: bool = False) -> IdCardRecord:
        command = framing.READ_TEXT_PHOTO_FINGERPRINT if with_fingerprint else framing.READ_TEXT_PHOTO
        response = self._transact(command, self.read_timeout).raise_for_status()
        text, photo = split_read_payload(response.data, with_fingerprint=with_fingerprint)
        return parse_text_block(text, photo)

    def read_appended_address(self) -> str | None:
        response = self._transact(framing.READ_APPENDED_ADDRESS)
        if response.sw3 == Sw3.NO_CONTENT:
            return None
        response.raise_for_status()
        return response.data.decode("utf-16-le", errors="replace").replace("\x00", " ").strip() or None


class FakeIdCardReader(IdCardReader):
    """In-memory reader for kiosk and server tests that need no pseudo-terminal.

    ``place_card``/``remove_card`` move a card; ``fail_next`` makes the next call (or the next call of one
    method) raise; ``unplug`` makes every call fail like a pulled cable until ``plug``.
    """

    def __init__(self, card: bytes | None = None, photo: bytes = b"", *, connected: bool = True) -> None:
        self._card = card
        self._photo = photo
        self._open = False
        self._connected = connected
        self._failures: list[tuple[str | None, DeviceError]] = []
        self.calls: list[str] = []

    def place_card(self, text_block: bytes, photo: bytes = b"") -> None:
        self._card, self._photo = text_block, photo

    def remove_card(self) -> None:
        self._card, self._photo = None, b""

    def fail_next(self, error: DeviceError, call: str | None = None) -> None:
        """Raise ``error`` from the next call, or from the next call of the method named ``call``."""
        self._failures.append((call, error))

    def unplug(self) -> None:
        self._connected = False
        self._open = False

    def plug(self) -> None:
        self._connected = True

    @property
    def card_present(self) -> bool:
        return self._card is not None

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> None:
        if not self._connected:
            raise ReaderConnectionError("fake reader is unplugged")
        self._open = True

    def close(self) -> None:
        self._open = False

    def _enter(self, call: str) -> None:
        self.calls.append(call)
        if not self._connected:
            self._open = False
            raise ReaderConnectionError("fake reader is unplugged")
        if not self._open:
            self.open()
        for index, (target, error) in enumerate(self._failures):
            if target in (None, call):
                del self._failures[index]
                raise error

    def sam_status(self) -> None:
        self._enter("sam_status")

    def find_card(self) -> bool:
        self._enter("find_card")
        return self._card is not None

    def select_card(self) -> bool:
        self._enter("select_card")
        return self._card is not None

    def read_card(self) -> IdCardRecord:
        self._enter("read_card")
        if self._card is None:
            raise NoCardError(Sw3.NO_CARD)
        return parse_text_block(self._card, self._photo)


READERS: dict[str, Callable[..., IdCardReader]] = {
    "sam-serial": SamSerialReader,
    "fake": FakeIdCardReader,
}


def create_reader(name: str, **config: Any) -> IdCardReader:
    """The reader registered under ``name``, built with injected config."""
    try:
        factory = READERS[name]
    except KeyError:
        raise DeviceConfigError(
            f"unknown ID-card reader {name!r}; available: {', '.join(sorted(READERS))}"
        ) from None
    try:
        return factory(**config)
    except TypeError as e:
        raise DeviceConfigError(f"bad config for ID-card reader {name!r}: {e}") from e


__all__ = [
    "BAUD_RATES",
    "READERS",
    "FakeIdCardReader",
    "IdCardReader",
    "SamSerialReader",
    "SamTransport",
    "create_reader",
    "split_read_payload",
]
