"""Community notices and warnings on the kiosk: the board as the server sends it, ordering, and the poller.

No Kivy here. The server's read model (``GET /api/v1/kiosk/bulletins``, or ``context.bulletins`` in-process)
is parsed into :class:`Board`; anything malformed is skipped, never shown half. A :class:`BulletinPoller`
thread asks for it every ``poll_seconds`` with the last ETag (a 304 costs nothing) and hands a changed board
to the UI thread. Failures are logged with the error's type only and retried with a growing delay; the last
board stays on screen meanwhile (warnings still end at their own expiry, see
:mod:`kiosk_app.bulletin_flow`).

Age ordering happens here, on the kiosk: the card holder's age is never sent anywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from accessibility.contrast import AAA_TEXT, contrast_ratio
from accessibility.errors import ColorFormatError
from kiosk_app.background import BackgroundLoop

log = logging.getLogger(__name__)

# Ascending severity; the banner shows the most severe.
LEVELS = ("blue", "yellow", "orange", "red")
LEVEL_LABELS = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
# The kiosk's own colours per level (background, text), each ≥ 7:1: used when the server's are missing or
# do not reach the contrast the kiosk promises.
DEFAULT_COLORS = {
    "blue": ("#0A3D91", "#FFFFFF"),
    "yellow": ("#FFD400", "#000000"),
    "orange": ("#F08000", "#000000"),
    "red": ("#A50000", "#FFFFFF"),
}
DEFAULT_POLL_SECONDS = 2.0
MIN_POLL_SECONDS = 1.0  # whatever the server says: no faster (many kiosks, one server)
MAX_POLL_SECONDS = 60.0  # and no slower: a warning must show within seconds
MAX_BACKOFF_SECONDS = 30.0  # after failures the delay doubles up to this
DEFAULT_REPEAT_SECONDS = 600.0
MIN_REPEAT_SECONDS = 60.0  # a warning repeated more often than this drowns out everything else
TIMEOUT_SECONDS = 5.0


def _text(value: Any, limit: int = 2000) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None  # a time without a zone cannot be compared safely


def safe_colors(level: str, colors: Any) -> tuple[str, str]:
    """(background, text) from the server if they reach 7:1, else the kiosk's own for the level."""
    fallback = DEFAULT_COLORS.get(level, DEFAULT_COLORS["red"])
    if not isinstance(colors, dict):
        return fallback
    background, text = colors.get("background"), colors.get("text")
    try:
        if isinstance(background, str) and isinstance(text, str) and contrast_ratio(text, background) >= AAA_TEXT:
            return background, text
    except ColorFormatError:
        pass
    return fallback


@dataclass(frozen=True)
class WarningItem:
    id: int
    level: str
    title: str
    headline: str = ""
    description: str = ""
    instruction: str = ""
    area: str = ""
    sender_name: str = ""
    assembly_point: str = ""
    banner: bool = True
    expires: dt.datetime | None = None
    expires_text: str = ""
    banner_text: str = ""
    speech: str = ""
    background: str = DEFAULT_COLORS["red"][0]
    text_color: str = DEFAULT_COLORS["red"][1]
    repeat_seconds: float = DEFAULT_REPEAT_SECONDS

    @property
    def severity(self) -> int:
        return LEVELS.index(self.level)

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS[self.level]

    def expired(self, now: dt.datetime) -> bool:
        return self.expires is not None and now >= self.expires

    @classmethod
    def from_json(cls, item: Any) -> WarningItem:
        if not isinstance(item, dict):
            raise ValueError("not an object")
        ident, level = _int_or_none(item.get("id")), item.get("level")
        if ident is None or level not in LEVELS:
            raise ValueError("no id or unknown level")
        title = _text(item.get("title"), 60) or f"{_text(item.get('event'), 20)}{LEVEL_LABELS[level]}预警"
        expires_text = _text(item.get("expires_text"), 40)
        banner_text = _text(item.get("banner_text"), 200) or (
            f"{title}（有效至{expires_text}）" if expires_text else title)
        background, text_color = safe_colors(level, item.get("colors"))
        repeat = item.get("repeat_seconds")
        repeat_seconds = max(float(repeat), MIN_REPEAT_SECONDS) if isinstance(repeat, int | float) and repeat > 0 \
            else DEFAULT_REPEAT_SECONDS
        headline = _text(item.get("headline"), 200)
        return cls(
            id=ident, level=level, title=title, headline=headline, description=_text(item.get("description")),
            instruction=_text(item.get("instruction")), area=_text(item.get("area"), 200),
            sender_name=_text(item.get("sender_name"), 200), assembly_point=_text(item.get("assembly_point"), 200),
            banner=item.get("banner") is not False, expires=_when(item.get("expires")), expires_text=expires_text,
            banner_text=banner_text, speech=_text(item.get("speech")) or headline or title,
            background=background, text_color=text_color, repeat_seconds=repeat_seconds,
        )


@dataclass(frozen=True)
class NoticeItem:
    id: int
    title: str
    body: str = ""
    category: str = ""
    min_age: int | None = None
    max_age: int | None = None
    audience_label: str = "全体居民"
    dates_text: str = ""

    @property
    def targeted(self) -> bool:
        return self.min_age is not None or self.max_age is not None

    def includes_age(self, age: int) -> bool:
        return (self.min_age is None or age >= self.min_age) and (self.max_age is None or age <= self.max_age)

    @classmethod
    def from_json(cls, item: Any) -> NoticeItem:
        if not isinstance(item, dict):
            raise ValueError("not an object")
        ident, title = _int_or_none(item.get("id")), _text(item.get("title"), 60)
        if ident is None or not title:
            raise ValueError("no id or title")
        return cls(id=ident, title=title, body=_text(item.get("body"), 1000), category=_text(item.get("category"), 20),
                   min_age=_int_or_none(item.get("audience_min_age")),
                   max_age=_int_or_none(item.get("audience_max_age")),
                   audience_label=_text(item.get("audience_label"), 30) or "全体居民",
                   dates_text=_text(item.get("dates_text"), 60))


@dataclass(frozen=True)
class Board:
    revision: str = ""
    community: str = ""
    poll_seconds: float = DEFAULT_POLL_SECONDS
    warnings: tuple[WarningItem, ...] = field(default_factory=tuple)
    notices: tuple[NoticeItem, ...] = field(default_factory=tuple)


EMPTY_BOARD = Board()


def _items(raw: Any, parse: Callable[[Any], Any], what: str) -> tuple[Any, ...]:
    parsed, skipped = [], 0
    for item in raw if isinstance(raw, list) else ():
        try:
            parsed.append(parse(item))
        except (ValueError, TypeError):
            skipped += 1
    if skipped:
        log.warning("%d %s on the bulletin board could not be read and are not shown", skipped, what)
    return tuple(parsed)


def parse_board(body: Any) -> Board:
    """The server's JSON → :class:`Board`; ``ValueError`` when it is not a board at all."""
    if not isinstance(body, dict) or not isinstance(body.get("warnings", []), list) \
            or not isinstance(body.get("notices", []), list):
        raise ValueError("not a bulletin board")
    revision = _text(body.get("revision"), 100) or hashlib.sha1(
        json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()
    seconds = body.get("poll_seconds")
    poll = float(seconds) if isinstance(seconds, int | float) and seconds > 0 else DEFAULT_POLL_SECONDS
    warnings = sorted(_items(body.get("warnings"), WarningItem.from_json, "warnings"),
                      key=lambda w: -w.severity)  # stable: the server's newest-first order within a level
    return Board(revision=revision, community=_text(body.get("community"), 32),
                 poll_seconds=min(max(poll, MIN_POLL_SECONDS), MAX_POLL_SECONDS), warnings=tuple(warnings),
                 notices=_items(body.get("notices"), NoticeItem.from_json, "notices"))


def order_for_age(notices: Iterable[NoticeItem], age: int | None) -> list[NoticeItem]:
    """Newest first; for a signed-in resident: notices for their age group first, then those for everyone,
    then those for other age groups."""
    items = list(notices)
    if age is None:
        return items

    def rank(notice: NoticeItem) -> int:
        if not notice.targeted:
            return 1
        return 0 if notice.includes_age(age) else 2

    return sorted(items, key=rank)  # stable: newest first within each group


@dataclass(frozen=True)
class BulletinFetch:
    """One answer of the server: a new board (with its ETag), or ``not_modified`` (HTTP 304)."""

    body: Any = None
    etag: str | None = None
    not_modified: bool = False


class BulletinPoller(BackgroundLoop):
    """``start()`` polls at once and then every ``interval`` seconds on a daemon thread; ``on_board`` gets each
    board whose revision changed (on the poller's thread: the app passes it to Kivy's clock)."""

    thread_name = "kiosk-bulletins"

    def __init__(self, fetch: Callable[[str | None], BulletinFetch], on_board: Callable[[Board], None], *,
                 interval: float = DEFAULT_POLL_SECONDS) -> None:
        super().__init__()
        self._fetch = fetch
        self._on_board = on_board
        self.interval = min(max(interval, MIN_POLL_SECONDS), MAX_POLL_SECONDS)
        self.etag: str | None = None
        self.revision: str | None = None

    def poll_once(self) -> Board | None:
        """One request; the board when it changed, else None (unchanged, 304, or failed and logged)."""
        try:
            result = self._fetch(self.etag)
            board = None if result.not_modified else parse_board(result.body)
        except Exception as e:  # the kiosk keeps what it shows; the message never carries the board's content
            self.failures += 1
            log.warning("bulletins not fetched (%d in a row): %s", self.failures, type(e).__name__)
            return None
        if self.failures:
            log.info("bulletins back after %d failed attempt(s)", self.failures)
        self.failures = 0
        if board is None:
            return None
        self.etag = result.etag or board.revision
        self.interval = board.poll_seconds
        if board.revision == self.revision:
            return None
        self.revision = board.revision
        try:
            self._on_board(board)
        except Exception:
            log.exception("the kiosk could not take the new bulletins")
        return board

    def next_delay(self) -> float:
        if not self.failures:
            return self.interval
        return min(MAX_BACKOFF_SECONDS, self.interval * 2 ** self.failures)

    def run_once(self) -> Board | None:
        return self.poll_once()
