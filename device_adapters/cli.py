"""``shequ devices …``: read an ID card, run the simulated reader, test a printer, show device health.

Every failure ends in one line on stderr (``错误 / error: …``) and a non-zero exit status; bad arguments
included. Personal data is masked unless ``--show-personal`` is given.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from device_adapters.errors import DeviceError
from device_adapters.idcard.poller import CardEventKind, CardPoller
from device_adapters.idcard.reader import BAUD_RATES, SamSerialReader
from device_adapters.idcard.record import IdCardRecord
from device_adapters.idcard.samples import SAMPLE_FIELDS
from device_adapters.idcard.simulator import SamSimulator, Scenario, SimulatorConfig
from device_adapters.printer.receipts import SAMPLE_KINDS, sample_receipt

# The printer side (python-escpos, ~0.3 s to import) is loaded inside its commands only: every ``shequ``
# invocation imports this module to register the group.

F = TypeVar("F", bound=Callable[..., Any])


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class CliError(click.ClickException):
    """A failure the user can act on, printed as one line."""

    def show(self, file: Any = None) -> None:
        click.echo(f"错误 / error: {_one_line(self.format_message())}", err=True)


class OneLineUsageError(click.UsageError):
    def show(self, file: Any = None) -> None:
        hint = f" (see: {self.ctx.command_path} --help)" if self.ctx is not None else ""
        click.echo(f"错误 / error: {_one_line(self.format_message())}{hint}", err=True)


class DevicesGroup(click.Group):
    """Bad arguments anywhere below ``devices`` become one line, not click's usage block."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OneLineUsageError:
            raise
        except click.UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError":
                raise
            raise OneLineUsageError(e.format_message(), e.ctx) from e


def device_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DeviceError as e:
            raise CliError(f"{e.message_zh} ({e})") from e

    return wrapper  # type: ignore[return-value]


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(cls=DevicesGroup, context_settings={"help_option_names": ["-h", "--help"]})
def devices() -> None:
    """Kiosk devices: ID-card reader and receipt printer."""


# --- ID card --------------------------------------------------------------------------------------------


@devices.group(cls=DevicesGroup)
def idcard() -> None:
    """Resident ID-card reader (SAM serial protocol)."""


def _record_lines(record: IdCardRecord, show_personal: bool) -> list[str]:
    data = record.to_dict(show_personal=show_personal)
    region = record.region
    rows = [
        ("证件类型", data["card_type_name"]),
        ("姓名", data["name"]),
        ("英文姓名", data["english_name"]),
        ("性别", data["gender"]),
        ("民族", data["nation"]),
        ("国籍", data["nationality"]),
        ("出生日期", f"{data['birth_date']}（{data['age']} 岁）"),
        ("住址", data["address"]),
        ("证件号码", data["id_number"]),
        ("通行证号码", data["permit_number"]),
        ("签发机关", data["issuing_authority"]),
        ("有效期限", record.validity_text + ("（已过期）" if data["expired"] else "")),
        ("所属地区", region.label if region.province else None),
    ]
    return [f"{label}：{value}" for label, value in rows if value not in (None, "")]


@idcard.command("read")
@click.option("--port", required=True, help="Serial port of the reader, e.g. /dev/ttyUSB0.")
@click.option("--baud", type=click.Choice([str(b) for b in BAUD_RATES]), default="115200", show_default=True)
@click.option(
    "--wait",
    type=click.FloatRange(min=0.1),
    default=15.0,
    show_default=True,
    help="Seconds to wait for a card.",
)
@click.option(
    "--timeout", type=click.FloatRange(min=0.05), default=1.0, show_default=True, help="Seconds per command."
)
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@click.option("--show-personal", is_flag=True, help="Print name, ID number and address unmasked.")
@device_errors
def idcard_read(
    port: str, baud: str, wait: float, timeout: float, as_json: bool, show_personal: bool
) -> None:
    """Wait for a card on the reader at PORT and print what it holds (masked unless --show-personal)."""
    # Text and photo take ~0.1 s on the wire plus the SAM's own authentication: three command timeouts.
    reader = SamSerialReader(port, int(baud), timeout=timeout, read_timeout=timeout * 3)
    poller = CardPoller(reader, interval=0.2, reconnect_interval=wait + 1)
    try:
        if sys.stderr.isatty():
            click.echo("请把身份证放在读卡器上… / place a card on the reader", err=True)
        for event in poller.events(timeout=wait):
            if event.kind is CardEventKind.READER_DISCONNECTED:
                raise CliError(f"{event.message_zh} ({event.error})")
            if event.kind is CardEventKind.READ_FAILED:
                raise CliError(f"{event.message_zh} ({event.error})")
            if event.kind is CardEventKind.CARD_READ and event.record is not None:
                if show_personal:
                    click.echo("注意：以下内容包含个人信息 / output contains personal data", err=True)
                if as_json:
                    _echo_json(event.record.to_dict(show_personal=show_personal))
                else:
                    click.echo("\n".join(_record_lines(event.record, show_personal)))
                return
    finally:
        poller.stop()
        reader.close()
    raise CliError(f"{wait:g} 秒内没有检测到身份证 / no card within {wait:g} s")


@devices.command("idcard-sim")
@click.option(
    "--scenario",
    type=click.Choice([s.value for s in Scenario]),
    default=Scenario.CARD_PLACED.value,
    show_default=True,
)
@click.option("--card", type=click.Choice(list(SAMPLE_FIELDS)), default="resident", show_default=True)
@click.option(
    "--place-after", type=click.FloatRange(min=0), default=0.0, help="Seconds until the card is placed."
)
@click.option("--remove-after", type=click.FloatRange(min=0), default=None, help="Seconds the card stays.")
@click.option(
    "--delay", type=click.FloatRange(min=0), default=1.5, show_default=True, help="Answer delay (slow)."
)
@click.option("--duration", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
@click.option(
    "--link", type=click.Path(dir_okay=False), default=None, help="Also make a symlink to the port here."
)
@device_errors
def idcard_sim(
    scenario: str,
    card: str,
    place_after: float,
    remove_after: float | None,
    delay: float,
    duration: float | None,
    link: str | None,
) -> None:
    """Run a simulated SAM reader on a pseudo-terminal; prints the port to open, then serves until Ctrl-C."""
    config = SimulatorConfig(
        scenario=Scenario(scenario),
        card=card,
        place_after=place_after,
        remove_after=remove_after,
        delay=delay,
    )
    simulator = SamSimulator(config)
    try:
        port = simulator.start()
    except OSError as e:
        raise CliError(f"cannot create a pseudo-terminal: {e}") from e
    link_path = Path(link) if link else None
    try:
        if link_path is not None:
            if link_path.is_symlink():
                link_path.unlink()
            try:
                link_path.symlink_to(port)
            except OSError as e:
                raise CliError(f"cannot create link {link_path}: {e}") from e
        # The port goes first and alone on stdout (click.echo flushes) so that a script can read it.
        click.echo(port)
        click.echo(
            f"模拟读卡器已启动 / simulated reader on {port} (scenario {scenario}, card {card}); Ctrl-C 结束",
            err=True,
        )
        deadline = None if duration is None else time.monotonic() + duration
        with contextlib.suppress(KeyboardInterrupt):
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        simulator.stop()
        if link_path is not None and link_path.is_symlink() and os.readlink(link_path) == port:
            link_path.unlink()
    click.echo(f"模拟读卡器已停止，共收到 {simulator.request_count} 条命令 / stopped", err=True)


# --- printer --------------------------------------------------------------------------------------------


@devices.group(cls=DevicesGroup)
def printer() -> None:
    """Receipt printer (ESC/POS via python-escpos)."""


PRINTER_HELP = "dummy:, file:/path, tcp://host:port, serial:/dev/ttyX?baud=9600 or usb:VID:PID"


@printer.command("test")
@click.option("--printer", "uri", required=True, help=f"Printer URI: {PRINTER_HELP}.")
@click.option(
    "--paper", type=click.Choice(["58", "80"]), default="58", show_default=True, help="Paper width (mm)."
)
@click.option("--receipt", "kind", type=click.Choice(SAMPLE_KINDS), default="answer", show_default=True)
@click.option("--community", default="示例社区服务中心", show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=3.0, show_default=True)
@click.option("--preview", is_flag=True, help="Also print the receipt as text.")
@device_errors
def printer_test(uri: str, paper: str, kind: str, community: str, timeout: float, preview: bool) -> None:
    """Print a sample receipt on the printer at URI."""
    from device_adapters.printer.preview import preview as to_text
    from device_adapters.printer.printer import DummyReceiptPrinter, open_printer

    device = open_printer(uri, paper=paper, timeout=timeout)
    try:
        data = device.render(sample_receipt(kind, community))
        status = device.print_bytes(data)
    finally:
        device.close()
    if preview or isinstance(device, DummyReceiptPrinter):
        click.echo(to_text(data).text)
    click.echo(f"已打印样张 / printed a sample {kind} receipt ({paper} mm, {len(data)} bytes) on {uri}")
    if status.state.value != "ready":
        click.echo(f"提示 / note: {status.message_zh} ({status.detail or status.state.value})", err=True)


@printer.command("status")
@click.option("--printer", "uri", required=True, help=f"Printer URI: {PRINTER_HELP}.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=3.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@device_errors
def printer_status(uri: str, timeout: float, as_json: bool) -> None:
    """Show whether the printer can print now; exits 1 when it cannot."""
    from device_adapters.printer.printer import open_printer

    device = open_printer(uri, timeout=timeout)
    try:
        status = device.status()
    finally:
        device.close()
    if as_json:
        _echo_json(status.to_dict())
    else:
        click.echo(f"{status.state.value}: {status.message_zh}")
    if not status.can_print:
        sys.exit(1)


# --- health ---------------------------------------------------------------------------------------------


@devices.command("status")
@click.option("--port", default=None, help="Serial port of the ID-card reader.")
@click.option("--baud", type=click.Choice([str(b) for b in BAUD_RATES]), default="115200", show_default=True)
@click.option("--printer", "uri", default=None, help=f"Printer URI: {PRINTER_HELP}.")
@click.option("--json", "as_json", is_flag=True)
@device_errors
def devices_status(port: str | None, baud: str, uri: str | None, as_json: bool) -> None:
    """One health summary of the reader and the printer; exits 1 when something needs attention."""
    from device_adapters.health import check_health
    from device_adapters.printer.printer import open_printer

    if not port and not uri:
        raise OneLineUsageError("give --port, --printer or both", click.get_current_context())
    reader = SamSerialReader(port, int(baud)) if port else None
    device = open_printer(uri) if uri else None
    try:
        health = check_health(reader=reader, printer=device)
    finally:
        if reader is not None:
            reader.close()
        if device is not None:
            device.close()
    if as_json:
        _echo_json(health.to_dict())
    else:
        data = health.to_dict()
        click.echo(f"设备状态 / devices: {'正常 ok' if health.ok else '需要处理 attention'}")
        if port:
            reader_info = data["reader"]
            click.echo(
                f"读卡器 / reader: connected={reader_info['connected']} card={reader_info['card_present']}"
            )  # type: ignore[index]
        if health.printer is not None:
            click.echo(f"打印机 / printer: {health.printer.state.value}, paper={health.printer.paper.value}")
        for message in health.messages_zh:
            click.echo(f"- {message}")
    if not health.ok:
        sys.exit(1)
