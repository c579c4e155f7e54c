"""The find → select → read cycle as a poll loop that reports what happened as events.

Each event carries a sentence in plain Chinese (``message_zh``) that the kiosk can show and speak, so a card
pulled out mid-read, a garbled answer or a pulled cable ends in a clear state rather than an exception.
``poll_once`` is deterministic and drives the tests; ``start``/``run`` wrap it in a thread for the kiosk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum

from device_adapters.errors import (
    CardDataError,
    FrameError,
    NoCardError,
    ReaderConnectionError,
    ReaderError,
    ReaderTimeoutError,
    SamStatusError,
)
from device_adapters.idcard.framing import Sw3
from device_adapters.idcard.reader import IdCardReader
from device_adapters.idcard.record import IdCardRecord

log = logging.getLogger(__name__)


class CardEventKind(Enum):
    READER_CONNECTED = "reader_connected"
    READER_DISCONNECTED = "reader_disconnected"
    CARD_PLACED = "card_placed"
    CARD_READ = "card_read"
    READ_FAILED = "read_failed"
    CARD_REMOVED = "card_removed"


_MESSAGES = {
    CardEventKind.READER_CONNECTED: "读卡器已就绪。",
    CardEventKind.CARD_PLACED: "正在读卡，请不要移动身份证。",
    CardEventKind.CARD_READ: "读卡成功。",
    CardEventKind.CARD_REMOVED: "身份证已取走。",
}
REMOVED_MID_READ_ZH = "身份证拿开了，读卡没有完成。请把身份证放回感应区，不要移动。"
READER_SILENT_ZH = "读卡器没有响应，请联系工作人员。"


@dataclass(frozen=True)
class CardEvent:
    kind: CardEventKind
    message_zh: str
    record: IdCardRecord | None = None
    error: ReaderError | None = None

    @classmethod
    def of(cls, kind: CardEventKind, **kwargs: object) -> CardEvent:
        return cls(kind, _MESSAGES[kind], **kwargs)  # type: ignore[arg-type]


class CardPoller:
    """Polls a reader and turns its answers into ``CardEvent``s.

    ``absent_polls``: consecutive "no card" answers before a card counts as removed (a card at the edge of
    the field flickers). ``silent_polls``: consecutive unanswered polls before the reader counts as gone.
    """

    def __init__(
        self,
        reader: IdCardReader,
        *,
        interval: float = 0.3,
        read_attempts: int = 3,
        absent_polls: int = 2,
        silent_polls: int = 3,
        reconnect_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if read_attempts < 1 or absent_polls < 1 or silent_polls < 1:
            raise ValueError("read_attempts, absent_polls and silent_polls must be at least 1")
        self.reader = reader
        self.interval = interval
        self.read_attempts = read_attempts
        self.absent_polls = absent_polls
        self.silent_polls = silent_polls
        self.reconnect_interval = reconnect_interval
        self._clock = clock
        self._connected: bool | None = None
        self._next_reconnect = 0.0
        self._card_present = False
        self._read_done = False
        self._absent = 0
        self._silent = 0
        self._probe_select = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def reader_connected(self) -> bool | None:
        """``None`` until the first poll."""
        return self._connected

    @property
    def card_present(self) -> bool:
        return self._card_present

    # --- one step ---------------------------------------------------------------------------------------

    def poll_once(self) -> list[CardEvent]:
        events: list[CardEvent] = []
        if not self._connected and not self._connect(events):
            return events
        try:
            present = self._card_in_field()
        except ReaderConnectionError as e:
            self._lose_reader(e, events)
            return events
        except ReaderError as e:
            # One garbled or unanswered poll is noise; several in a row mean the reader is gone.
            self._silent += 1
            log.debug("poll %d without a usable answer: %s", self._silent, e)
            if self._silent >= self.silent_polls:
                self._lose_reader(ReaderTimeoutError(str(e), message_zh=READER_SILENT_ZH), events)
            return events
        self._silent = 0
        if present:
            self._absent = 0
            if not self._card_present:
                self._card_present, self._read_done = True, False
                events.append(CardEvent.of(CardEventKind.CARD_PLACED))
            if not self._read_done:
                self._read_done = True
                try:
                    events.append(self._read())
                except ReaderConnectionError as e:
                    self._lose_reader(e, events)
        elif self._card_present:
            self._absent += 1
            if self._absent >= self.absent_polls:
                self._card_present = False
                events.append(CardEvent.of(CardEventKind.CARD_REMOVED))
        return events

    def _connect(self, events: list[CardEvent]) -> bool:
        if self._connected is False and self._clock() < self._next_reconnect:
            return False
        try:
            self.reader.open()
            self.reader.sam_status()
        except ReaderError as e:
            self._lose_reader(e, events)
            return False
        self._connected, self._silent, self._probe_select = True, 0, True
        events.append(CardEvent.of(CardEventKind.READER_CONNECTED))
        return True

    def _lose_reader(self, error: ReaderError, events: list[CardEvent]) -> None:
        was = self._connected
        self._connected = False
        self._next_reconnect = self._clock() + self.reconnect_interval
        self._silent = 0
        self.reader.close()
        if was is not False:
            log.info("ID-card reader lost: %s", error)
            events.append(CardEvent(CardEventKind.READER_DISCONNECTED, error.message_zh, error=error))
        if self._card_present:
            # Nobody can tell whether the card is still there; the kiosk must not keep showing it.
            self._card_present = False
            events.append(CardEvent.of(CardEventKind.CARD_REMOVED))

    def _card_in_field(self) -> bool:
        probe, self._probe_select = self._probe_select, False
        if self.reader.find_card():
            return True
        if probe or (self._card_present and self._read_done):
            # Many readers answer 寻卡 with "no card" for a card that has already been read while it still
            # lies there (also when it was read before this poller started); a successful 选卡 tells it
            # from a removed card.
            return self.reader.select_card()
        return False

    def _read(self) -> CardEvent:
        error: ReaderError | None = None
        for attempt in range(self.read_attempts):
            try:
                if attempt and not self.reader.find_card():
                    raise NoCardError(Sw3.NO_CARD, message_zh=REMOVED_MID_READ_ZH)
                if not self.reader.select_card():
                    raise NoCardError(Sw3.SELECT_FAILED, message_zh=REMOVED_MID_READ_ZH)
                record = self.reader.read_card()
            except ReaderConnectionError:
                raise
            except NoCardError as e:
                error = (
                    e
                    if e.message_zh == REMOVED_MID_READ_ZH
                    else NoCardError(e.sw3, str(e), message_zh=REMOVED_MID_READ_ZH)
                )
                break
            except (ReaderTimeoutError, FrameError, SamStatusError, CardDataError) as e:
                # A card lifted mid-read, a garbled frame or a bad read: try the whole cycle again.
                log.info("read attempt %d/%d failed: %s", attempt + 1, self.read_attempts, e)
                error = e
                continue
            return CardEvent.of(CardEventKind.CARD_READ, record=record)
        assert error is not None
        return CardEvent(CardEventKind.READ_FAILED, error.message_zh, error=error)

    # --- loop ----------------------------------------------------------------------------------------------

    def events(self, *, timeout: float | None = None) -> Iterator[CardEvent]:
        """Poll until ``stop()`` or ``timeout`` seconds, yielding events as they happen."""
        deadline = None if timeout is None else self._clock() + timeout
        while not self._stop.is_set():
            yield from self.poll_once()
            if deadline is not None and self._clock() >= deadline:
                return
            self._stop.wait(self.interval)

    def run(self, on_event: Callable[[CardEvent], None]) -> None:
        # A bug in one poll or in the callback must not silence the reader for the whole day, nor swallow
        # the events after the one whose callback failed.
        while not self._stop.is_set():
            try:
                events = self.poll_once()
            except Exception:
                log.exception("ID-card poll failed")
                events = []
            for event in events:
                try:
                    on_event(event)
                except Exception:
                    log.exception("ID-card event callback failed on %s", event.kind.value)
            self._stop.wait(self.interval)

    def start(self, on_event: Callable[[CardEvent], None]) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("poller already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, args=(on_event,), name="idcard-poller", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
