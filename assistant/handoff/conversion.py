"""What 转为工单 starts from: the conversation read back as a report (what, where, phone, department).

Staff used to get an empty form, so orders said 联系电话 未留. The form is now prefilled from the resident's
own (masked) messages — the problem, the first place mentioned, the masked phone captured during the chat and
the department the routing rules suggest — and staff edit anything before saving.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from assistant.dialogue.forms import split_place, strip_contact
from assistant.dialogue.rules import is_cancel, is_report_opener, wants_human
from assistant.handoff import conversation
from assistant.handoff.policy import OrderPolicy
from assistant.storage.models import HandoffRequest
from knowledge_base.normalize import normalize

MIN_LINE = 4  # shorter leftovers (「好的」「谢谢」「也行」) say nothing about the problem
MAX_LINES = 6  # the description stays a summary; the transcript goes with the order anyway


@dataclass(frozen=True)
class ConvertDraft:
    description: str
    location: str
    department: str
    contact_masked: str

    def as_form(self) -> dict[str, str]:
        return {"description": self.description, "location": self.location, "department": self.department,
                "category": "", "contact": "", "contact_masked": self.contact_masked}


def _resident_lines(db: Session, request: HandoffRequest) -> list[str]:
    lines = [request.left_message] if request.left_message else []
    for message in conversation.messages(db, request.session_id, 0, limit=1000):
        text = normalize(message["text"]) if message["from"] == "resident" else ""
        if not text or text.startswith("/") or wants_human(text) or is_cancel(text) or is_report_opener(text):
            continue
        line = strip_contact(text)
        if len(line) >= MIN_LINE and line not in lines:
            lines.append(line)
    return lines[-MAX_LINES:]


def draft(db: Session, request: HandoffRequest, policy: OrderPolicy) -> ConvertDraft:
    where, problems = "", []
    for line in _resident_lines(db, request):
        place, problem = split_place(line)
        where = where or place
        if problem and problem not in problems:
            problems.append(problem)
    description = "；".join(problems)[:2000]
    department = policy.route(description=description).department
    return ConvertDraft(description, where[:500], department, getattr(request, "contact_masked", "") or "")
