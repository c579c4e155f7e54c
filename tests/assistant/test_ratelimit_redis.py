"""The shared rate limits in Redis: two workers count together, parallel attempts never pass the limit, the
window frees itself, and an unreachable Redis hands the counting to the database (no open door, no 500)."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from console_testkit import console_client, login
from sqlalchemy import Engine, func, select

from assistant.auth import RateLimited
from assistant.auth.models import SignInLimit
from assistant.auth.ratelimit import (
    RateLimitConfigError,
    SharedRateLimiter,
    create_rate_limiter,
    rate_limit_scheme,
)
from assistant.auth.ratelimit_redis import KEY_PREFIX, RedisRateLimiter
from assistant.context import create_context
from assistant.storage.db import make_engine, migrate

REDIS_ENV = "SHEQU_TEST_REDIS_URL"
PARALLEL_ATTEMPTS = 60
LIMIT = 10


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'limits.db'}")
    migrate(made)
    try:
        yield made
    finally:
        made.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = os.environ.get(REDIS_ENV, "")
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set")
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_ENV} does not answer: {exc}")
    yield url
    client.close()


@pytest.fixture
def secret() -> bytes:
    return uuid.uuid4().hex.encode()  # a fresh secret: fresh keys, whatever earlier runs left in Redis


def _rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(SignInLimit)).scalar_one())


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # nothing listens there once the probe is closed


def test_two_workers_share_the_count(redis_url: str, secret: bytes, engine: Engine) -> None:
    workers = [RedisRateLimiter(redis_url, secret, fallback=SharedRateLimiter(engine, secret)) for _ in range(2)]
    for n in range(4):
        workers[n % 2].hit("login-address", "1.2.3.4", 4, 60.0)
    assert workers[0].blocked("login-address", "1.2.3.4", 4, 60.0)
    assert not workers[0].blocked("login-address", "5.6.7.8", 4, 60.0)
    assert not workers[0].blocked("login-account", "1.2.3.4", 4, 60.0)  # scopes are apart
    with pytest.raises(RateLimited) as refused:
        workers[1].hit("login-address", "1.2.3.4", 4, 60.0)
    assert 1 <= refused.value.retry_after <= 60
    assert _rows(engine) == 0  # all of it was counted in Redis


def test_parallel_attempts_never_pass_the_limit(redis_url: str, secret: bytes, engine: Engine) -> None:
    workers = [RedisRateLimiter(redis_url, secret, fallback=SharedRateLimiter(engine, secret)) for _ in range(3)]

    def attempt(n: int) -> bool:
        try:
            workers[n % len(workers)].hit("order-lookup", "203.0.113.7", LIMIT, 600.0)
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=20) as pool:
        allowed = sum(pool.map(attempt, range(PARALLEL_ATTEMPTS)))
    # 600 s / 10 = one more every minute: none frees up while the test runs, so exactly the limit got through.
    assert allowed == LIMIT
    assert _rows(engine) == 0


def test_the_window_frees_itself_and_the_key_expires(redis_url: str, secret: bytes, engine: Engine) -> None:
    import redis

    limiter = RedisRateLimiter(redis_url, secret, fallback=SharedRateLimiter(engine, secret))
    limiter.hit("t", "key", 2, 1.0)
    limiter.hit("t", "key", 2, 1.0)
    with pytest.raises(RateLimited):
        limiter.hit("t", "key", 2, 1.0)
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{KEY_PREFIX}*"))
    ours = [key for key in keys if 0 < client.pttl(key) <= 1500]  # at most window + one step ahead
    assert ours
    time.sleep(1.6)  # the refused attempt counted too: window (1 s) + one step (0.5 s)
    assert not limiter.blocked("t", "key", 2, 1.0)
    limiter.hit("t", "key", 2, 1.0)
    limiter.hit("t", "key", 2, 1.0)
    with pytest.raises(RateLimited):
        limiter.hit("t", "key", 2, 1.0)
    time.sleep(1.6)
    assert all(not client.exists(key) for key in ours)  # nothing left behind for quiet addresses
    client.close()


def test_unreachable_redis_counts_in_the_database_and_logs_once(engine: Engine, secret: bytes,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisRateLimiter(_closed_port_url(), secret, fallback=SharedRateLimiter(engine, secret))
    caplog.set_level(logging.WARNING, logger="assistant.auth.ratelimit_redis")
    started = time.monotonic()
    for _ in range(3):
        limiter.hit("login-address", "1.2.3.4", 3, 60.0)
    assert limiter.blocked("login-address", "1.2.3.4", 3, 60.0)
    with pytest.raises(RateLimited):  # the door stays shut while the cache is away
        limiter.hit("login-address", "1.2.3.4", 3, 60.0)
    for n in range(20):
        limiter.hit("login-address", f"198.51.100.{n}", 3, 60.0)
    assert time.monotonic() - started < 5  # Redis is not retried on every request
    assert _rows(engine) == 21
    lines = [record for record in caplog.records if record.name == "assistant.auth.ratelimit_redis"]
    assert len(lines) == 1 and "not reachable" in lines[0].getMessage()


def test_redis_is_tried_again_after_the_pause(redis_url: str, engine: Engine, secret: bytes,
                                              caplog: pytest.LogCaptureFixture) -> None:
    import redis

    moment = [100.0]
    limiter = RedisRateLimiter(_closed_port_url(), secret, fallback=SharedRateLimiter(engine, secret),
                               retry_seconds=30.0, monotonic=lambda: moment[0])
    caplog.set_level(logging.WARNING, logger="assistant.auth.ratelimit_redis")
    limiter.hit("t", "a", 5, 60.0)
    assert _rows(engine) == 1
    # Redis comes back (here: the limiter's client now reaches a live server).
    live = RedisRateLimiter(redis_url, secret, fallback=limiter.fallback, client=redis.Redis.from_url(redis_url))
    limiter.client, limiter._hit, limiter._peek = live.client, live._hit, live._peek
    moment[0] += 10
    limiter.hit("t", "b", 5, 60.0)  # still within the pause: the database
    assert _rows(engine) == 2
    moment[0] += 30
    limiter.hit("t", "c", 5, 60.0)  # after it: Redis again
    assert _rows(engine) == 2
    messages = [r.getMessage() for r in caplog.records if r.name == "assistant.auth.ratelimit_redis"]
    assert len(messages) == 2 and "again" in messages[1]


def test_backend_is_chosen_by_the_url(engine: Engine) -> None:
    assert isinstance(create_rate_limiter("", engine), SharedRateLimiter)
    assert isinstance(create_rate_limiter("db:", engine), SharedRateLimiter)
    assert isinstance(create_rate_limiter("redis://127.0.0.1:6379/0", engine), RedisRateLimiter)
    assert rate_limit_scheme("rediss://cache.example:6380/1") == "redis"
    for wrong in ("memcached://127.0.0.1", "127.0.0.1:6379", "redis"):
        with pytest.raises(RateLimitConfigError, match="限流存储地址"):
            rate_limit_scheme(wrong)


def test_a_mistyped_url_stops_the_start(settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RateLimitConfigError):
        create_context(settings.model_copy(update={"rate_limit_url": "redis//127.0.0.1"}), load_shipped=False)


def test_sign_in_limit_counts_in_redis(redis_url: str, settings) -> None:  # type: ignore[no-untyped-def]
    with console_client(settings, staff_login_rate_per_minute=3, rate_limit_url=redis_url,
                        secret_key=uuid.uuid4().hex) as (client, context):
        assert isinstance(context.rate_limiter, RedisRateLimiter)
        statuses = [login(client, "sam", "wrong-password-x").status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        assert login(client, "sam").status_code == 429
        assert _rows(context.engine) == 0


def test_sign_in_stays_limited_when_redis_is_down(settings) -> None:  # type: ignore[no-untyped-def]
    with console_client(settings, staff_login_rate_per_minute=3, rate_limit_url=_closed_port_url()) as (
            client, context):
        statuses = [login(client, "sam", "wrong-password-x").status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        assert login(client, "sam").status_code == 429  # not a 500, not let through
        assert _rows(context.engine) >= 1
