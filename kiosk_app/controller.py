"""The kiosk's behaviour: what each tap does, what is shown and said, and what is forgotten.

No Kivy here. The controller gets its services injected (assistant client, speech, devices, a runner for slow
work) and talks to the screens through :class:`UiPort`; screens call :meth:`KioskController.perform` with
the :class:`~kiosk_app.views.Action` of the button that was tapped, or one of the named methods.

Rules that matter to an 82-year-old:
- every screen speaks when it appears, and the previous speech stops first;
- 返回, 首页 and a way to a person are on every screen; nothing needs typing (tiles, buttons, a keypad);
- a slow or broken assistant, printer or reader ends in a sentence and a way on, never a frozen screen;
- the ID card holder's data lives only in :attr:`visitor`; sign-out and idle clear it from every screen;
- 按住说话 (kiosk_app.voice.VoiceFlow) ends in a confirmation and an ordinary turn, or in a sentence.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from accessibility import SpeechRate
from assistant.dialogue import payloads
from assistant.dialogue.payloads import Command
from assistant.dialogue.schemas import ChatResponse
from kiosk_app import texts
from kiosk_app.bulletin_flow import BulletinFlow
from kiosk_app.calls import CALL_COMMAND, call_speech, call_view, split_calls
from kiosk_app.catalog import PAGE_SIZE, Catalog
from kiosk_app.client import AssistantClient
from kiosk_app.config import KioskConfig
from kiosk_app.devices import KioskDevices
from kiosk_app.errors import KioskError
from kiosk_app.flows import CardFlow, KeypadFlow, ListFlow, PrintFlow
from kiosk_app.idle import IdleEvent, IdleTracker
from kiosk_app.microphone import Microphone
from kiosk_app.runner import InlineRunner, Runner
from kiosk_app.speech import KioskSpeech
from kiosk_app.views import (
    ANSWER,
    CLARIFY,
    CONFIRM,
    HANDOFF,
    HOME,
    IDLE,
    LISTEN,
    NOTICE,
    Action,
    AnswerView,
    ClarifyView,
    HandoffView,
    HomeView,
    IdleView,
    NoticeView,
    Style,
)
from kiosk_app.voice import VoiceFlow
from knowledge_base.models import CATEGORIES

log = logging.getLogger(__name__)

MAX_HISTORY = 20
# Screens 返回 never comes back to: home, the idle warning, and listening and its confirmation (返回 from an
# answer asked by voice goes to where the resident was before they spoke).
NOT_IN_HISTORY = (HOME, IDLE, LISTEN, CONFIRM)


class UiPort(Protocol):
    """What the controller needs of the screens (the Kivy app, or a recorder in tests)."""

    def show(self, screen: str, view: Any) -> None: ...
    # Optional: ``set_warning(view: WarningBannerView | None)`` for the banner above every screen.
    def set_busy(self, busy: bool) -> None: ...
    def flash(self, text: str) -> None: ...
    def apply_theme(self, theme_name: str, larger_text: bool) -> None: ...
    def clear_screens(self) -> None: ...


class KioskController:
    def __init__(
        self,
        config: KioskConfig,
        client: AssistantClient,
        speech: KioskSpeech,
        devices: KioskDevices,
        ui: UiPort,
        *,
        runner: Runner | None = None,
        clock: Callable[[], float] | None = None,
        today: Callable[[], dt.date] = dt.date.today,
        microphone: Microphone | None = None,
        call_soon: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self.config = config
        self.client = client
        self.speech = speech
        self.devices = devices
        self.ui = ui
        self.runner: Runner = runner or InlineRunner()
        self.idle = IdleTracker(config.idle_seconds, config.idle_warning_seconds, *([clock] if clock else []))
        self.today = today
        self.theme_name = config.theme
        self.larger_text = config.larger_text
        self.session_id: str | None = None
        self.current: tuple[str, Any] | None = None
        self.device_notices: dict[str, str] = {}  # "printer" / "reader" → the problem in words
        self._history: list[tuple[str, Any, str]] = []
        self._before_idle: tuple[str, Any, str] | None = None
        self._visit = 0  # bumped when a visit ends: late results of the old visit are dropped
        self._busy = False
        self.topic: tuple[str, str] | None = None  # (entry id, title) of the answer on screen
        self.answer: AnswerView | None = None
        self.queue_number: str | None = None
        self.work_order: tuple[str, str] | None = None  # (number, masked phone) of a callback just registered
        self.cards = CardFlow(self)
        self.keypad = KeypadFlow(self)
        self.printing = PrintFlow(self)
        self.lists = ListFlow(self)
        # ``call_soon`` puts the microphone's reports on the UI thread (Kivy's clock in the app).
        self.voice = VoiceFlow(self, microphone, call_soon)
        self.bulletins = BulletinFlow(self, clock or time.monotonic)
        self.list_page_size = PAGE_SIZE  # the app sets it from the window's height
        self._commands: dict[str, Callable[[str], None]] = {
            "category": lambda code: self.open_category(code),
            "common": lambda _: self.open_common(),
            "more": lambda _: self.open_more(),
            "page": lambda argument: self.lists.turn(argument),
            "ask": self.ask_topic,
            "payload": self.send_payload,
            "aspect": lambda name: self.send(payloads.aspect(name)),
            "human": lambda _: self.call_staff(),
            "home": lambda _: self.go_home(),
            "back": lambda _: self.back(),
            "replay": lambda _: self.replay(),
            "slower": lambda _: self.replay(slow=True),
            "print": lambda _: self.printing.print_current(),
            "callback": lambda _: self.keypad.open(),
            "idcard": lambda _: self.cards.open(),
            "signout": lambda _: self.cards.sign_out(),
            "continue": lambda _: self.continue_use(),
            "end": lambda _: self.end_visit(),
            "listen": lambda _: self.voice.listen(),
            "listen_finish": lambda _: self.voice.finish_now(),
            "heard": lambda text: self.voice.confirm(text or None),
            "language": lambda _: self.voice.toggle_language(),
            "notices": lambda _: self.bulletins.open_list(),
            "bulletin": self.bulletins.open_notice,
            "warning": self.bulletins.open_warning,
            CALL_COMMAND: self.show_call,
        }

    # --- the visitor's data ---
    @property
    def visitor(self):
        return self.cards.visitor

    @property
    def device_notice(self) -> str:
        return "".join(text for text in self.device_notices.values() if text)

    def set_device_notice(self, device: str, text: str) -> None:
        self.device_notices[device] = text

    def check_devices(self) -> None:
        """Refresh the printer notice (the reader reports itself through its events); called periodically."""
        def update(problem: str | None) -> None:
            self.set_device_notice("printer", texts.PRINTER_PROBLEM_NOTICE if problem else "")
            if self.screen == HOME:
                self.ui.show(HOME, self.home_view())

        self.run(self.devices.printer_problem, update, exclusive=False)
        self.voice.check()

    # --- start, navigation ---
    def start(self) -> None:
        self.ui.apply_theme(self.theme_name, self.larger_text)
        self._show(HOME, self.home_view())
        # Build the engine and its indexes while the home screen waits for the first touch.
        self.runner.submit(self.client.warm_up, lambda _: log.info("assistant ready"),
                           lambda e: log.error("assistant warm-up failed: %s", e))
        self.voice.check()  # loads the speech model after the assistant's

    def perform(self, action: Action) -> None:
        handler = self._commands.get(action.command)
        if handler is None:
            log.error("unknown kiosk command %r", action.command)
            return
        handler(action.argument)

    def home_view(self) -> HomeView:
        tiles = [Action(CATEGORIES[c], "category", c) for c in self.config.home_categories]
        tiles += [Action(texts.COMMON_TITLE, "common"), Action(texts.MORE_TITLE, "more")]
        visitor = self.visitor
        return HomeView(tiles=tuple(tiles), reader_available=self.devices.has_reader,
                        greeting=visitor.greeting if visitor else "", notice=self.device_notice,
                        voice=self.voice.available, language=self.voice.language,
                        bulletin=self.bulletins.home_notice())

    def go_home(self) -> None:
        self._history.clear()
        self._show(HOME, self.home_view(), display_speech=texts.HOME_SPEECH if self.idle.active else None)

    def back(self) -> None:
        if not self._history:
            self.go_home()
            return
        screen, view, speech = self._history.pop()
        self._show(screen, view, push=False)
        # Not spoken again on the way back, but 再听一遍 repeats what belongs to this screen.
        self.speech.last_text = speech

    def navigate(self, screen: str, view: Any, *, speech: str | None = None, display_speech: str | None = None,
                 rate: int = SpeechRate.NORMAL, push: bool = True) -> None:
        """Show ``view`` and speak for it (``push``: 返回 comes back to the screen being left)."""
        self._show(screen, view, speech=speech, display_speech=display_speech, rate=rate, push=push)

    def _show(self, screen: str, view: Any, *, speech: str | None = None, display_speech: str | None = None,
              rate: int = SpeechRate.NORMAL, push: bool = True) -> None:
        if push and self.current is not None and self.current[0] not in NOT_IN_HISTORY and screen != HOME:
            self._history.append((*self.current, self.speech.last_text))
            del self._history[:-MAX_HISTORY]
        if screen != LISTEN:
            self.voice.leave()
        self.speech.stop()
        self.current = (screen, view)
        self.ui.show(screen, view)
        if speech:
            self.speech.say(speech, rate)
        elif display_speech:
            self.speech.say_display(display_speech, rate)
        if screen == HOME:
            self.bulletins.home_shown()

    @property
    def screen(self) -> str | None:
        return self.current[0] if self.current else None

    # --- lists of questions (kiosk_app.flows.ListFlow) ---
    def open_category(self, code: str, page: int = 0) -> None:
        self.lists.open_category(code, page)

    def open_common(self, page: int = 0) -> None:
        self.lists.open_common(page)

    def open_more(self, page: int = 0) -> None:
        self.lists.open_more(page)

    def with_catalog(self, then: Callable[[Catalog], None]) -> None:
        self.run(self.client.catalog, then)

    # --- asking the assistant ---
    def ask_topic(self, entry_id: str) -> None:
        def ask(catalog: Catalog) -> None:
            question = catalog.question(entry_id)
            # The title is sent again if the server does not know the id (its KB differs from this one).
            self.send(payloads.topic(entry_id), retry_text=question.title if question else None)

        self.with_catalog(ask)

    def send_payload(self, payload: str) -> None:
        """A reply's button: 「全部通知」 opens the kiosk's own 社区通知 list; anything else goes back to the assistant."""
        if payloads.is_command(payload, Command.notices):
            self.bulletins.open_list()
        else:
            self.send(payload)

    def send(self, text: str, *, retry_text: str | None = None) -> None:
        session = self.session_id
        self.run(lambda: self.client.chat(session, text), lambda r: self._on_reply(r, retry_text))

    def call_staff(self) -> None:
        self.send(payloads.HUMAN)

    def _on_reply(self, response: ChatResponse, retry_text: str | None) -> None:
        self.session_id = response.session_id
        if retry_text and response.action != "answer":
            self.send(retry_text)
            return
        log.info("kiosk turn: %s %s", response.action, response.topic.id if response.topic else "-")
        rate = SpeechRate.from_name(response.reply.speech_rate)
        speech = response.reply.speech or None
        display = None if speech else response.reply.text
        if response.action == "answer":
            self._show_answer(response, speech, display, rate)
        elif response.action == "clarify":
            choices = tuple(Action(b.title, "payload", b.payload) for b in response.reply.buttons)
            self._show(CLARIFY, ClarifyView(texts.CLARIFY_PROMPT, choices), speech=speech,
                       display_speech=display, rate=rate)
        elif response.action == "handoff":
            self._show_handoff(response, rate)
        else:
            urgent = response.action == "emergency"
            calls, buttons = split_calls(response.reply.buttons)  # tel:120 → a big button, never a message
            actions = tuple(Action(texts.STAFF_BUTTON if b.payload == payloads.HUMAN else b.title, "payload", b.payload,
                                   Style.DANGER if b.payload == payloads.HUMAN else Style.BUTTON)
                            for b in buttons)
            title = texts.EMERGENCY_TITLE if urgent else texts.MESSAGE_TITLE
            self._show(NOTICE, NoticeView(title, response.reply.text, actions, urgent=urgent, calls=calls),
                       speech=speech, display_speech=display, rate=rate)

    def show_call(self, number: str) -> None:
        """A call button: the number very large and spoken (the kiosk cannot dial)."""
        self._show(NOTICE, call_view(number), display_speech=call_speech(number))

    def _show_answer(self, response: ChatResponse, speech: str | None, display: str | None, rate: int) -> None:
        topic = response.topic
        title = topic.title if topic else texts.ANSWER_TITLE
        offered = {p.argument for p in map(payloads.parse, (b.payload for b in response.reply.buttons))
                   if p is not None and p.command == Command.aspect}
        if response.aspect:
            offered.add(response.aspect)
            title = f"{title} · {texts.ASPECT_LABELS.get(response.aspect, texts.ASPECT_FALLBACK)}"
        aspects = tuple(
            Action(label, "aspect", name, Style.PRIMARY if name == response.aspect else Style.BUTTON)
            for name, label in texts.ASPECT_LABELS.items() if name in offered
        )
        view = AnswerView(title, response.reply.text, aspects, can_print=self.devices.has_printer,
                          topic_id=topic.id if topic else None, aspect=response.aspect, voice=self.voice.available)
        self.topic = (topic.id, topic.title) if topic else None
        self.answer = view
        self._show(ANSWER, view, speech=speech, display_speech=display, rate=rate)

    def _show_handoff(self, response: ChatResponse, rate: int) -> None:
        ticket = response.ticket
        if ticket is not None:
            self.queue_number = ticket.number
            text = texts.QUEUED.format(number=ticket.number)
            view = HandoffView(text, ticket.number, can_print=self.devices.has_printer,
                               can_cancel=any(b.payload == payloads.CANCEL for b in response.reply.buttons))
        elif any(b.payload == payloads.CANCEL for b in response.reply.buttons):
            # Nobody on duty: the engine waits for a message and a phone number; here the keypad sends the
            # number as ``/callback <digits>``, so nothing has to be typed in Chinese.
            text = texts.STAFF_AWAY
            view = HandoffView(text, None, can_callback=True)
        else:
            # The queue was left (不用了) or the handoff ended: a message, no number.
            notice = NoticeView(texts.STAFF_BUTTON, response.reply.text)
            self._show(NOTICE, notice, display_speech=response.reply.text, rate=rate)
            return
        self._show(HANDOFF, view, display_speech=text, rate=rate)

    def replay(self, slow: bool = False) -> None:
        if not self.speech.replay(slow=slow):
            self.ui.flash(texts.NOTHING_TO_REPEAT)

    # --- running slow work ---
    def run(self, work: Callable[[], Any], then: Callable[[Any], None], *, exclusive: bool = True,
            failed: Callable[[BaseException], None] | None = None) -> None:
        """``work`` off the UI thread, ``then`` (or ``failed``, default :meth:`fail`) back on it, unless the visit
        ended meanwhile.

        ``exclusive`` work (a tap) is ignored while other exclusive work runs: a double tap asks once. A card
        read is not exclusive: it must never be lost to a question still on its way."""
        if exclusive and self._busy:
            log.debug("tap ignored: still busy")
            return
        visit = self._visit
        if exclusive:
            self._set_busy(True)

        def done(result: Any) -> None:
            if visit != self._visit:
                return
            if exclusive:
                self._set_busy(False)
            then(result)

        def on_error(error: BaseException) -> None:
            if visit != self._visit:
                return
            if exclusive:
                self._set_busy(False)
            (failed or self.fail)(error)

        self.runner.submit(work, done, on_error)

    def fail(self, error: BaseException) -> None:
        if isinstance(error, KioskError):
            message = error.message_zh
        else:
            log.error("kiosk action failed: %s: %s", type(error).__name__, error)
            message = texts.GENERIC_PROBLEM
        self.notice(texts.PROBLEM_TITLE, message, urgent=True)

    def notice(self, title: str, text: str, *, urgent: bool = False) -> None:
        actions = (Action(texts.STAFF_BUTTON, "human", style=Style.DANGER),)
        self._show(NOTICE, NoticeView(title, text, actions, urgent=urgent), display_speech=text)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.ui.set_busy(busy)

    @property
    def busy(self) -> bool:
        return self._busy

    # --- display settings ---
    def toggle_high_contrast(self) -> None:
        self.theme_name = "normal" if self.theme_name == "high_contrast" else "high_contrast"
        self.ui.apply_theme(self.theme_name, self.larger_text)
        self.speech.say_display(texts.HIGH_CONTRAST_ON if self.theme_name == "high_contrast" else texts.NORMAL_ON)

    def toggle_larger_text(self) -> None:
        self.larger_text = not self.larger_text
        self.ui.apply_theme(self.theme_name, self.larger_text)
        self.speech.say_display(texts.LARGER_ON if self.larger_text else texts.LARGER_OFF)

    # --- idle ---
    def touched(self) -> None:
        """Any touch on the screen (the idle screen's own buttons decide there)."""
        if self.screen != IDLE:
            self.idle.touch()

    def tick_idle(self) -> None:
        step = self.idle.tick()
        if step is None:
            return
        if step.event is IdleEvent.TIMEOUT:
            log.info("visit ended after the idle countdown")
            self.end_visit()
            return
        view = IdleView(step.seconds_left, texts.IDLE_QUESTION)
        if step.event is IdleEvent.WARN:
            if self.current is not None and self.screen != IDLE:
                self._before_idle = (*self.current, self.speech.last_text)
            self._show(IDLE, view, display_speech=texts.IDLE_SPEECH.format(seconds=step.seconds_left), push=False)
            return
        self.current = (IDLE, view)
        self.ui.show(IDLE, view)
        if step.speak:
            self.speech.say_display(texts.IDLE_COUNTDOWN.format(seconds=step.seconds_left))

    def continue_use(self) -> None:
        self.idle.touch()
        screen, view, speech = self._before_idle or (HOME, self.home_view(), "")
        self._before_idle = None
        if screen == LISTEN:  # the recording was dropped when the warning came
            screen, view, speech = HOME, self.home_view(), ""
        self._show(screen, view, push=False)
        self.speech.last_text = speech  # 再听一遍 repeats the answer again, not the warning

    def end_visit(self) -> None:
        """Forget the visit: the card holder, the conversation, the answers, the number typed, the settings."""
        self._visit += 1
        self._busy = False
        self.ui.set_busy(False)
        self.speech.forget()
        self.voice.forget()
        self.cards.forget()
        self.keypad.forget()
        self.session_id = None
        self.topic = None
        self.answer = None
        self.queue_number = None
        self.work_order = None
        self._history.clear()
        self._before_idle = None
        if (self.theme_name, self.larger_text) != (self.config.theme, self.config.larger_text):
            self.theme_name, self.larger_text = self.config.theme, self.config.larger_text
            self.ui.apply_theme(self.theme_name, self.larger_text)
        self.ui.clear_screens()
        self.idle.reset()
        self.current = None
        self._show(HOME, self.home_view())
