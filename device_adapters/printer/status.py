"""Printer status as a typed result the kiosk can say in words, decoded from ESC/POS ``DLE EOT`` answers.

``DLE EOT 1`` (printer): bit 3 set = offline. ``DLE EOT 2`` (offline cause): bit 2 cover open, bit 5 stopped
at paper end, bit 6 error. ``DLE EOT 4`` (roll paper sensor): bits 2-3 near end, bits 5-6 paper out. In every
answer bits 1 and 4 are 1 and bits 0 and 7 are 0, which tells a status byte from noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

DLE_EOT_PRINTER = b"\x10\x04\x01"
DLE_EOT_OFFLINE_CAUSE = b"\x10\x04\x02"
DLE_EOT_PAPER = b"\x10\x04\x04"


class PaperState(Enum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"
    UNKNOWN = "unknown"


class PrinterState(Enum):
    READY = "ready"
    PAPER_NEAR_END = "paper_near_end"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"  # answers, but has stopped (error, paper feed button…)
    UNREACHABLE = "unreachable"  # cannot connect at all: unplugged, switched off, wrong address
    UNKNOWN = "unknown"  # connected, but the printer or its link cannot report status


_MESSAGES = {
    PrinterState.READY: "打印机正常。",
    PrinterState.PAPER_NEAR_END: "打印纸快用完了，请通知工作人员更换。",
    PrinterState.PAPER_OUT: "打印机没有纸了，暂时不能打印，请联系工作人员换纸。",
    PrinterState.COVER_OPEN: "打印机盖没有关好，暂时不能打印，请联系工作人员。",
    PrinterState.OFFLINE: "打印机暂停工作了，暂时不能打印，请联系工作人员。",
    PrinterState.UNREACHABLE: "打印机没有连接，暂时不能打印，请联系工作人员。",
    PrinterState.UNKNOWN: "打印机状态无法确认，将尝试打印。",
}


@dataclass(frozen=True)
class PrinterStatus:
    state: PrinterState
    online: bool | None = None
    paper: PaperState = PaperState.UNKNOWN
    detail: str = ""  # for logs and staff pages: the technical reason

    @property
    def can_print(self) -> bool:
        return self.state in (PrinterState.READY, PrinterState.PAPER_NEAR_END, PrinterState.UNKNOWN)

    @property
    def message_zh(self) -> str:
        return _MESSAGES[self.state]

    def to_dict(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "online": self.online,
            "paper": self.paper.value,
            "can_print": self.can_print,
            "message_zh": self.message_zh,
            "detail": self.detail,
        }

    @classmethod
    def unreachable(cls, detail: str) -> PrinterStatus:
        return cls(PrinterState.UNREACHABLE, online=False, detail=detail)

    @classmethod
    def unknown(cls, detail: str) -> PrinterStatus:
        return cls(PrinterState.UNKNOWN, detail=detail)


def _status_byte(answer: bytes | None) -> int | None:
    """The last well-formed status byte of an answer (a late answer to an earlier query may precede it)."""
    for byte in reversed(answer or b""):
        if byte & 0x93 == 0x12:
            return byte
    return None


def paper_state(answer: bytes | None) -> PaperState:
    byte = _status_byte(answer)
    if byte is None:
        return PaperState.UNKNOWN
    if byte & 0x60:
        return PaperState.OUT
    if byte & 0x0C:
        return PaperState.NEAR_END
    return PaperState.OK


def decode_status(
    printer: bytes | None, paper: bytes | None, offline_cause: bytes | None = None
) -> PrinterStatus:
    """Combine the answers to ``DLE EOT 1``, ``4`` and (when offline) ``2`` into one status."""
    printer_byte = _status_byte(printer)
    paper_now = paper_state(paper)
    if printer_byte is None:
        if paper_now is PaperState.OUT:
            return PrinterStatus(PrinterState.PAPER_OUT, paper=paper_now, detail="paper sensor: out")
        return PrinterStatus.unknown("no status answer from the printer")
    online = not printer_byte & 0x08
    if paper_now is PaperState.OUT:
        return PrinterStatus(
            PrinterState.PAPER_OUT, online=online, paper=paper_now, detail="paper sensor: out"
        )
    if not online:
        cause = _status_byte(offline_cause) or 0
        if cause & 0x04:
            return PrinterStatus(PrinterState.COVER_OPEN, online=False, paper=paper_now, detail="cover open")
        if cause & 0x20:
            return PrinterStatus(PrinterState.PAPER_OUT, False, PaperState.OUT, "stopped at paper end")
        detail = "printer error" if cause & 0x40 else "printer offline"
        return PrinterStatus(PrinterState.OFFLINE, online=False, paper=paper_now, detail=detail)
    if paper_now is PaperState.NEAR_END:
        return PrinterStatus(
            PrinterState.PAPER_NEAR_END, online=True, paper=paper_now, detail="paper near end"
        )
    return PrinterStatus(PrinterState.READY, online=True, paper=paper_now)
