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


def sample_receipt(kind: str, community: str = "示例社区服务中心", now: dt.datetime | None = None) -> Receipt:
    """A receipt with made-up content, for ``printer test`` and screenshots."""
    if kind == "answer":
        return AnswerReceipt(
            community=community,
            topic="高龄津贴申领",
            key_points=[
                "年满80周岁、本地户籍的老年人可以申领，按月发放到本人社保卡。",
                "材料齐全的，社区当场受理。",
            ],
            materials=["本人身份证原件", "户口簿", "本人社会保障卡（银行卡）"],
            contact="0771-12345",
            online_url="https://zwfw.gxzf.gov.cn/",
            printed_at=now,
        )
    if kind == "queue":
        return QueueReceipt(
            community, "A012", service="社保业务咨询", waiting_ahead=3, counter="2号窗口", printed_at=now
        )
    if kind == "work-order":
        return WorkOrderReceipt(
            community=community,
            number="GX20240501-0001",
            summary="楼道灯不亮，需要维修",
            department="物业服务中心",
            contact_phone="13812345678",
            deadline=(now or dt.datetime.now()).date() + dt.timedelta(days=5),
            status_url="https://example.org/shequ/tickets/GX20240501-0001",
            printed_at=now,
        )
    raise ValueError(f"unknown sample receipt {kind!r}; choose answer, queue or work-order")


SAMPLE_KINDS = ("answer", "queue", "work-order")
