"""Dialogue state carried between turns, stored as JSON on the session row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DialogueState:
    topic_id: str | None = None  # the topic of the conversation, for aspect follow-ups
    aspect: str | None = None  # the aspect of it last answered: 那…呢 switches ask the same of another topic
    pending_choices: list[str] = field(default_factory=list)  # entry ids offered in a clarification
    pending_aspect: str | None = None  # … asked about whichever of them is picked (「找谁申请」 before choosing)
    fallbacks_in_a_row: int = 0
    last_reply: dict[str, Any] | None = None  # the last ChatResponse, for repeat / slower
    form: dict[str, Any] | None = None  # report_issue slot filling: what, where, contact, turns
    awaiting: str | None = None  # "ticket_number" or "callback_phone" when the bot asked for one

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DialogueState:
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        # Shallow on purpose: the values are JSON already, and ``asdict`` would deep-copy the last reply.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}
