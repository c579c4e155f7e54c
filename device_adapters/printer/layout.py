"""Receipt layouts for 58 mm and 80 mm paper, rendered to ESC/POS bytes through python-escpos' ``Dummy``.

Rendering to bytes first, and sending the bytes afterwards, means a job that cannot print now can be kept and
sent again unchanged, and that layouts are tested without a printer.

Chinese text is encoded as GB18030 here rather than through python-escpos' ``text()``: its automatic
encoding takes a code-page path for strings without ideographs (full-width punctuation, ``¥``) and prints
``?`` for them.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Callable

from device_adapters.errors import DeviceConfigError, PrintJobError
from device_adapters.printer._escpos import Dummy, ImageWidthError
from device_adapters.printer.receipts import AnswerReceipt, QueueReceipt, Receipt, WorkOrderReceipt
from device_adapters.printer.text import PaperWidth, sanitize, wrap
from pii import mask_phone

log = logging.getLogger(__name__)

CHINESE_MODE = b"\x1c\x26"  # FS &: needed by printers that do not start in Chinese mode
INIT = b"\x1b\x40"  # ESC @
MAX_QR_LENGTH = 600


class _Job:
    """Writes one receipt into a Dummy printer, keeping every line within the paper's columns."""

    def __init__(self, printer: Dummy, paper: PaperWidth, qr_native: bool) -> None:
        self.p = printer
        self.paper = paper
        self.columns = paper.columns
        self.qr_native = qr_native

    def line(self, text: str = "") -> None:
        self.p._raw(sanitize(text).encode("gb18030") + b"\n")

    def para(self, text: str, *, first_prefix: str = "", next_prefix: str = "", scale: int = 1) -> None:
        for line in wrap(text, self.columns // scale, first_prefix=first_prefix, next_prefix=next_prefix):
            self.line(line)

    def rule(self, char: str = "-") -> None:
        self.line(char * self.columns)

    def big(self, text: str, scale: int = 2, *, align: str = "center") -> None:
        # GS ! (custom size): ESC ! double width does not enlarge double-byte characters.
        self.p.set(align=align, bold=True, custom_size=True, width=scale, height=scale)
        self.para(text, scale=scale)
        self.p.set(align="left", bold=False, custom_size=True, width=1, height=1)

    def centered(self, text: str, *, bold: bool = False) -> None:
        self.p.set(align="center", bold=bold)
        self.para(text)
        self.p.set(align="left", bold=False)

    def labelled(self, label: str, value: str) -> None:
        self.para(value, first_prefix=f"{label}：", next_prefix="  ")

    def heading(self, text: str) -> None:
        self.p.set(bold=True)
        self.line(text)
        self.p.set(bold=False)

    def qr(self, content: str, hint: str) -> None:
        content = content.strip()
        if len(content) > MAX_QR_LENGTH:
            raise PrintJobError(f"QR content of {len(content)} characters is too long to scan from paper")
        self.p.set(align="center")
        size = 6 if self.paper is PaperWidth.MM80 else 5
        while True:
            try:
                self.p.qr(content, size=size, native=self.qr_native)
                break
            except ImageWidthError:
                if size <= 2:
                    raise PrintJobError("QR code does not fit the paper width") from None
                size -= 1
        self.para(hint)
        self.p.set(align="left")


class ReceiptRenderer:
    """Turns receipt dataclasses into ESC/POS bytes for one paper width."""

    def __init__(
        self,
        paper: PaperWidth | int | str = PaperWidth.MM58,
        *,
        profile: str | None = None,
        chinese_mode: bool = True,
        qr_native: bool = False,
        brand: str = "社区小助手",
        clock: Callable[[], dt.datetime] = dt.datetime.now,
    ) -> None:
        try:
            self.paper = PaperWidth.parse(paper)
        except ValueError as e:
            raise DeviceConfigError(str(e)) from e
        self.profile_name = profile
        self.chinese_mode = chinese_mode
        self.qr_native = qr_native
        self.brand = brand
        self._clock = clock

    def _printer(self) -> Dummy:
        try:
            printer = Dummy(profile=self.profile_name)
        except KeyError as e:
            raise PrintJobError(f"unknown python-escpos printer profile {self.profile_name!r}") from e
        # The media width centres images and keeps python-escpos from printing a warning to stdout. The
        # profile data is shared by the class, so the instance gets its own copy.
        data = copy.deepcopy(printer.profile.profile_data)
        data["media"]["width"]["pixels"] = self.paper.dots
        printer.profile.profile_data = data
        return printer

    def render(self, receipt: Receipt) -> bytes:
        printer = self._printer()
        job = _Job(printer, self.paper, self.qr_native)
        printer._raw(INIT + (CHINESE_MODE if self.chinese_mode else b""))
        if isinstance(receipt, AnswerReceipt):
            self._answer(job, receipt)
        elif isinstance(receipt, QueueReceipt):
            self._queue(job, receipt)
        elif isinstance(receipt, WorkOrderReceipt):
            self._work_order(job, receipt)
        else:
            raise PrintJobError(f"not a receipt: {type(receipt).__name__}")
        self._footer(job, receipt)
        printer.cut()
        return printer.output

    def _header(self, job: _Job, community: str, title: str) -> None:
        job.big(community or self.brand)
        job.centered(title, bold=True)
        job.rule("=")

    def _footer(self, job: _Job, receipt: Receipt) -> None:
        when = receipt.printed_at or self._clock()
        job.rule("-")
        job.labelled("打印时间", when.strftime("%Y-%m-%d %H:%M"))
        job.centered(f"{self.brand} 为您服务")

    def _answer(self, job: _Job, r: AnswerReceipt) -> None:
        self._header(job, r.community, "办事指南")
        job.p.set(bold=True)
        job.labelled("事项", r.topic)
        job.p.set(bold=False)
        if r.key_points:
            job.rule("-")
            job.heading("要点：")
            for number, point in enumerate(r.key_points, 1):
                prefix = f"{number}. "
                job.para(point, first_prefix=prefix, next_prefix=" " * len(prefix))
        if r.materials:
            job.rule("-")
            job.heading("所需材料：")
            for item in r.materials:
                job.para(item, first_prefix="□ ", next_prefix="   ")
        if r.contact:
            job.rule("-")
            job.labelled("咨询电话", r.contact)
        if r.online_url:
            job.qr(r.online_url, r.online_hint)

    def _queue(self, job: _Job, r: QueueReceipt) -> None:
        self._header(job, r.community, "排队取号")
        job.centered("您的号码")
        job.big(r.queue_number, scale=3)
        if r.service:
            job.labelled("办理事项", r.service)
        if r.counter:
            job.labelled("办理地点", r.counter)
        if r.waiting_ahead is not None:
            job.para(f"前面还有 {r.waiting_ahead} 人等候" if r.waiting_ahead else "马上就到您，请留意叫号")
        if r.note:
            job.para(r.note)

    def _work_order(self, job: _Job, r: WorkOrderReceipt) -> None:
        self._header(job, r.community, "工单回执")
        job.p.set(bold=True)
        job.labelled("工单号", r.number)
        job.p.set(bold=False)
        job.labelled("事项", r.summary)
        if r.department:
            job.labelled("承办部门", r.department)
        job.labelled("当前状态", r.status)
        if r.deadline:
            job.labelled("办理时限", r.deadline.strftime("%Y-%m-%d"))
        if r.contact_phone:
            job.labelled("联系电话", mask_phone(r.contact_phone))
        job.para("凭工单号可在自助机或对话中查询办理进度。")
        if r.status_url:
            job.qr(r.status_url, r.status_hint)


def render_receipt(
    receipt: Receipt, paper: PaperWidth | int | str = PaperWidth.MM58, **options: object
) -> bytes:
    return ReceiptRenderer(paper, **options).render(receipt)  # type: ignore[arg-type]
