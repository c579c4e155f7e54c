"""Per-address limit on failed work-order look-ups (the public /t/ page and its JSON twin).

In memory, per worker: with N workers an address gets at most N × the limit in a window, still far below the
10,000 phone endings an attacker would have to try. A shared (Redis or database) limiter can replace
:class:`FailureLimiter` behind the same two methods.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_ADDRESSES = 10_000  # bound on memory: the oldest address is forgotten first


class FailureLimiter:
    """Counts failures per key in a sliding window; ``blocked`` once ``limit`` failures fall inside it."""

    def __init__(self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def blocked(self, key: str) -> bool:
        with self._lock:
            failures = self._recent(key, self.clock())
            return failures is not None and len(failures) >= self.limit

    def fail(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            failures = self._recent(key, now)
            if failures is None:
                if len(self._failures) >= MAX_ADDRESSES:
                    self._failures.pop(next(iter(self._failures)))
                failures = self._failures[key] = deque()
            failures.append(now)
