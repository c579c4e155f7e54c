"""What a receipt says: plain dataclasses that the kiosk and the server fill in.

Layout lives in ``layout``; these carry content only. ``printed_at`` left as ``None`` means "now" (the
renderer's clock). Phone numbers of residents are masked when printed; office phone numbers are not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class AnswerReceipt:
    """A summary of an answer: what to prepare and whom to ask, to take home."""

    community: str
    topic: str
    key_points: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    contact: str | None = None  # the office's phone number, printed as is
    online_url: str | None = None  # printed as a QR code
    online_hint: str = "扫码在线办理"
    printed_at: dt.datetime | None = None

    kind = "answer"

    def describe(self) -> str:
        return f"办事指南：{self.topic}"


@dataclass
class QueueReceipt:
    """A queue number for a handoff to a person."""

    community: str
    queue_number: str
    service: str | None = None
    waiting_ahead: int | None = None
    counter: str | None = None  # where to wait, e.g. "2号窗口"
    note: str | None = "请留意叫号，过号请重新取号。"
    printed_at: dt.datetime | None = None

    kind = "queue"

    def describe(self) -> str:
        return f"排队号 {self.queue_number}"


@dataclass
class WorkOrderReceipt:
    """A work order (工单) handed to a department."""

    community: str
    number: str
    summary: str
    department: str | None = None
    status: str = "受理"
    contact_phone: str | None = None  # the resident's phone: masked on the receipt
    deadline: dt.date | None = None
    status_url: str | None = None  # printed as a QR code to the order's status page
    status_hint: str = "扫码查看办理进度"
    printed_at: dt.datetime | None = None

    kind = "work_order"

    def describe(self) -> str:
        return f"工单 {self.number}"


Receipt = AnswerReceipt | QueueReceipt | WorkOrderReceipt
