"""The three multi-step flows of the kiosk: ID-card sign-in, a callback number on the keypad, printing.

Each flow belongs to a :class:`~kiosk_app.controller.KioskController` and uses its navigation, runner and
speech. Personal data stays inside the flow object and is dropped by ``forget``.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from assistant.dialogue import payloads
from device_adapters.idcard import CardEvent, CardEventKind
from kiosk_app import texts
from kiosk_app.catalog import Catalog, page_of
from kiosk_app.receipts import answer_receipt, bulletin_receipt, queue_receipt, work_order_receipt
from kiosk_app.views import (
    BULLETIN,
    IDCARD,
    KEYPAD,
    LIST,
    NOTICE,
    WARNING,
    Action,
    BulletinView,
    CardState,
    IdCardView,
    KeypadView,
    ListView,
    NoticeView,
    Style,
)
from kiosk_app.visitor import Visitor, visitor_from_record
from pii import mask_phone

if TYPE_CHECKING:
    from collections.abc import Callable

    from assistant.dialogue.schemas import ChatResponse
    from device_adapters.printer.receipts import Receipt
    from kiosk_app.controller import KioskController
    from kiosk_app.devices import PrintResult

log = logging.getLogger(__name__)

MAX_PHONE_DIGITS = 12
_PHONE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}\d{7,8})$")


def valid_callback_phone(digits: str) -> bool:
    """A mainland mobile number (11 digits) or a landline with its area code."""
    return bool(_PHONE.match(digits))


class ListFlow:
    """Six choices a screen (four on a short one): a category's questions, the common questions, the other
    categories."""

    def __init__(self, controller: KioskController) -> None:
        self.c = controller

    def open_category(self, code: str, page: int = 0) -> None:
        self.c.with_catalog(lambda catalog: self._show_category(catalog, code, page))

    def _show_category(self, catalog: Catalog, code: str, page: int) -> None:
        category = catalog.category(code)
        if category is None:
            self.c.notice(texts.NOTHING_HERE_TITLE, texts.NOTHING_HERE)
            return
        items, page, pages = page_of(category.questions, page, self.c.list_page_size)
        view = ListView(category.name, texts.CATEGORY_PROMPT,
                        tuple(Action(q.title, "ask", q.entry_id) for q in items), page, pages, "category", code)
        self.show(view, f"{category.name}。{texts.CATEGORY_PROMPT}")

    def open_common(self, page: int = 0) -> None:
        def show(catalog: Catalog) -> None:
            items, shown, pages = page_of(catalog.common_questions(), page, self.c.list_page_size)
            view = ListView(texts.COMMON_TITLE, texts.COMMON_PROMPT,
                            tuple(Action(q.title, "ask", q.entry_id) for q in items), shown, pages, "common")
            self.show(view, view.prompt)

        self.c.with_catalog(show)

    def open_more(self, page: int = 0) -> None:
        def show(catalog: Catalog) -> None:
            items, shown, pages = page_of(catalog.other_categories(), page, self.c.list_page_size)
            view = ListView(texts.MORE_TITLE, texts.MORE_PROMPT if items else texts.NOTHING_HERE,
                            tuple(Action(c.name, "category", c.code) for c in items), shown, pages, "more")
            self.show(view, view.prompt)

        self.c.with_catalog(show)

    def show(self, view: ListView, speech: str) -> None:
        # Paging within one list is not a step 返回 should undo page by page, nor one to announce again.
        current = self.c.current[1] if self.c.current else None
        paging = isinstance(current, ListView) and (current.kind, current.key) == (view.kind, view.key)
        self.c.navigate(LIST, view, display_speech=None if paging else speech, push=not paging)

    def turn(self, argument: str) -> None:
        """``kind:key:page`` from the pager buttons."""
        kind, _, rest = argument.partition(":")
        key, _, page_text = rest.rpartition(":")
        page = int(page_text) if page_text.lstrip("-").isdigit() else 0
        if kind == "category":
            self.open_category(key, page)
        elif kind == "common":
            self.open_common(page)
        elif kind == "notices":
            self.c.bulletins.open_list(page)
        else:
            self.open_more(page)


class CardFlow:
    """Place the card → reading → greeting and suggestions; or why it did not work, in words."""

    def __init__(self, controller: KioskController) -> None:
        self.c = controller
        self.visitor: Visitor | None = None
        self.reader_ok: bool | None = None

    def open(self) -> None:
        if self.visitor is not None:
            self._show_visitor(speak=False)
            return
        if not self.c.devices.has_reader or self.reader_ok is False:
            self.c.navigate(IDCARD, IdCardView(CardState.UNAVAILABLE, texts.CARD_UNAVAILABLE),
                            display_speech=texts.CARD_UNAVAILABLE)
            return
        self.c.navigate(IDCARD, IdCardView(CardState.WAITING, texts.CARD_WAITING),
                        display_speech=texts.CARD_WAITING_SPEECH)

    def on_event(self, event: CardEvent) -> None:
        """A reader event, on the UI thread."""
        kind = event.kind
        if kind is CardEventKind.READER_CONNECTED:
            self.reader_ok = True
            self.c.set_device_notice("reader", "")
            if self._on_card_screen(CardState.UNAVAILABLE):
                self.open()
        elif kind is CardEventKind.READER_DISCONNECTED:
            self.reader_ok = False
            self.c.set_device_notice("reader", texts.READER_PROBLEM_NOTICE)
            if self._on_card_screen(CardState.WAITING, CardState.READING, CardState.UNAVAILABLE):
                self.c.navigate(IDCARD, IdCardView(CardState.UNAVAILABLE, event.message_zh),
                                display_speech=event.message_zh)
        elif kind is CardEventKind.CARD_PLACED:
            self.c.idle.touch()
            self.c.navigate(IDCARD, IdCardView(CardState.READING, texts.CARD_READING),
                            display_speech=event.message_zh)
        elif kind is CardEventKind.CARD_READ and event.record is not None:
            record = event.record
            self.c.run(self.c.client.catalog, lambda catalog: self._signed_in(visitor_from_record(
                record, catalog, self.c.today())), exclusive=False)
        elif kind is CardEventKind.READ_FAILED:
            self.c.navigate(IDCARD, IdCardView(CardState.FAILED, event.message_zh), display_speech=event.message_zh)

    def _signed_in(self, visitor: Visitor) -> None:
        self.visitor = visitor
        self.c.idle.touch()
        log.info("visitor signed in with %d suggestions", len(visitor.suggestions))
        self._show_visitor(speak=True)

    def _show_visitor(self, *, speak: bool) -> None:
        visitor = self.visitor
        assert visitor is not None
        actions = tuple(Action(s.question.title, "ask", s.question.entry_id, hint=s.reason)
                        for s in visitor.suggestions)
        view = IdCardView(CardState.SIGNED_IN, "" if actions else texts.NO_SUGGESTION, visitor.greeting,
                          visitor.masked_name, actions)
        # Only a fixed sentence is spoken: no name, no age, no topic that would reveal them to the room.
        self.c.navigate(IDCARD, view, display_speech=visitor.speech if speak else None)

    def sign_out(self) -> None:
        self.c.end_visit()
        self.c.speech.say_display(texts.SIGNED_OUT)

    def forget(self) -> None:
        self.visitor = None

    def _on_card_screen(self, *states: CardState) -> bool:
        current = self.c.current
        return current is not None and current[0] == IDCARD and current[1].state in states


class KeypadFlow:
    """A callback number typed on big digit keys; shown in full while typing, masked once registered."""

    def __init__(self, controller: KioskController) -> None:
        self.c = controller
        self.digits = ""

    def open(self) -> None:
        self.digits = ""
        self.c.navigate(KEYPAD, KeypadView(texts.KEYPAD_PROMPT), display_speech=texts.KEYPAD_SPEECH)

    def press(self, key: str) -> None:
        if key.isdigit() and len(key) == 1 and len(self.digits) < MAX_PHONE_DIGITS:
            self.digits += key
        self._refresh()

    def delete(self) -> None:
        self.digits = self.digits[:-1]
        self._refresh()

    def _refresh(self, error: str = "") -> None:
        # Updated in place: a key press is not a new screen, and the digits are never spoken.
        view = KeypadView(texts.KEYPAD_PROMPT, self.digits, error)
        self.c.current = (KEYPAD, view)
        self.c.ui.show(KEYPAD, view)

    def confirm(self) -> None:
        if not valid_callback_phone(self.digits):
            error = texts.KEYPAD_EMPTY if not self.digits else texts.KEYPAD_BAD_NUMBER
            self._refresh(error)
            self.c.speech.say_display(error)
            return
        phone, session = self.digits, self.c.session_id
        # Through the chat API, so the kiosk works the same in-process and against the central server.
        self.c.run(lambda: self.c.client.chat(session, payloads.callback(phone)), lambda r: self._answered(r, phone))

    def _answered(self, response: ChatResponse, phone: str) -> None:
        self.c.session_id = response.session_id
        if response.action != "ticket" or response.ticket is None:
            # The assistant did not take it: a number it thinks is wrong (its own wording asks to *say* one, so
            # the keypad's is shown), or the handoff is over.
            error = texts.KEYPAD_BAD_NUMBER if response.action == "handoff" else texts.CALLBACK_FAILED
            self._refresh(error)
            self.c.speech.say_display(error)
            return
        self.digits = ""
        masked = mask_phone(phone)
        self.c.work_order = (response.ticket.number, masked)
        actions = [Action(texts.HOME, "home", style=Style.PRIMARY)]
        if self.c.devices.has_printer:
            actions.insert(0, Action(texts.PRINT_TICKET_BUTTON, "print"))
        # The reply shows the work-order number and the masked number; only a fixed sentence is spoken.
        self.c.navigate(NOTICE, NoticeView(texts.CALLBACK_DONE_TITLE, response.reply.text, tuple(actions)),
                        display_speech=texts.CALLBACK_DONE_SPEECH)

    def forget(self) -> None:
        self.digits = ""


class PrintFlow:
    """打印 on the answer screen and 打印排队号 on the handoff screen."""

    def __init__(self, controller: KioskController) -> None:
        self.c = controller

    def print_current(self) -> None:
        if self.c.screen == NOTICE and self.c.work_order:
            number, masked = self.c.work_order
            session, client = self.c.session_id, self.c.client
            self._print(lambda catalog: work_order_receipt(catalog, number, masked,
                                                           client.status_link(session, number)))
            return
        current = self.c.current
        if current is not None and current[0] in (BULLETIN, WARNING) and isinstance(current[1], BulletinView):
            shown, warning = current[1], current[0] == WARNING
            self._print(lambda catalog: bulletin_receipt(catalog, shown, warning=warning))
            return
        if self.c.screen == "handoff" and self.c.queue_number:
            number, topic = self.c.queue_number, self.c.topic[1] if self.c.topic else None
            self._print(lambda catalog: queue_receipt(catalog, number, topic))
            return
        answer = self.c.answer
        if answer is None:
            return
        self._print(lambda catalog: answer_receipt(catalog, answer.topic_id, answer.title, answer.text))

    def _print(self, build: Callable[[Catalog], Receipt]) -> None:
        def work() -> PrintResult:
            receipt: Receipt = build(self.c.client.catalog())
            return self.c.devices.print_receipt(receipt)

        self.c.run(work, self._printed)

    def _printed(self, result: PrintResult) -> None:
        if result.printed:
            self.c.set_device_notice("printer", "")
            self.c.ui.flash(result.message_zh)
            self.c.speech.say_display(result.message_zh)
            return
        # Paper out, printer offline or none at all: say so plainly and offer a person.
        if result.problem:
            self.c.set_device_notice("printer", texts.PRINTER_PROBLEM_NOTICE)
        actions = (Action(texts.STAFF_BUTTON, "human", style=Style.DANGER),)
        self.c.navigate(NOTICE, NoticeView(texts.DEVICE_PROBLEM_TITLE, result.message_zh, actions, urgent=True),
                        display_speech=result.message_zh)
