"""The chat API contract of DESIGN.md as pydantic models (request, response and their parts)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr
from pydantic_core import PydanticCustomError

Channel = Literal["web", "kiosk", "api", "wechat", "wecom"]
Action = Literal["answer", "clarify", "fallback", "handoff", "emergency", "ticket", "smalltalk"]
MAX_TEXT_CHARS = 500

# NUL cannot be stored in a PostgreSQL text column and a lone surrogate (JSON may carry "\ud800") cannot be
# encoded as UTF-8 at all: such text is refused at the door with a 4xx rather than failing deep inside as a 500.
BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
BAD_CHARACTERS_ERROR = "bad_characters"


def has_bad_characters(value: str) -> bool:
    return BAD_CHARACTERS.search(value) is not None


def refuse_bad_characters(value: str) -> str:
    if has_bad_characters(value):
        raise PydanticCustomError(BAD_CHARACTERS_ERROR, "text contains NUL or a lone surrogate")
    return value


# Any text field the API takes from outside: strict string, no NUL, no lone surrogate.
SafeStr = Annotated[StrictStr, AfterValidator(refuse_bad_characters)]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    session_id: SafeStr | None = Field(default=None, max_length=64)
    text: SafeStr
    channel: Channel = "api"
    # A spoken question's other readings (POST /api/v1/asr's ``alternatives``), best first: tried when ``text``
    # itself is not understood (policy.choose_reading).
    alternatives: list[Annotated[SafeStr, Field(max_length=500)]] = Field(default_factory=list, max_length=3)
    # The community a new conversation belongs to (its code; absent → the default community). A stored
    # conversation keeps the community it started in.
    community: SafeStr | None = Field(default=None, max_length=32)


class Button(BaseModel):
    title: str
    payload: str


class Reply(BaseModel):
    text: str
    speech: str
    buttons: list[Button] = Field(default_factory=list)
    # A hint for speaking devices: "slow" after the resident asked to slow down.
    speech_rate: Literal["normal", "slow"] = "normal"


class IntentInfo(BaseModel):
    name: str
    confidence: float


class TopicInfo(BaseModel):
    id: str
    title: str
    score: float


class TicketInfo(BaseModel):
    number: str
    status: str
    department: str


class ChatResponse(BaseModel):
    session_id: str
    action: Action
    reply: Reply
    intent: IntentInfo | None = None
    topic: TopicInfo | None = None
    aspect: str | None = None
    ticket: TicketInfo | None = None
