"""Emergency call buttons (``tel:120`` payloads) on a kiosk that cannot dial.

A reply's ``tel:`` button becomes a big button in its own row; tapping it shows 「请用电话拨打 120」 with the
number very large and says it, so the resident (or whoever is beside them) can dial it on a phone.
"""

from __future__ import annotations

from collections.abc import Iterable

from assistant.dialogue import payloads
from assistant.dialogue.payloads import Command
from assistant.dialogue.schemas import Button
from kiosk_app import texts
from kiosk_app.views import Action, NoticeView, Style

CALL_COMMAND = "call"  # the kiosk command of a call button (KioskController.perform)


def call_number(payload: str) -> str | None:
    """The digits of a ``tel:`` payload, or None for every other payload."""
    parsed = payloads.parse(payload)
    return parsed.argument if parsed is not None and parsed.command == Command.call else None


def split_calls(buttons: Iterable[Button]) -> tuple[tuple[Action, ...], list[Button]]:
    """Call buttons as kiosk actions, and the other buttons as they were (in order)."""
    calls: list[Action] = []
    others: list[Button] = []
    for button in buttons:
        number = call_number(button.payload)
        if number is None:
            others.append(button)
        elif all(a.argument != number for a in calls):
            name = texts.CALL_NAMES.get(number)
            label = texts.CALL_BUTTON.format(number=number, name=name) if name else number
            calls.append(Action(label, CALL_COMMAND, number, Style.DANGER))
    return tuple(calls), others


def call_view(number: str) -> NoticeView:
    """The number on its own screen, very large; 返回 goes back to the emergency message."""
    staff = (Action(texts.STAFF_BUTTON, "human", style=Style.DANGER),)
    return NoticeView(texts.EMERGENCY_TITLE, texts.CALL_TEXT.format(number=number), staff, urgent=True,
                      big_number=number)


def call_speech(number: str) -> str:
    return texts.CALL_SPEECH.format(number=number)
