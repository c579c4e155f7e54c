"""Notices and warnings on the kiosk's screens: the warning banner, announcing, the 社区通知 list and pages.

Part of the :class:`~kiosk_app.controller.KioskController` (no Kivy). The app hands every changed
:class:`~kiosk_app.bulletins.Board` to :meth:`BulletinFlow.update` on the UI thread and calls
:meth:`BulletinFlow.tick` once a second.

- A warning with ``banner`` is shown above every screen (the most severe, 另有N条预警 for the rest) until it
  leaves the board or its own expiry passes, even when the server cannot be reached.
- It is said twice when it arrives (a new id, or the same warning at another level), then once every
  ``repeat_seconds`` while in force; never while the resident is speaking into the microphone (it would be
  recorded): it waits for the next tick.
- The newest notice is read out the first time the home screen shows it, once per kiosk run.
- A resident signed in with an ID card sees the notices for their age group first (the age stays here).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from assistant.clock import now_utc
from kiosk_app import texts
from kiosk_app.bulletins import EMPTY_BOARD, Board, NoticeItem, WarningItem, order_for_age
from kiosk_app.catalog import PAGE_SIZE, SHORT_SCREEN_PAGE_SIZE, page_of
from kiosk_app.views import (
    BULLETIN,
    HOME,
    LIST,
    LISTEN,
    WARNING,
    Action,
    BulletinView,
    ListView,
    WarningBannerView,
)

if TYPE_CHECKING:
    from kiosk_app.controller import KioskController

log = logging.getLogger(__name__)

NOTICES_KIND = "notices"  # ListView.kind of the 社区通知 list


class BulletinFlow:
    def __init__(self, controller: KioskController, clock: Callable[[], float],
                 wall_clock: Callable[[], dt.datetime] = now_utc) -> None:
        self.c = controller
        self.board: Board = EMPTY_BOARD
        self.read_notices: set[int] = set()  # notice ids read out on the home screen in this kiosk run
        self._spoken: dict[int, tuple[str, float]] = {}  # warning id → (level, when it was last said)
        self._banner: WarningBannerView | None = None
        self.clock = clock  # when a warning was last said (monotonic)
        self.wall_clock = wall_clock  # expiry (tests set it)

    # --- the board ---
    def update(self, board: Board) -> None:
        """A changed board, on the UI thread."""
        self.board = board
        log.info("bulletins: %d warning(s), %d notice(s)", len(board.warnings), len(board.notices))
        self.tick()
        c, current = self.c, self.c.current
        if c.screen == HOME:
            view = c.home_view()
            c.current = (HOME, view)
            c.ui.show(HOME, view)
            self.home_shown()
        elif c.screen == LIST and current is not None and isinstance(current[1], ListView) \
                and current[1].kind == NOTICES_KIND:
            self.open_list(current[1].page, refresh=True)

    def warnings(self) -> list[WarningItem]:
        """The warnings in force that get the banner, most severe first."""
        now = self.wall_clock()
        return [w for w in self.board.warnings if w.banner and not w.expired(now)]

    def notices(self) -> list[NoticeItem]:
        visitor = self.c.visitor
        return order_for_age(self.board.notices, visitor.age if visitor is not None else None)

    def tick(self) -> None:
        """Once a second: the banner follows expiries, and warnings due are said."""
        warnings = self.warnings()
        banner = self._banner_view(warnings)
        if banner != self._banner:
            self._banner = banner
            set_warning = getattr(self.c.ui, "set_warning", None)
            if set_warning is not None:
                set_warning(banner)
        self._announce(warnings)

    @property
    def banner(self) -> WarningBannerView | None:
        return self._banner

    @staticmethod
    def _banner_view(warnings: list[WarningItem]) -> WarningBannerView | None:
        if not warnings:
            return None
        top = warnings[0]
        more = texts.WARNING_MORE.format(count=len(warnings) - 1) if len(warnings) > 1 else ""
        return WarningBannerView(top.id, top.banner_text, more, top.background, top.text_color)

    def _announce(self, warnings: list[WarningItem]) -> None:
        current = {w.id for w in warnings}
        for ident in list(self._spoken):
            if ident not in current:  # cancelled or expired: should it come back, it is new again
                del self._spoken[ident]
        if not warnings or self.c.screen == LISTEN:
            return
        now = self.clock()
        parts: list[str] = []
        for w in warnings:
            seen = self._spoken.get(w.id)
            if seen is None or seen[0] != w.level:
                parts.append(f"{_sentence(w.speech)}{texts.WARNING_AGAIN}{_sentence(w.speech)}")
            elif now - seen[1] >= w.repeat_seconds:
                parts.append(w.speech)
            else:
                continue
            self._spoken[w.id] = (w.level, now)
        if parts:
            log.info("warning said (%d)", len(parts))
            self.c.speech.announce("".join(_sentence(p) for p in parts))

    # --- the home screen ---
    def home_notice(self) -> str:
        notices = self.notices()
        return notices[0].title if notices else ""

    def home_shown(self) -> None:
        """The home screen is on: its notice banner is read out the first time it shows that notice."""
        notices = self.notices()
        if not notices or notices[0].id in self.read_notices:
            return
        self.read_notices.add(notices[0].id)
        # After the home screen's own sentence, not over it.
        self.c.speech.announce(texts.NOTICE_BANNER_SPEECH.format(title=notices[0].title), interrupt=False)

    # --- the 社区通知 list and one notice ---
    def open_list(self, page: int = 0, *, refresh: bool = False) -> None:
        notices = self.notices()
        # Each notice has a second line (dates, audience): under a warning banner two rows a page, not three.
        size = min(self.c.list_page_size, SHORT_SCREEN_PAGE_SIZE) if self._banner else self.c.list_page_size
        items, page, pages = page_of(notices, page, size)
        actions = tuple(Action(n.title, "bulletin", str(n.id), hint=_hint(n)) for n in items)
        # A short screen (two rows a page) leaves the prompt to the speech: a warning above it and each notice's
        # second line (dates, audience) need the room.
        prompt = texts.NOTICES_PROMPT if self.c.list_page_size >= PAGE_SIZE else ""
        view = ListView(texts.NOTICES_TITLE, prompt if notices else texts.NO_NOTICES, actions, page, pages,
                        NOTICES_KIND, page_size=size)
        if refresh:  # new notices while the list is open: redrawn in place, not announced again
            self.c.current = (LIST, view)
            self.c.ui.show(LIST, view)
            return
        self.c.lists.show(view, f"{texts.NOTICES_TITLE}。{texts.NOTICES_PROMPT if notices else texts.NO_NOTICES}")

    def open_notice(self, argument: str) -> None:
        notice = next((n for n in self.board.notices if str(n.id) == argument), None)
        if notice is None:  # it ended between the list and the tap
            self.c.notice(texts.NOTHING_HERE_TITLE, texts.NO_NOTICES)
            return
        lines = [(texts.NOTICE_DATES, notice.dates_text), (texts.NOTICE_AUDIENCE, notice.audience_label),
                 (texts.NOTICE_CATEGORY, notice.category),
                 ("", notice.body)]
        view = BulletinView(notice.title, tuple((label, text) for label, text in lines if text),
                            can_print=self.c.devices.has_printer, item_id=notice.id)
        speech = "。".join(p for p in (notice.title, notice.dates_text, notice.body) if p)
        self.c.navigate(BULLETIN, view, display_speech=speech)

    def open_warning(self, argument: str) -> None:
        warning = next((w for w in self.board.warnings if str(w.id) == argument), None)
        if warning is None or warning.expired(self.wall_clock()):
            self.c.go_home()
            return
        lines = [("", warning.headline), (texts.WARNING_INSTRUCTION, warning.instruction),
                 (texts.WARNING_ASSEMBLY, warning.assembly_point), (texts.WARNING_EXPIRES, warning.expires_text),
                 (texts.WARNING_AREA, warning.area), (texts.WARNING_SENDER, warning.sender_name)]
        view = BulletinView(warning.title, tuple((label, text) for label, text in lines if text),
                            warning.background, warning.text_color, can_print=self.c.devices.has_printer,
                            item_id=warning.id)
        # Opened on purpose: said in full now; the repeat timer starts again from here.
        self._spoken[warning.id] = (warning.level, self.clock())
        self.c.navigate(WARNING, view, display_speech=warning.speech)


def _hint(notice: NoticeItem) -> str:
    return " · ".join(p for p in (notice.dates_text, notice.audience_label) if p)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith(("。", "！", "？", ".", "!", "?")) else f"{text}。"
