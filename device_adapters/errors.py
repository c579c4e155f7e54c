"""Exceptions of ``device_adapters``: one base, every failure a kiosk can meet as its own type.

Each exception carries ``message_zh``: a short sentence in plain Chinese that the kiosk can show and speak
to a resident. ``str(exc)`` is for logs and never contains personal information.

    DeviceError
    ├── DeviceConfigError            bad URI, unknown backend name, bad port or baud rate
    ├── ReaderError
    │   ├── ReaderConnectionError    port missing, cable unplugged, I/O error
    │   ├── ReaderTimeoutError       the reader did not answer in time
    │   ├── FrameError               bytes that are not a valid SAM frame
    │   │   └── ChecksumError        a frame whose XOR checksum does not match
    │   ├── SamStatusError           the reader answered with a failure SW3 code (``.sw3``)
    │   │   ├── NoCardError              0x80 no card found
    │   │   ├── SelectFailedError        0x81 card could not be selected
    │   │   ├── CardReadError            0x40 wrong card, 0x41 read failed
    │   │   ├── CardAuthError            0x31 0x32 0x33 0x47 authentication/verification failed
    │   │   ├── RequestRejectedError     0x10 0x11 0x21 the reader rejected our request frame
    │   │   ├── SamFaultError            0x24 0x60 0x66 and unknown codes: SAM module fault
    │   │   └── NoContentError           0x91 no such content (e.g. no appended address)
    │   └── CardDataError            the text block cannot be parsed or its ID number is invalid
    └── PrinterError
        ├── PrinterConnectionError   cannot reach the printer, or it went away while printing
        ├── PrinterNotReadyError     reachable but cannot print now (``.status``: paper out, cover open…)
        └── PrintJobError            a job could not be rendered or queued
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from device_adapters.printer.status import PrinterStatus


class DeviceError(Exception):
    """Base of every error raised by ``device_adapters``."""

    default_message_zh: ClassVar[str] = "设备出现问题，请联系工作人员。"

    def __init__(self, message: str = "", *, message_zh: str | None = None) -> None:
        super().__init__(message or self.__class__.__name__)
        self.message_zh = message_zh or self.default_message_zh


class DeviceConfigError(DeviceError):
    default_message_zh = "设备配置有误，请联系工作人员。"


# --- ID-card reader ---------------------------------------------------------------------------------


class ReaderError(DeviceError):
    default_message_zh = "读卡器出现问题，请联系工作人员。"


class ReaderConnectionError(ReaderError):
    default_message_zh = "读卡器没有连接，请联系工作人员。"


class ReaderTimeoutError(ReaderError):
    default_message_zh = "读卡器没有响应，请稍后再试。"


class FrameError(ReaderError):
    default_message_zh = "读卡数据有误，请把身份证放稳后重试。"


class ChecksumError(FrameError):
    pass


class SamStatusError(ReaderError):
    """The reader answered, with a status word that means failure."""

    def __init__(self, sw3: int, message: str = "", *, message_zh: str | None = None) -> None:
        super().__init__(message or f"SAM status 0x{sw3:02X}", message_zh=message_zh)
        self.sw3 = sw3


class NoCardError(SamStatusError):
    default_message_zh = "没有检测到身份证，请把身份证放在感应区。"


class SelectFailedError(SamStatusError):
    default_message_zh = "身份证没有放稳，请重新放置。"


class CardReadError(SamStatusError):
    default_message_zh = "读卡失败，请把身份证放稳，不要移动。"


class CardAuthError(SamStatusError):
    default_message_zh = "身份证验证未通过，请重新放置或联系工作人员。"


class RequestRejectedError(SamStatusError):
    default_message_zh = "读卡器通信出错，请稍后再试。"


class SamFaultError(SamStatusError):
    default_message_zh = "读卡器故障，请联系工作人员。"


class NoContentError(SamStatusError):
    default_message_zh = "证件上没有这项信息。"


class CardDataError(ReaderError):
    default_message_zh = "证件信息读取不完整，请重新放置身份证。"


# --- receipt printer --------------------------------------------------------------------------------


class PrinterError(DeviceError):
    default_message_zh = "打印机出现问题，请联系工作人员。"


class PrinterConnectionError(PrinterError):
    default_message_zh = "打印机没有连接，暂时不能打印，请联系工作人员。"


class PrinterNotReadyError(PrinterError):
    """The printer answered but cannot print now; ``status`` says why in words."""

    def __init__(self, status: PrinterStatus, message: str = "") -> None:
        super().__init__(message or f"printer not ready: {status.state.value}", message_zh=status.message_zh)
        self.status = status


class PrintJobError(PrinterError):
    default_message_zh = "打印内容有误，请联系工作人员。"
