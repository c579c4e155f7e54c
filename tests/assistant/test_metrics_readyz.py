"""``/readyz`` with Redis in the production profile: a ping within the probe's budget, and which failures count."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from assistant.api.main import create_app
from assistant.api.routes import health
from assistant.context import create_context
from assistant.settings import Settings

REDIS_ENV = "SHEQU_TEST_REDIS_URL"
REDIS_URL = os.environ.get(REDIS_ENV, "")  # read now: the settings fixture clears SHEQU_* variables
BUDGET_SECONDS = 2.0  # what a load balancer's probe waits


@pytest.fixture
def dead_redis() -> Iterator[str]:
    """A port that accepts connections and never answers: the worst case for a ping."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def _ready(settings: Settings, **update: str) -> tuple[int, dict, float]:
    context = create_context(settings.model_copy(update={"outbox_drain_interval_seconds": 0, **update}))
    try:
        with TestClient(create_app(context=context)) as client:
            started = time.monotonic()
            answer = client.get("/readyz")
            return answer.status_code, answer.json()["checks"], time.monotonic() - started
    finally:
        context.close()


def test_redis_urls_are_picked_from_the_settings() -> None:
    assert health.redis_urls("db:", "") == {}
    assert health.redis_urls("redis://r:6379/0", "") == {"redis_events": "redis://r:6379/0"}
    assert health.redis_urls("db:", "rediss://r:6380/1") == {"redis_rate_limit": "rediss://r:6380/1"}


def test_silent_redis_for_events_makes_the_node_unready_in_time(settings: Settings, dead_redis: str) -> None:
    status, checks, took = _ready(settings, events_url=dead_redis)
    assert status == 503 and checks["redis_events"].startswith("error") and checks["database"] == "ok"
    assert took < BUDGET_SECONDS
    assert "127.0.0.1" not in str(checks)  # no address (nor password) in the answer


def test_silent_redis_for_rate_limits_only_is_reported_but_ready(settings: Settings, dead_redis: str) -> None:
    status, checks, took = _ready(settings, rate_limit_url=dead_redis)
    assert status == 200 and checks["redis_rate_limit"] == health.RATE_LIMIT_FALLBACK and took < BUDGET_SECONDS


def test_answering_redis_is_ok(settings: Settings) -> None:
    url = REDIS_URL
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set")
    try:
        import redis

        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
    except Exception as exc:
        pytest.skip(f"Redis is not reachable: {type(exc).__name__}")
    status, checks, _took = _ready(settings, events_url=url, rate_limit_url=url)
    assert status == 200 and checks["redis_events"] == "ok" and checks["redis_rate_limit"] == "ok"
