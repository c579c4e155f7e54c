"""Gathering a report as three slots — what (the problem), where (the place), contact (a phone, or 不留).

Residents give the slots in any order and often several at once (「3栋2单元楼道灯坏了，电话13912345678」): every
message is split into a phone number, place phrases (X小区, X栋X单元, X号楼, X路X号, 门口 …) and the rest, which
is the problem. The form acknowledges what it understood, asks only for what is missing, treats an answer to
「在哪里」 as the place, accepts 「不留」 for the contact, and after ``MAX_TURNS`` messages files what it has
rather than asking on. Only masked text is kept for the transcript; the engine encrypts the contact between turns.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.dialogue import replies
from assistant.dialogue.rules import is_report_opener
from knowledge_base.normalize import normalize
from pii import find_personal_data, mask_phone, mask_text, split_phone

# An opener, then one answer per slot: enough for a resident who gives one thing at a time, and still bounded.
MAX_TURNS = 4
_PHONE_WORDS = re.compile(r"(?:我的|我)?(?:联系)?(?:电话号码|手机号码|电话|手机号|手机|号码|联系方式)(?:是|为)?[:：]?")
_NO_CONTACT = re.compile(r"电话不留|不留电话|不用留|不想留|不方便留|不方便|不留|没有电话|没电话|不要联系")
_CANCEL = re.compile(r"^(算了|不报了|取消|不用了|不要了)")
# 「我要反映楼上漏水」: the opener is no part of the problem (投诉/举报 stay: they set the order's category).
_OPENER_PREFIX = re.compile(r"^(?:你好|您好)?[\s,，]*(?:我|俺)?(?:要|想|想要|需要|来)?(?:反映|反应|报修|上报)"
                            r"(?:一下|一个|个|下)?(?:问题|情况|事情|事)?[\s,，:：]*")
_ISSUE_HINT = re.compile(r"坏|破|漏|渗|堵|没了|不见|丢了|掉|断|乱|吵|臭|脏|堆|占|危险|不亮|黑了|不通|积水|裂|塌|噪音|"
                         r"扰民|违章|违建|垃圾|停水|停电|没水|没电|味|冒|偷|爆|歪|倒")

# --- place phrases ---
_NUM = r"[0-9一二三四五六七八九十百两零〇]+"
# Characters a place name may contain: not punctuation, particles or verbs (「晚上走路」 is not a road).
_NAME = r"(?:(?![的了是有在我你他她这那就都也还又很太把被和跟走跑过上下来去到说看家住])[\u4e00-\u9fffA-Za-z0-9])"
_NAMED = (
    rf"{_NAME}{{0,8}}?(?:小区|花园|新村|公寓|大厦|家园|社区|苑|村|广场|菜市场|市场|公园|学校|医院|商场)",
    rf"(?:这条|那条|{_NAME}{{1,6}}?)(?:大道|巷子|路|街|巷|弄)(?:{_NUM}号)?(?![灯口边面])",
    rf"{_NUM}(?:号楼|栋|幢|座|单元|楼|层|号|室|排)",
)
# Spots that say where but also belong to the problem (「门口那个井盖」, 「楼道的灯」): kept in both.
_SPOT = (r"(?:门口|楼道|楼梯口|楼梯间|楼梯|路口|路边|巷口|楼顶|天台|电梯口|停车场|车库|大门口|大门|绿化带|河边|桥底|桥下|"
         r"后门|前门|门前)(?![灯门窗管])")
_PLACE = re.compile("|".join(f"(?:{p})" for p in _NAMED) + f"|(?P<spot>{_SPOT})")
_GLUE = re.compile(r"^[的里]?$")  # what may join two place phrases into one (「3栋的门口」)
_LEADING = re.compile(r"^(?:我家住在|我家住|我住在|我家在|我住|住在|就在|位于|在|是|那个|这个|上的|里的|上|里|的)+")
_TRIM = " ,，。.!！?？、;；:："


def _clean(text: str) -> str:
    return _LEADING.sub("", text.strip(_TRIM)).strip(_TRIM)


# Phone numbers as pii masks them: 138****5678, 0771-***1234, ***1234.
_MASKED_PHONE = re.compile(r"(?<!\d)(?:1[3-9]\d\*{4}|(?:0\d{2,3}-)?\*{3,4})\d{4}(?:转\d{1,5})?(?!\d)")
# The order keeps its place in clear: staff go there (exports and the console mask it).
_KEEP_PLACE = ("address",)


def _without_phones(text: str) -> str:
    for found in reversed(find_personal_data(text)):
        if found.kind in ("phone", "landline"):
            text = text[:found.start] + " " + text[found.end:]
    return _MASKED_PHONE.sub(" ", text)


def strip_contact(text: str) -> str:
    """``text`` without phone numbers (clear or masked), the words around them and 「不留」."""
    text = _without_phones(text)
    text = _PHONE_WORDS.sub(" ", _NO_CONTACT.sub(" ", text))
    return "，".join(part for part in (_clean(p) for p in re.split(r"[\s,，。;；!！]+", text)) if len(part) >= 2)


def split_place(text: str) -> tuple[str, str]:
    """(place phrases, the problem) of a message: 「三栋门口那个井盖不见了」 → (「三栋门口」, 「门口那个井盖不见了」).

    Named and numbered places (幸福小区, 3栋2单元, 民族大道100号) leave the problem text; spots (门口, 楼道) stay
    in it too, because 「楼道的灯」 is the problem as much as the place.
    """
    spans: list[list[Any]] = []  # [start, end, removable start-end pairs]
    for match in _PLACE.finditer(text):
        cut = [] if match.group("spot") else [(match.start(), match.end())]
        if spans and _GLUE.match(text[spans[-1][1]:match.start()]):
            spans[-1][1] = match.end()
            spans[-1][2].extend(cut)
        else:
            spans.append([match.start(), match.end(), cut])
    if not spans:
        return "", _clean(text)
    place = "".join(_clean(text[a:b]) for a, b, _ in spans)
    parts, last = [], 0
    for a, b in (pair for *_, cuts in spans for pair in cuts):
        parts.append(text[last:a])
        last = b
    parts.append(text[last:])
    # A pronoun left over between places (「我们这条巷子」) is no part of the problem.
    kept = [_clean(part) for part in parts if len(_clean(part)) > 2 or _ISSUE_HINT.search(part)]
    return place, "，".join(part for part in kept if part)


@dataclass
class ReportIssueForm:
    what: str = ""
    where: str = ""
    contact: str | None = None
    contact_declined: bool = False
    turns: int = 0
    messages: list[str] = field(default_factory=list)
    asked: str = ""  # the slot the last question asked for: an answer to 「在哪里」 is the place
    noted: list[str] = field(default_factory=list)  # what this message added, for the acknowledgement

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
        self.noted = []
        text = normalize(message)
        # Only the masked form of a message is kept for the transcript.
        self.messages.append(mask_text(message))
        phone, rest = split_phone(text)
        if phone:
            self.contact = phone
            self.contact_declined = False
            text = _PHONE_WORDS.sub(" ", rest)
            self.noted.append(f"电话{mask_phone(self.contact)}")
        elif _NO_CONTACT.search(text):
            self.contact_declined = True
            text = _PHONE_WORDS.sub(" ", _NO_CONTACT.sub(" ", text))
            self.noted.append("不留电话")
        # What and where become the work order: no ID number, phone or name in clear, no one-character
        # leftovers.
        joined = "，".join(p for p in re.split(r"[\s,，]+", text) if len(p.strip(_TRIM)) >= 2).strip(_TRIM)
        text = mask_text(joined, keep=_KEEP_PLACE)
        if not text or (not self.what and is_report_opener(text)):
            return
        place, rest = split_place(text)
        rest = _OPENER_PREFIX.sub("", rest)
        if self.asked == "where" and not _ISSUE_HINT.search(rest):
            # The answer to 「在哪里」: all of it is the place, even without a place word (「就在我家那里」).
            self._note_where(_clean(text))
            return
        if place:
            self._note_where(place)
        if len(rest) < 2:
            return
        if not self.what:
            self.what = rest
            self.noted.insert(0, rest)
        elif _ISSUE_HINT.search(rest) and rest not in self.what:
            self.what = f"{self.what}；{rest}"
            self.noted.insert(0, rest)

    def _note_where(self, place: str) -> None:
        if not place or place in self.where:
            return
        self.where = f"{self.where}{place}"  # 「幸福小区」 then 「3栋」: the later, finer place adds to the first
        self.noted.append(f"地点{place}")

    def next_question(self) -> str | None:
        if self.turns >= MAX_TURNS:
            return None
        if not self.what:
            self.asked, question = "what", replies.REPORT_ASK_WHAT
        elif not self.where:
            self.asked, question = "where", replies.REPORT_ASK_WHERE
        elif self.contact is None and not self.contact_declined:
            self.asked, question = "contact", replies.REPORT_ASK_CONTACT
        else:
            return None
        if self.noted:
            return replies.REPORT_NOTED.format(noted="，".join(self.noted)) + question.removeprefix("好的，")
        return question

    def description(self) -> str:
        """What the order says the problem is, even when the resident never said it plainly."""
        return self.what or "；".join(m for m in self.messages if not is_report_opener(normalize(m))) or "居民反映问题"

    def transcript(self) -> list[dict[str, str]]:
        return [{"from": "resident", "text": m} for m in self.messages]

