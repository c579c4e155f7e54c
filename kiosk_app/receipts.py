"""Receipts the kiosk prints, filled from the knowledge base and the reply on screen (nothing personal)."""

from __future__ import annotations

import re

from device_adapters.printer.receipts import AnswerReceipt, QueueReceipt, WorkOrderReceipt
from kiosk_app import texts
from kiosk_app.catalog import Catalog
from kiosk_app.views import BulletinView
from knowledge_base.profile import UNKNOWN

_SPLIT = re.compile(r"[；;。\n]+")
MAX_MATERIALS = 8


def _pieces(text: str | None) -> list[str]:
    if not text:
        return []
    # A phone or address staff have not filled in yet is left out rather than printed as a gap.
    return [p.strip() for p in _SPLIT.split(text) if p.strip() and UNKNOWN not in p]


def answer_receipt(catalog: Catalog, topic_id: str | None, title: str, shown_text: str) -> AnswerReceipt:
    """The answer on screen, plus the topic's materials and phone numbers when the KB has them."""
    materials = _pieces(catalog.aspect_text(topic_id, "materials")) if topic_id else []
    contact = "；".join(_pieces(catalog.aspect_text(topic_id, "contact"))) if topic_id else ""
    answer = catalog.answer_text(topic_id) if topic_id else None
    key_points = [shown_text.strip()]
    if answer and answer.strip() not in shown_text:
        key_points.insert(0, answer.strip())
    url = catalog.profile.online_service_url.strip() or None
    return AnswerReceipt(
        community=catalog.community_name,
        topic=title.split("·")[0].strip() or "办事指南",
        key_points=[p for p in key_points if p],
        materials=materials[:MAX_MATERIALS],
        contact=contact or None,
        online_url=url if url and url.startswith(("http://", "https://")) else None,
    )


def work_order_receipt(catalog: Catalog, number: str, masked_phone: str,
                       status_url: str | None = None) -> WorkOrderReceipt:
    """A callback registered at the kiosk: the number to ask about, the phone only masked, and the status
    page's link with its token as a QR code (the number alone does not open the page)."""
    return WorkOrderReceipt(community=catalog.community_name, number=number,
                            summary=texts.CALLBACK_RECEIPT_SUMMARY, contact_phone=masked_phone,
                            status_url=status_url)


def queue_receipt(catalog: Catalog, number: str, topic_title: str | None) -> QueueReceipt:
    return QueueReceipt(community=catalog.community_name, queue_number=number, service=topic_title)


def bulletin_receipt(catalog: Catalog, view: BulletinView, *, warning: bool = False) -> AnswerReceipt:
    """A notice or a warning as shown: its title and each labelled line (no layout of its own yet: the answer
    receipt's, with the title saying what it is)."""
    topic = (texts.WARNING_RECEIPT_TOPIC if warning else texts.NOTICE_RECEIPT_TOPIC).format(title=view.title)
    points = [f"{label}：{text}" if label else text for label, text in view.lines if text.strip()]
    return AnswerReceipt(community=catalog.community_name, topic=topic, key_points=points)
