"""The one vocabulary of button payloads and typed commands, made and parsed here only.

A button's payload is the text a channel sends back when the resident taps it: ``/aspect materials``,
``/choose 2``, ``/topic senior-age-allowance``, ``/human``, ``/callback 13800000000``, ``/cancel``,
``/repeat``, ``/slower``; and ``tel:120``, a phone call the channel places itself (a link in the web chat,
a big button on the kiosk), never sent back as text. The engine, the handoff code, the kiosk and the WeChat channel all make them
with the functions below and read them with ``parse``, so a renamed command cannot drift between them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Command(StrEnum):
    aspect = "aspect"  # argument: an aspect name of the current topic
    choose = "choose"  # argument: the 1-based option of a clarification; 0 = none of them
    topic = "topic"  # argument: a knowledge-base entry id (kiosk tiles)
    human = "human"  # ask for a person
    callback = "callback"  # argument: the phone number to call back (kiosk keypad)
    cancel = "cancel"  # leave the queue / do not leave a message
    repeat = "repeat"
    slower = "slower"
    call = "call"  # argument: the number to dial; written ``tel:120``, not ``/call 120``
    notices = "notices"  # 「全部通知」: the community's current notices (the web chat and kiosk open their list)


@dataclass(frozen=True)
class Payload:
    command: Command
    argument: str = ""

    def __str__(self) -> str:
        if self.command == Command.call:
            return f"tel:{self.argument}"
        return f"/{self.command}" + (f" {self.argument}" if self.argument else "")

    @property
    def number(self) -> int | None:
        """The argument as a number (``/choose 2``), or None."""
        return int(self.argument) if self.argument.isdigit() else None


_PAYLOAD = re.compile(r"^/(?P<command>[a-z_]+)(?:[\s:](?P<argument>.*))?$")
# Emergency numbers (110), hotlines (12345) and landlines with area code (07712345678): 3 to 12 digits only,
# so a payload can never dial anything else or carry a URL.
_TEL = re.compile(r"^tel:(?P<number>[0-9]{3,12})$")


def parse(text: str) -> Payload | None:
    """The payload a text carries, or None for ordinary text, unknown commands and malformed ``tel:``."""
    tel = _TEL.match(text.strip())
    if tel:
        return Payload(Command.call, tel.group("number"))
    match = _PAYLOAD.match(text.strip())
    if not match:
        return None
    try:
        command = Command(match.group("command"))
    except ValueError:
        return None
    if command == Command.call:  # only ever written tel:…, whose digits are checked above
        return None
    return Payload(command, (match.group("argument") or "").strip())


def is_command(text: str, command: Command) -> bool:
    payload = parse(text)
    return payload is not None and payload.command == command


def aspect(name: str) -> str:
    return str(Payload(Command.aspect, name))


def choose(option: int) -> str:
    return str(Payload(Command.choose, str(option)))


def topic(entry_id: str) -> str:
    return str(Payload(Command.topic, entry_id))


def callback(phone: str) -> str:
    return str(Payload(Command.callback, phone))


def call(number: str) -> str:
    """``tel:<number>``; a number that is not 3–12 digits is refused (ValueError), never put on a button."""
    if not _TEL.match(f"tel:{number}"):
        raise ValueError(f"not a phone number to call: {number!r}")
    return str(Payload(Command.call, number))


HUMAN = str(Payload(Command.human))
CANCEL = str(Payload(Command.cancel))
REPEAT = str(Payload(Command.repeat))
SLOWER = str(Payload(Command.slower))
NOTICES = str(Payload(Command.notices))
NONE_OF_THEM = choose(0)
