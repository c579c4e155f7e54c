"""The idle rule: untouched for ``idle_seconds`` → a warning with a spoken countdown → clear everything.

Pure logic with an injected clock, so the countdown is tested without waiting; the app calls
:meth:`IdleTracker.tick` once a second and acts on what it returns. The warning only starts while a visit is
in progress (someone touched the screen since the last reset), so an empty kiosk does not talk to the room.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

# Seconds left at which the countdown is spoken (besides the first announcement).
SPOKEN_AT = frozenset({20, 10, 5})


class IdleEvent(Enum):
    WARN = "warn"  # show the warning screen, speak the first announcement
    COUNTDOWN = "countdown"  # update the number on screen (speak it when ``speak`` is set)
    TIMEOUT = "timeout"  # clear the visit and go home


@dataclass(frozen=True)
class IdleStep:
    event: IdleEvent
    seconds_left: int
    speak: bool = False


class IdleTracker:
    def __init__(self, idle_seconds: float, warning_seconds: int, clock: Callable[[], float] = time.monotonic):
        self.idle_seconds = idle_seconds
        self.warning_seconds = warning_seconds
        self._clock = clock
        self._last_touch = clock()
        self._active = False  # a visit is in progress
        self._warning_since: float | None = None
        self._last_left: int | None = None

    @property
    def warning(self) -> bool:
        return self._warning_since is not None

    @property
    def active(self) -> bool:
        return self._active

    def touch(self) -> None:
        """Any touch: a visit is in progress and the idle time starts again (also cancels a warning)."""
        self._last_touch = self._clock()
        self._active = True
        self._warning_since = None
        self._last_left = None

    def reset(self) -> None:
        """The visit ended (timeout, sign-out, back home after a finished task): nothing to count."""
        self._active = False
        self._warning_since = None
        self._last_left = None
        self._last_touch = self._clock()

    def seconds_left(self) -> int | None:
        if self._warning_since is None:
            return None
        return max(0, self.warning_seconds - int(self._clock() - self._warning_since))

    def tick(self) -> IdleStep | None:
        if not self._active:
            return None
        now = self._clock()
        if self._warning_since is None:
            if now - self._last_touch < self.idle_seconds:
                return None
            self._warning_since = now
            self._last_left = self.warning_seconds
            return IdleStep(IdleEvent.WARN, self.warning_seconds, speak=True)
        left = self.seconds_left() or 0
        if left <= 0:
            self.reset()
            return IdleStep(IdleEvent.TIMEOUT, 0)
        if left == self._last_left:
            return None
        # Speak a milestone only once, even if a slow tick skipped past it.
        crossed = {s for s in SPOKEN_AT if left <= s < (self._last_left or left + 1)}
        self._last_left = left
        return IdleStep(IdleEvent.COUNTDOWN, left, speak=bool(crossed))
