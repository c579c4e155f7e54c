"""The one payload vocabulary: made and parsed in one module, and what the kiosk and handoff send."""

from __future__ import annotations

import pytest

from assistant.dialogue import payloads
from assistant.dialogue.payloads import Command, Payload


@pytest.mark.parametrize("text", [payloads.aspect("materials"), payloads.choose(2), payloads.topic("senior-age-allowance"),
                                  payloads.HUMAN, payloads.CANCEL, payloads.callback("13800000000"), payloads.REPEAT,
                                  payloads.SLOWER, payloads.NONE_OF_THEM])
def test_every_payload_made_here_parses_back(text: str) -> None:
    parsed = payloads.parse(text)
    assert parsed is not None and str(parsed) == text


def test_parsing_reads_command_and_argument() -> None:
    assert payloads.parse("/aspect materials") == Payload(Command.aspect, "materials")
    assert payloads.parse("  /choose 2 ") == Payload(Command.choose, "2")
    assert payloads.parse("/choose 2").number == 2 and payloads.parse("/human").number is None
    assert payloads.is_command("/human", Command.human) and not payloads.is_command("转人工", Command.human)


@pytest.mark.parametrize("text", ["高龄津贴", "/unknown thing", "/", "//aspect x", "", "/ASPECT materials"])
def test_ordinary_text_and_unknown_commands_are_not_payloads(text: str) -> None:
    assert payloads.parse(text) is None


def test_the_kiosk_and_the_handoff_send_this_vocabulary() -> None:
    from assistant.handoff.live import CANCEL_BUTTON
    from kiosk_app.catalog import Question
    from kiosk_app.controller import payloads as kiosk_payloads

    assert kiosk_payloads is payloads
    assert CANCEL_BUTTON.payload == payloads.CANCEL
    assert Question("senior-age-allowance", "高龄津贴").payload == payloads.topic("senior-age-allowance")
