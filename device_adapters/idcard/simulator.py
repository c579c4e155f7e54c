"""A simulated SAM reader on a pseudo-terminal: the driver talks to it exactly as to a real serial port.

Scenarios reproduce what a kiosk meets: no card, a card placed (and later removed), a card pulled out
mid-read, corrupted checksums, garbage on the line and slow answers. Tests can also move the card and pull
the "cable" (``unplug``) while the driver is polling.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import threading
import time
import tty
from dataclasses import dataclass
from enum import Enum

from device_adapters.errors import ChecksumError, FrameError
from device_adapters.idcard import framing
from device_adapters.idcard.framing import FrameDecoder, Request, Sw3, build_response
from device_adapters.idcard.samples import sample_photo, sample_text_block

log = logging.getLogger(__name__)


class Scenario(Enum):
    NO_CARD = "no-card"
    CARD_PLACED = "card-placed"
    REMOVED_MID_READ = "removed-mid-read"
    CHECKSUM_ERRORS = "checksum-errors"
    GARBAGE = "garbage"
    SLOW = "slow"


@dataclass
class SimulatorConfig:
    scenario: Scenario = Scenario.CARD_PLACED
    card: str = "resident"  # a sample kind from ``samples.SAMPLE_FIELDS``
    place_after: float = 0.0  # seconds after start until the card lies on the reader
    remove_after: float | None = None  # seconds after placing until it is taken away
    delay: float = 0.5  # ``slow``: seconds before each answer
    corrupt_every: int = 2  # ``checksum-errors``: every n-th answer has a bad checksum (the first included)
    halt_after_read: bool = True  # like many readers: 寻卡 says "no card" for a card already read
    seed: int = 0


class SamSimulator:
    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self._text = sample_text_block(self.config.card)
        self._photo = sample_photo()
        self._random = random.Random(self.config.seed)
        self._master: int | None = None
        self._slave: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._card_at: float | None = None
        self._gone_at: float | None = None
        self._halted = False
        self._responses = 0
        self.port: str = ""
        self.requests: list[bytes] = []  # the latest commands received (CMD PARA), for tests
        self.request_count = 0

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> str:
        """Open the pseudo-terminal and answer in a thread; returns the port path to open."""
        master, slave = os.openpty()
        # Raw mode: the line discipline would otherwise echo bytes and turn 0x0D into 0x0A.
        tty.setraw(slave)
        self._master, self._slave = master, slave
        self.port = os.ttyname(slave)
        now = time.monotonic()
        if self.config.scenario is not Scenario.NO_CARD:
            self._card_at = now + self.config.place_after
            if self.config.remove_after is not None:
                self._gone_at = self._card_at + self.config.remove_after
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="sam-simulator", daemon=True)
        self._thread.start()
        log.info("simulated SAM reader on %s (%s)", self.port, self.config.scenario.value)
        return self.port

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def unplug(self) -> None:
        """Pull the cable: the port stops answering and reads on it fail."""
        self.stop()

    def __enter__(self) -> SamSimulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- the card ---------------------------------------------------------------------------------------

    def place_card(self, kind: str | None = None) -> None:
        with self._lock:
            if kind is not None:
                self._text = sample_text_block(kind)
            self._card_at, self._gone_at, self._halted = time.monotonic(), None, False

    def remove_card(self) -> None:
        with self._lock:
            self._gone_at = time.monotonic()
            self._halted = False

    @property
    def card_present(self) -> bool:
        now = time.monotonic()
        return (
            self._card_at is not None
            and now >= self._card_at
            and (self._gone_at is None or now < self._gone_at)
        )

    # --- serving ----------------------------------------------------------------------------------------

    def _serve(self) -> None:
        decoder = FrameDecoder()
        assert self._master is not None
        while not self._stop.is_set():
            try:
                readable, _, _ = select.select([self._master], [], [], 0.02)
                if not readable:
                    continue
                data = os.read(self._master, 4096)
            except OSError:
                # The slave side has no opener right now (EIO); wait for the driver to reopen.
                time.sleep(0.02)
                continue
            decoder.feed(data)
            while True:
                try:
                    request = decoder.next_request()
                except ChecksumError:
                    self._send(build_response(Sw3.CHECKSUM_ERROR))
                    continue
                except FrameError:
                    self._send(build_response(Sw3.LENGTH_ERROR))
                    continue
                if request is None:
                    break
                self._answer(request)

    def _answer(self, request: Request) -> None:
        self.request_count += 1
        self.requests.append(request.command)
        if len(self.requests) > 10_000:
            # A simulator left running all day must not grow without bound.
            del self.requests[:5_000]
        scenario = self.config.scenario
        if scenario is Scenario.SLOW:
            self._stop.wait(self.config.delay)
        command = request.command
        with self._lock:
            present = self.card_present
            if command in (framing.SAM_STATUS, framing.RESET_SAM):
                frame = build_response(Sw3.SUCCESS)
            elif command == framing.READ_SAM_ID:
                frame = build_response(Sw3.SUCCESS, bytes(range(16)))
            elif command == framing.FIND_CARD:
                found = present and not self._halted
                frame = build_response(Sw3.CARD_FOUND, bytes(4)) if found else build_response(Sw3.NO_CARD)
            elif command == framing.SELECT_CARD:
                frame = (
                    build_response(Sw3.SUCCESS, bytes(8)) if present else build_response(Sw3.SELECT_FAILED)
                )
            elif command in (framing.READ_TEXT_PHOTO, framing.READ_TEXT_PHOTO_FINGERPRINT):
                if not present:
                    frame = build_response(Sw3.READ_FAILED)
                else:
                    frame = self._read_response(command == framing.READ_TEXT_PHOTO_FINGERPRINT)
                    if scenario is Scenario.REMOVED_MID_READ:
                        # The resident lifts the card: part of the answer goes out, then silence.
                        self._gone_at = time.monotonic()
                        self._send(frame[: len(frame) // 3])
                        return
                    self._halted = self.config.halt_after_read
            elif command == framing.READ_APPENDED_ADDRESS:
                frame = build_response(Sw3.NO_CONTENT)
            else:
                frame = build_response(Sw3.COMMAND_ERROR)
        self._send(self._disturb(frame))

    def _read_response(self, with_fingerprint: bool) -> bytes:
        lengths = len(self._text).to_bytes(2, "big") + len(self._photo).to_bytes(2, "big")
        if with_fingerprint:
            lengths += (0).to_bytes(2, "big")  # this card carries no fingerprint
        return build_response(Sw3.SUCCESS, lengths + self._text + self._photo)

    def _disturb(self, frame: bytes) -> bytes:
        scenario = self.config.scenario
        number, self._responses = self._responses, self._responses + 1
        if scenario is Scenario.CHECKSUM_ERRORS and number % self.config.corrupt_every == 0:
            return frame[:-1] + bytes([frame[-1] ^ 0x5A])
        if scenario is Scenario.GARBAGE:
            noise = bytes(self._random.randrange(256) for _ in range(self._random.randrange(1, 24)))
            # A lone preamble with an absurd length, and a fake frame whose checksum is wrong.
            decoys = framing.PREAMBLE + b"\xff\xff" + framing.PREAMBLE[:3]
            fake = framing.PREAMBLE + b"\x00\x05\x00\x00\x90\x01\x00"
            return noise + decoys + fake + frame + noise[:5]
        return frame

    def _send(self, data: bytes) -> None:
        if self._master is None:
            return
        chunk = 64 if self.config.scenario is Scenario.SLOW else len(data)
        try:
            for start in range(0, len(data), chunk):
                os.write(self._master, data[start : start + chunk])
                if chunk < len(data):
                    time.sleep(0.002)
        except OSError as e:
            log.debug("simulator write failed: %s", e)
