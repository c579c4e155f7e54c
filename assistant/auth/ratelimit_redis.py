"""The shared rate limits in Redis (``SHEQU_RATE_LIMIT_URL=redis://host:port/db`` or ``rediss://…``).

The arithmetic is ``SharedRateLimiter``'s (GCRA, see ``assistant/auth/ratelimit.py``): one number per key, the
moment its counter is empty again. Here the read-modify-write is one Lua script, which Redis runs atomically,
and the moment is Redis's own clock (``TIME``), so every worker and every node counts on one clock. The key
expires exactly when its counter is empty, so Redis holds nothing for addresses that went quiet.

While Redis cannot be reached, each attempt is counted by the database limiter instead: an outage of the cache
must neither open the door nor turn sign-ins into errors. One line is logged when Redis goes away and one when
it is back, and Redis is not tried again for ``RETRY_SECONDS`` so that every request does not wait on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from assistant.auth.ratelimit import RateLimiter, bucket_name, refusal, would_refuse

log = logging.getLogger(__name__)

KEY_PREFIX = "shequ:limit:"
# A sign-in must not hang on a cache: Redis on the local network answers in milliseconds.
TIMEOUT_SECONDS = 1.0
RETRY_SECONDS = 30.0  # after a failure the database counts alone this long before Redis is tried again

# KEYS[1] the bucket; ARGV step and window in seconds. Returns {free_at, now} as text (Lua numbers would come
# back to Python truncated to integers).
HIT_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local step = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local free_at = tonumber(redis.call('GET', KEYS[1]))
if free_at == nil or free_at < now then free_at = now end
free_at = math.min(free_at + step, now + window + step)
redis.call('SET', KEYS[1], string.format('%.6f', free_at), 'PX', math.ceil((free_at - now) * 1000))
return {string.format('%.6f', free_at), string.format('%.6f', now)}
"""

PEEK_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
return {redis.call('GET', KEYS[1]) or '', string.format('%.6f', now)}
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisRateLimiter:
    def __init__(self, url: str, secret: bytes = b"", *, fallback: RateLimiter, client: Any = None,
                 retry_seconds: float = RETRY_SECONDS, monotonic: Callable[[], float] = time.monotonic) -> None:
        import redis

        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS,
                                          socket_connect_timeout=TIMEOUT_SECONDS)
        self.client = client
        self.secret = secret
        self.fallback = fallback
        self.retry_seconds = retry_seconds
        self.monotonic = monotonic
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._hit = client.register_script(HIT_SCRIPT)
        self._peek = client.register_script(PEEK_SCRIPT)
        self._down_until: float | None = None  # None: Redis is in use
        self._state = threading.Lock()

    def _key(self, scope: str, key: str) -> str:
        return KEY_PREFIX + bucket_name(self.secret, scope, key)

    def hit(self, scope: str, key: str, limit: int, window: float) -> float:
        """As ``SharedRateLimiter.hit``: counts one attempt, raises ``RateLimited`` past ``limit``."""
        if limit <= 0 or window <= 0:
            return 0.0
        step = window / limit
        if self._skipping():
            return self.fallback.hit(scope, key, limit, window)
        try:
            free_at, moment = self._hit(keys=[self._key(scope, key)], args=[repr(step), repr(float(window))])
        except self._errors as exc:
            self._went_away(exc)
            return self.fallback.hit(scope, key, limit, window)
        self._is_back()
        return refusal(float(_text(free_at)), float(_text(moment)), step, window)

    def blocked(self, scope: str, key: str, limit: int, window: float) -> bool:
        if limit <= 0 or window <= 0:
            return False
        if self._skipping():
            return self.fallback.blocked(scope, key, limit, window)
        try:
            free_at, moment = self._peek(keys=[self._key(scope, key)])
        except self._errors as exc:
            self._went_away(exc)
            return self.fallback.blocked(scope, key, limit, window)
        self._is_back()
        stored = _text(free_at)
        return would_refuse(float(stored) if stored else None, float(_text(moment)), limit, window)

    # ------------------------------------------------------------ outage bookkeeping (one log line each way)

    def _skipping(self) -> bool:
        down_until = self._down_until
        return down_until is not None and self.monotonic() < down_until

    def _went_away(self, exc: BaseException) -> None:
        with self._state:
            first = self._down_until is None
            self._down_until = self.monotonic() + self.retry_seconds
        if first:
            log.warning("rate limits: Redis is not reachable (%s); counting in the database until it is back",
                        type(exc).__name__)

    def _is_back(self) -> None:
        if self._down_until is None:
            return
        with self._state:
            was_down = self._down_until is not None
            self._down_until = None
        if was_down:
            log.warning("rate limits: Redis is reachable again; counting there")
