"""The chat API contract of DESIGN.md as pydantic models (request, response and their parts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

Channel = Literal["web", "kiosk", "api", "wechat", "wecom"]
Action = Literal["answer", "clarify", "fallback", "handoff", "emergency", "ticket", "smalltalk"]
MAX_TEXT_CHARS = 500


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    session_id: StrictStr | None = Field(default=None, max_length=64)
    text: StrictStr
    channel: Channel = "api"


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
