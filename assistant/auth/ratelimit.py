"""Rate limits shared by every worker, and the one way to tell which client a request came from.

- ``client_address(request)``: the socket peer; ``X-Forwarded-For`` is believed only when that peer is one of
  ``Settings.trusted_proxies`` (default none), and then the right-most address that is not itself a trusted
  proxy is the client (the left part of the header is whatever the client chose to send).
- ``SharedRateLimiter.hit(scope, key, limit, window)``: counts one attempt in the database (table
  ``sign_in_limits``) with one atomic upsert, so two workers — or two machines — count together; raises
  ``RateLimited`` with the seconds to wait. Usable for any limit (scope names the limit: "login-address" …).
- ``RedisRateLimiter``: the same counters and the same arithmetic in Redis (one Lua script per attempt), for
  installations that set ``SHEQU_RATE_LIMIT_URL=redis://…``; while Redis cannot be reached it counts in the
  database instead (see ``assistant/auth/ratelimit_redis.py``).
- ``create_rate_limiter(url, engine, secret)``: the backend named by the URL's scheme, as the event bus is chosen.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from assistant.auth import RateLimited
from assistant.auth.models import SignInLimit

if TYPE_CHECKING:
    from fastapi import Request

log = logging.getLogger(__name__)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN_CLIENT = "unknown"


@lru_cache(maxsize=8)
def parse_trusted_proxies(value: str) -> tuple[IpNetwork, ...]:
    """``"10.0.0.1, 192.168.0.0/16"`` → networks; entries that are not addresses are skipped with a warning."""
    networks: list[IpNetwork] = []
    for item in value.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            log.warning("SHEQU_TRUSTED_PROXIES: %r is not an IP address or network; ignored", item[:60])
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: str, proxies: tuple[IpNetwork, ...]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in proxies)


def resolve_client(peer: str | None, forwarded_for: str | None, trusted_proxies: str) -> str:
    """The client address from the socket peer and the ``X-Forwarded-For`` header (see the module text)."""
    peer = peer or UNKNOWN_CLIENT
    proxies = parse_trusted_proxies(trusted_proxies or "")
    if not proxies or not forwarded_for or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            return peer  # a malformed chain: trust none of it
        if not any(ip in network for network in proxies):
            return str(ip)
    return peer


def client_address(request: Request) -> str:
    """The address every rate limit and audit row uses for this request."""
    settings = request.app.state.context.settings
    peer = request.client.host if request.client else None
    return resolve_client(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies)


class RateLimiter(Protocol):
    """What the sign-in and look-up routes need from a limiter, whichever store keeps the counts."""

    def hit(self, scope: str, key: str, limit: int, window: float) -> float: ...

    def blocked(self, scope: str, key: str, limit: int, window: float) -> bool: ...


def bucket_name(secret: bytes, scope: str, key: str) -> str:
    # Keyed hash: an address or username is not readable from the store (nor guessable by hashing them all).
    return hmac.new(secret or b"shequ-rate-limit", f"{scope}|{key}".encode(), hashlib.sha256).hexdigest()


def refusal(free_at: float, moment: float, step: float, window: float) -> float:
    """The allowance used after an attempt (``free_at`` − now); raises ``RateLimited`` when it overflowed."""
    used = free_at - moment
    if used > window + 1e-6:
        raise RateLimited(max(1.0, used + step - window))
    return used


def would_refuse(free_at: float | None, moment: float, limit: int, window: float) -> bool:
    return free_at is not None and max(free_at, moment) + window / limit - moment > window + 1e-6


class SharedRateLimiter:
    """Counters in the database, shared by all workers that share the database.

    GCRA (the "generic cell rate algorithm"): each key has one number, the time its counter is empty again
    (``free_at``). An attempt adds ``window / limit`` seconds to it (from now if it had passed); the attempt is
    allowed while ``free_at`` stays within ``window`` of now. So ``limit`` attempts may come at once, then one
    per ``window / limit`` seconds — no edge between fixed windows where twice the limit gets through.
    Refused attempts count too (capped), so a client that keeps hammering stays refused until it pauses.
    The read-modify-write is one upsert statement, atomic in SQLite and PostgreSQL.
    """

    def __init__(self, engine: Engine, secret: bytes = b"", clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.secret = secret
        self.clock = clock

    def _bucket(self, scope: str, key: str) -> str:
        return bucket_name(self.secret, scope, key)

    def hit(self, scope: str, key: str, limit: int, window: float) -> float:
        """Counts one attempt; raises ``RateLimited`` when more than ``limit`` came within ``window`` seconds.

        Returns the seconds of allowance used (``free_at`` − now) for the caller's logs and tests.
        """
        if limit <= 0 or window <= 0:
            return 0.0
        moment = float(self.clock())
        step = window / limit
        with self.engine.begin() as connection:
            free_at = self._advance(connection, self._bucket(scope, key), moment, step, window)
            connection.execute(delete(SignInLimit).where(SignInLimit.free_at < moment))
        return refusal(free_at, moment, step, window)

    def blocked(self, scope: str, key: str, limit: int, window: float) -> bool:
        """Whether one more ``hit`` would be refused, without counting (for limits on failures only: check
        ``blocked`` first, ``hit`` when the attempt failed)."""
        if limit <= 0 or window <= 0:
            return False
        moment = float(self.clock())
        with self.engine.connect() as connection:
            free_at = connection.execute(select(SignInLimit.free_at)
                                         .where(SignInLimit.bucket == self._bucket(scope, key))).scalar()
        return would_refuse(free_at, moment, limit, window)

    def _advance(self, connection: Connection, bucket: str, moment: float, step: float, window: float) -> float:
        table = SignInLimit.__table__
        column = table.c.free_at
        dialect = connection.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
            grown = func.least(func.greatest(column, moment) + step, moment + window + step)
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
            # SQLite's two-argument max()/min() are the scalar functions (GREATEST/LEAST elsewhere).
            grown = func.min(func.max(column, moment) + step, moment + window + step)
        if dialect in ("sqlite", "postgresql"):
            statement = upsert(table).values(bucket=bucket, free_at=moment + step)
            statement = statement.on_conflict_do_update(index_elements=[table.c.bucket], set_={"free_at": grown})
            return float(connection.execute(statement.returning(column)).scalar_one())
        # Other databases: the UPDATE takes the row lock, so concurrent attempts still add up.
        grown = func.least(func.greatest(column, moment) + step, moment + window + step)
        changed = connection.execute(update(table).where(table.c.bucket == bucket).values(free_at=grown))
        if changed.rowcount == 0:
            try:
                with connection.begin_nested():
                    connection.execute(insert(table).values(bucket=bucket, free_at=moment + step))
            except IntegrityError:
                connection.execute(update(table).where(table.c.bucket == bucket).values(free_at=grown))
        return float(connection.execute(select(column).where(table.c.bucket == bucket)).scalar_one())


RATE_LIMIT_URI_HELP = "留空（用数据库）、db: 或 redis://主机:端口/库号"


class RateLimitConfigError(ValueError):
    """A rate-limit URL this module does not know; the message says which ones it does."""


def rate_limit_scheme(url: str) -> str:
    """``"db"`` or ``"redis"`` for a valid ``Settings.rate_limit_url``; raises ``RateLimitConfigError``."""
    if not url.strip():
        return "db"
    scheme, colon, _ = url.strip().partition(":")
    scheme = scheme.lower()
    if colon and scheme == "db":
        return "db"
    if colon and scheme in ("redis", "rediss"):
        return "redis"
    raise RateLimitConfigError(f"限流存储地址 {url[:80]!r} 不对，请用 {RATE_LIMIT_URI_HELP}")


def create_rate_limiter(url: str, engine: Engine, secret: bytes = b"") -> RateLimiter:
    """The limiter named by ``url`` (empty or ``db:`` the database; ``redis://…`` Redis, the database as
    its stand-in while Redis is away)."""
    database = SharedRateLimiter(engine, secret)
    if rate_limit_scheme(url) == "db":
        return database
    from assistant.auth.ratelimit_redis import RedisRateLimiter

    return RedisRateLimiter(url.strip(), secret, fallback=database)
