"""Printer URIs and the registry of python-escpos backends, one per URI scheme.

``dummy:`` (``?paper=ok|near_end|out&online=1|0&cover=open``), ``file:/path``, ``tcp://host:port``,
``serial:/dev/ttyX?baud=9600&timeout=1``, ``usb:VID:PID`` (hex, ``?in_ep=82&out_ep=01&timeout=2000``).
Backend classes are imported when chosen, so a missing optional dependency (pyusb) only matters for usb:.
"""

from __future__ import annotations

import importlib.metadata
import logging
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from device_adapters.errors import DeviceConfigError
from device_adapters.printer._escpos import Dummy, Escpos
from device_adapters.printer.status import PaperState

log = logging.getLogger(__name__)

URI_HELP = "dummy:, file:/path, tcp://host:port, serial:/dev/ttyX?baud=9600 or usb:VID:PID"


@dataclass(frozen=True)
class PrinterUri:
    scheme: str
    target: str
    params: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        query = f"?{urllib.parse.urlencode(self.params)}" if self.params else ""
        separator = "://" if self.scheme == "tcp" else ":"
        return f"{self.scheme}{separator}{self.target}{query}"


def parse_printer_uri(uri: str) -> PrinterUri:
    uri = (uri or "").strip()
    scheme, colon, rest = uri.partition(":")
    if not colon or not scheme:
        raise DeviceConfigError(f"printer URI {uri!r} has no scheme; use {URI_HELP}")
    rest, _, query = rest.partition("?")
    try:
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError as e:
        raise DeviceConfigError(f"bad query in printer URI {uri!r}") from e
    scheme = scheme.lower()
    if scheme == "file" and rest.startswith("//"):
        rest = rest[2:]  # file:///dev/usb/lp0 as well as file:/dev/usb/lp0
    if scheme == "tcp":
        if not rest.startswith("//"):
            raise DeviceConfigError(f"network printer URI must look like tcp://host:port, not {uri!r}")
        rest = rest[2:].rstrip("/")
    return PrinterUri(scheme, rest, params)


def _params(uri: PrinterUri, allowed: set[str]) -> dict[str, str]:
    unknown = set(uri.params) - allowed
    if unknown:
        allowed_text = ", ".join(sorted(allowed)) or "none"
        raise DeviceConfigError(
            f"unknown option(s) {', '.join(sorted(unknown))} for a {uri.scheme} printer (allowed: {allowed_text})"
        )
    return uri.params


def _number(value: str, what: str, cast: Callable[[str], Any] = float) -> Any:
    try:
        return cast(value)
    except ValueError:
        raise DeviceConfigError(f"{what} must be a number, not {value!r}") from None


class SimulatedDummy(Dummy):
    """python-escpos' ``Dummy`` that also answers ``DLE EOT`` like a real printer, so that paper-out, cover
    and offline paths run without hardware. Status queries are not kept in ``output``: it holds the jobs."""

    def __init__(
        self,
        *,
        paper: PaperState = PaperState.OK,
        online: bool = True,
        cover_open: bool = False,
        connected: bool = True,
        answers_status: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.paper = paper
        self.online = online
        self.cover_open = cover_open
        self.connected = connected
        self.answers_status = answers_status
        self._query: int | None = None

    def _raw(self, msg: bytes) -> None:
        if not self.connected:
            raise OSError("simulated printer is unplugged")
        if len(msg) == 3 and msg[:2] == b"\x10\x04":
            self._query = msg[2]
            return
        super()._raw(msg)

    def _read(self) -> bytes:
        if not self.connected:
            raise OSError("simulated printer is unplugged")
        query, self._query = self._query, None
        if not self.answers_status or query is None:
            return b""
        out = self.paper is PaperState.OUT
        if query == 1:
            return bytes([0x12 | (0x08 if (out or self.cover_open or not self.online) else 0)])
        if query == 2:
            return bytes(
                [
                    0x12
                    | (0x04 if self.cover_open else 0)
                    | (0x20 if out else 0)
                    | (0 if self.online else 0x40)
                ]
            )
        if query == 4:
            near = 0x0C if self.paper is PaperState.NEAR_END else 0
            return bytes([0x12 | near | (0x60 if out else 0)])
        return b""


def _dummy(uri: PrinterUri, timeout: float) -> Escpos:
    params = _params(uri, {"paper", "online", "cover"})
    try:
        paper = PaperState(params.get("paper", "ok"))
    except ValueError:
        raise DeviceConfigError("dummy paper must be ok, near_end or out") from None
    return SimulatedDummy(
        paper=paper,
        online=params.get("online", "1").lower() not in ("0", "false", "no", "off"),
        cover_open=params.get("cover", "closed").lower() == "open",
    )


def _file(uri: PrinterUri, timeout: float) -> Escpos:
    from escpos.printer import File

    _params(uri, set())
    if not uri.target:
        raise DeviceConfigError("file printer needs a path: file:/dev/usb/lp0")
    return File(devfile=uri.target)


def _tcp(uri: PrinterUri, timeout: float) -> Escpos:
    from escpos.printer import Network

    params = _params(uri, {"timeout"})
    try:
        parts = urllib.parse.urlsplit(f"//{uri.target}")
        host, port = parts.hostname, parts.port or 9100
    except ValueError as e:
        raise DeviceConfigError(f"bad host or port in tcp://{uri.target}") from e
    if not host:
        raise DeviceConfigError("network printer needs a host: tcp://192.168.1.50:9100")
    return Network(host=host, port=port, timeout=_number(params.get("timeout", str(timeout)), "timeout"))


def _serial(uri: PrinterUri, timeout: float) -> Escpos:
    from escpos.printer import Serial

    params = _params(uri, {"baud", "timeout", "dsrdtr"})
    if not uri.target:
        raise DeviceConfigError("serial printer needs a device: serial:/dev/ttyUSB0?baud=9600")
    baud = _number(params.get("baud", "9600"), "baud", int)
    if baud not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
        raise DeviceConfigError(f"unsupported baud rate {baud}")
    return Serial(
        devfile=uri.target,
        baudrate=baud,
        timeout=_number(params.get("timeout", str(min(timeout, 1.0))), "timeout"),
        dsrdtr=params.get("dsrdtr", "1") not in ("0", "false"),
    )


def _usb(uri: PrinterUri, timeout: float) -> Escpos:
    from escpos.printer import Usb

    params = _params(uri, {"in_ep", "out_ep", "timeout"})
    vid, _, pid = uri.target.partition(":")
    try:
        vendor, product = int(vid, 16), int(pid, 16)
        if not (0 < vendor <= 0xFFFF and 0 < product <= 0xFFFF):
            raise ValueError
        in_ep = int(params.get("in_ep", "82"), 16)
        out_ep = int(params.get("out_ep", "01"), 16)
    except ValueError:
        raise DeviceConfigError(
            f"USB printer must be usb:VID:PID in hex (e.g. usb:0416:5011), not usb:{uri.target}"
        ) from None
    usb_timeout = _number(params.get("timeout", str(int(timeout * 1000))), "timeout", int)
    return Usb(idVendor=vendor, idProduct=product, timeout=usb_timeout, in_ep=in_ep, out_ep=out_ep)


BACKENDS: dict[str, Callable[[PrinterUri, float], Escpos]] = {
    "dummy": _dummy,
    "file": _file,
    "tcp": _tcp,
    "serial": _serial,
    "usb": _usb,
}


def check_python_escpos() -> None:
    """The PyPI project ``escpos`` shares the import name with python-escpos but is a different library."""
    try:
        importlib.metadata.distribution("python-escpos")
    except importlib.metadata.PackageNotFoundError:
        raise DeviceConfigError(
            "the installed 'escpos' module is not python-escpos; install python-escpos"
        ) from None


def create_escpos(uri: str | PrinterUri, *, timeout: float = 3.0) -> Escpos:
    """A python-escpos printer object for ``uri`` (not yet connected: python-escpos opens on first use)."""
    parsed = uri if isinstance(uri, PrinterUri) else parse_printer_uri(uri)
    try:
        factory = BACKENDS[parsed.scheme]
    except KeyError:
        raise DeviceConfigError(f"unknown printer type {parsed.scheme!r}; use {URI_HELP}") from None
    check_python_escpos()
    return factory(parsed, timeout)
