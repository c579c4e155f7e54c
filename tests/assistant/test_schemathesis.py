"""Property-based tests of the public API against its own OpenAPI schema (schemathesis), on the running server.

The whole app runs under uvicorn on a loopback port (``browser_testkit.live_server``) on SQLite and, when
``SHEQU_TEST_DATABASE_URL`` is set, PostgreSQL. Schemathesis reads ``/openapi.json`` and sends every operation
valid and invalid requests made from the schema. What must hold for each: no 5xx answer (bad input is a 4xx
with a Chinese message), and a success answer matches the schema it is documented with. Error answers use the
project's own error body (``assistant/api/errors.py``), not FastAPI's default, so their schema is not checked.

Bounded: ``MAX_EXAMPLES`` per operation and generation mode, no shrinking, so one database takes about a
minute; each failing case is reported with a curl command that replays it.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from browser_testkit import live_server
from hypothesis import HealthCheck, Phase, given, settings, strategies

pytestmark = pytest.mark.slow

schemathesis = pytest.importorskip("schemathesis")

# Per operation (valid and invalid requests together). Operations without inputs (/healthz) stop at their one
# possible request, so a database costs about 600 requests.
MAX_EXAMPLES = 100
REQUEST_TIMEOUT_SECONDS = 20.0  # a chat turn on the tiny KB answers in milliseconds; a hang is a failure
# The exploration on one database (the server's start, ~20-30 s of index and model building, comes on top);
# asserted so that a slowdown shows up here rather than in CI's clock.
TIME_BUDGET_SECONDS = 90.0


def _explore(operation: Any, base_url: str, statuses: Counter[tuple[str, int]]) -> list[str]:
    """Runs the bounded exploration of one operation; returns the failures (empty when it held)."""
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error, response_schema_conformance

    modes = strategies.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                              operation.as_strategy(GenerationMode.NEGATIVE))
    failures: list[str] = []

    @given(case=modes)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS)
        statuses[operation.label, response.status_code] += 1
        checks = [not_a_server_error]
        if response.status_code < 300:
            checks.append(response_schema_conformance)
        case.validate_response(response, checks=checks)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis: each failed check with its curl command
        failures.append(f"{operation.label}: {exc}"[:3000])
    return failures


def test_public_api_has_no_server_errors(db_settings) -> None:  # type: ignore[no-untyped-def]
    with live_server(db_settings, accounts=(), api_docs=True) as server:
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        labels = {operation.label for operation in operations}
        assert {"POST /api/v1/chat", "GET /api/v1/orders/{number}"} <= labels  # the schema is the real one
        started = time.monotonic()
        statuses: Counter[tuple[str, int]] = Counter()
        failures = [failure for operation in operations for failure in _explore(operation, server.url, statuses)]
        elapsed = time.monotonic() - started
    codes: Counter[int] = Counter()
    for (_label, code), count in statuses.items():
        codes[code] += count
    print(f"schemathesis: {codes.total()} requests to {len(operations)} operations in {elapsed:.0f} s; "
          f"statuses {dict(sorted(codes.items()))}")
    assert not failures, "\n\n".join(failures[:10])
    chat = {code for (label, code) in statuses if label == "POST /api/v1/chat"}
    assert 200 in chat and 422 in chat  # it did explore: real turns and refused bodies
    assert sum(n for (label, _), n in statuses.items() if label == "POST /api/v1/chat") >= MAX_EXAMPLES // 2
    assert elapsed < TIME_BUDGET_SECONDS, f"schemathesis took {elapsed:.0f} s (budget {TIME_BUDGET_SECONDS:.0f} s)"
