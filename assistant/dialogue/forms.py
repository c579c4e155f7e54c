"""Gathering a report (what, where, a contact) in at most three turns.

The first message usually says what is wrong and often where; the form asks only for what is
missing, accepts "不留" for the contact, and after three turns files what it has rather than asking on.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.dialogue import replies
from assistant.dialogue.rules import is_report_opener
from knowledge_base.normalize import normalize

MAX_TURNS = 3
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")
_NO_CONTACT = re.compile(r"不留|不用留|不想留|不方便|没有电话|没电话|算了不留|不要联系")
_CANCEL = re.compile(r"^(算了|不报了|取消|不用了|不要了)")
# Words that name a place in a community: a message containing one already says where.
_PLACE = re.compile(
    r"小区|楼道|楼梯|单元|栋|号楼|幢|门口|路口|路上|街|巷|路|村|广场|公园|停车场|车库|电梯|楼下|楼上|屋顶|"
    r"菜市场|学校|社区|花园|大门|院子|里面|旁边|对面|附近"
)
_ISSUE_HINT = re.compile(r"坏|破|漏|堵|没了|丢了|掉|断|乱|吵|臭|脏|堆|占|危险|不亮|不通|积水|裂|塌|噪音|扰民|违章|垃圾")


@dataclass
class ReportIssueForm:
    what: str = ""
    where: str = ""
    contact: str | None = None
    contact_declined: bool = False
    turns: int = 0
    messages: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, first_message: str) -> ReportIssueForm:
        form = cls()
        form.fill(first_message)
        return form

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportIssueForm:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def cancelled_by(self, normalized: str) -> bool:
        return bool(_CANCEL.match(normalized))

    def fill(self, message: str) -> None:
        self.turns += 1
        text = normalize(message)
        phone = _MOBILE.search(text) or _LANDLINE.search(text)
        if phone:
            self.contact = phone.group(0)
            text = (text[: phone.start()] + text[phone.end():]).strip(" ,，。")
        elif _NO_CONTACT.search(text):
            self.contact_declined = True
            text = _NO_CONTACT.sub("", text).strip(" ,，。")
        # Only the masked form of a message is kept for the transcript.
        self.messages.append(_mask(message))
        if not text or (not self.what and is_report_opener(text)):
            return
        text = _mask(text)  # what and where become the work order: no ID or phone number in clear
        asked_where = bool(self.what) and not self.where
        if not self.what:
            self.what = text
            if _PLACE.search(text):
                self.where = text
        elif asked_where:
            self.where = text
        elif _ISSUE_HINT.search(text):
            self.what = f"{self.what}；{text}"

    def next_question(self) -> str | None:
        if self.turns >= MAX_TURNS:
            return None
        if not self.what:
            return replies.REPORT_ASK_WHAT
        if not self.where:
            return replies.REPORT_ASK_WHERE
        if self.contact is None and not self.contact_declined:
            return replies.REPORT_ASK_CONTACT
        return None

    def transcript(self) -> list[dict[str, str]]:
        return [{"from": "resident", "text": m} for m in self.messages]


def _mask(text: str) -> str:
    from assistant.logging_setup import redact

    return redact(text)
