"""Sign-in under attack: parallel guesses, shared rate limits, forged X-Forwarded-For, weak passwords.

The lockout tests run on a real SQLite file and, when ``SHEQU_TEST_DATABASE_URL`` is set, on PostgreSQL
(``db_url`` fixture); "two workers" are two apps with their own engines and limiters on one database.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from console_testkit import PASSWORD, console_client, csrf_from
from fastapi.testclient import TestClient
from sqlalchemy import select

from assistant.api.main import create_app
from assistant.auth import AccountLocked, InvalidAccount, InvalidCredentials, RateLimited
from assistant.auth import service as auth_service
from assistant.auth.models import SignInLimit, StaffAccount
from assistant.auth.password_policy import check, common_passwords
from assistant.auth.ratelimit import SharedRateLimiter, resolve_client
from assistant.auth.service import LockoutPolicy, authenticate, create_account
from assistant.context import create_context
from assistant.storage.db import make_engine, make_session_factory, migrate, session_scope
from assistant.storage.models import AuditLog

MAX_FAILURES = 5
USERNAME = "guard"


@pytest.fixture
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> None:
    # Still argon2id, but cheap: 50 parallel verifications at the production cost take a long while here.
    monkeypatch.setattr(auth_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))


def _guess_in_parallel(factory, guesses: int, policy: LockoutPolicy) -> list[str]:  # type: ignore[no-untyped-def]
    """``guesses`` wrong passwords at once, each in its own thread and database session."""
    start = threading.Barrier(guesses)

    def guess(number: int) -> str:
        start.wait(timeout=30)
        try:
            with session_scope(factory) as session:
                try:
                    authenticate(session, USERNAME, f"wrong-guess-{number:04d}", policy, "10.0.0.1")
                except (InvalidCredentials, AccountLocked) as exc:
                    return type(exc).__name__  # the block ends normally so the audit row is committed
            return "signed in"
        except Exception as exc:  # a database error must show in the assertion
            return f"error: {type(exc).__name__}: {exc}"[:200]

    with ThreadPoolExecutor(max_workers=guesses) as pool:
        return list(pool.map(guess, range(guesses)))


@pytest.mark.parametrize("guesses", [10, 50])
def test_parallel_wrong_guesses_lock_after_exactly_the_limit(db_url: str, guesses: int, cheap_hasher: None) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            create_account(session, USERNAME, "staff", PASSWORD, actor="test")
        policy = LockoutPolicy(max_failures=MAX_FAILURES, lock_minutes=15)

        outcomes = _guess_in_parallel(factory, guesses, policy)

        assert not [o for o in outcomes if o.startswith("error")], outcomes
        assert outcomes.count("InvalidCredentials") == MAX_FAILURES  # exactly this many passwords were checked
        assert outcomes.count("AccountLocked") == guesses - MAX_FAILURES
        with session_scope(factory) as session:
            failures = sorted(session.scalars(select(AuditLog.detail).where(AuditLog.action == "auth.login.fail")))
            account = session.scalar(select(StaffAccount).where(StaffAccount.username == USERNAME))
            assert account is not None and account.locked_until is not None
        # Each guess got its own number: no two were counted as the same "failure 1".
        assert failures == [f"failure {n}" for n in range(1, MAX_FAILURES)] + [f"failure {MAX_FAILURES}, locked"]
        with session_scope(factory) as session, pytest.raises(AccountLocked):
            authenticate(session, USERNAME, PASSWORD, policy)  # the right password no longer helps
    finally:
        engine.dispose()


def test_right_password_within_the_limit_resets_the_count(db_url: str, cheap_hasher: None) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            create_account(session, USERNAME, "staff", PASSWORD, actor="test")
        policy = LockoutPolicy(max_failures=3, lock_minutes=15)
        for _ in range(2):
            with session_scope(factory) as session, pytest.raises(InvalidCredentials):
                authenticate(session, USERNAME, "not-the-password", policy)
        with session_scope(factory) as session:
            assert authenticate(session, USERNAME, PASSWORD, policy).username == USERNAME
        for _ in range(2):  # two more wrong ones do not lock: the run of failures started again
            with session_scope(factory) as session, pytest.raises(InvalidCredentials):
                authenticate(session, USERNAME, "not-the-password", policy)
        with session_scope(factory) as session:
            assert authenticate(session, USERNAME, PASSWORD, policy).username == USERNAME
    finally:
        engine.dispose()


# ---------------------------------------------------------------- over HTTP, two "workers"

def _post_login(client: TestClient, username: str, password: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    page = client.get("/staff/login")
    return client.post("/staff/login", headers=headers or {},
                       data={"username": username, "password": password, "csrf_token": csrf_from(page.text)})


def test_two_workers_share_the_lockout_and_the_rate_limit(settings) -> None:  # type: ignore[no-untyped-def]
    with console_client(settings, staff_lockout_failures=MAX_FAILURES) as (first, context):
        second_context = create_context(context.settings)  # another worker: own engine, own limiter
        try:
            with TestClient(create_app(context=second_context), base_url="https://testserver",
                            follow_redirects=False) as second:
                clients = [first, second]
                for client in clients:  # the pre-sign-in CSRF cookie first, or parallel pages would race for it
                    client.get("/staff/login")
                with ThreadPoolExecutor(max_workers=10) as pool:
                    statuses = list(pool.map(lambda n: _post_login(clients[n % 2], "sam", f"wrong-{n:03d}").status_code,
                                             range(10)))
                assert statuses.count(401) == MAX_FAILURES and statuses.count(423) == 10 - MAX_FAILURES, statuses
                assert _post_login(second, "sam", PASSWORD).status_code == 423
                assert _post_login(first, "sam", PASSWORD).status_code == 423

                # The per-account limit is counted in the database: both workers add to one count.
                limited = create_context(context.settings.model_copy(update={"staff_login_account_rate_per_minute": 3}))
                try:
                    with TestClient(create_app(context=limited), base_url="https://testserver",
                                    follow_redirects=False) as third:
                        answers = [_post_login(third, "amy", "wrong-password-x").status_code for _ in range(3)]
                        assert answers == [401, 401, 401]
                        refused = _post_login(third, "amy", PASSWORD)
                        assert refused.status_code == 429 and "尝试次数太多" in refused.text
                        assert int(refused.headers["retry-after"]) >= 1
                finally:
                    limited.close()
        finally:
            second_context.close()


def test_forged_forwarded_for_from_an_untrusted_peer_is_ignored(settings) -> None:  # type: ignore[no-untyped-def]
    with console_client(settings, staff_login_rate_per_minute=3) as (client, _context):
        # A new "address" every time: if the header were believed, no attempt would ever be limited.
        codes = [_post_login(client, "amy", "wrong-password-x", {"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                 for n in range(4)]
        assert codes == [401, 401, 401, 429]


def test_forwarded_for_is_believed_behind_a_trusted_proxy(settings) -> None:  # type: ignore[no-untyped-def]
    with console_client(settings, staff_login_rate_per_minute=2, trusted_proxies="10.0.0.0/8") as (_c, context):
        with TestClient(create_app(context=context), base_url="https://testserver", follow_redirects=False,
                        client=("10.1.2.3", 40000)) as proxied:
            spread = [_post_login(proxied, "amy", "wrong-password-x", {"X-Forwarded-For": f"198.51.100.{n}"})
                      for n in range(3)]
            assert [r.status_code for r in spread] == [401, 401, 401]  # three clients, one attempt each
            same = [_post_login(proxied, "ada", "wrong-password-x", {"X-Forwarded-For": "198.51.100.77"})
                    for _ in range(3)]
            assert [r.status_code for r in same] == [401, 401, 429]
        with session_scope(context.sessions) as session:
            rows = session.scalars(select(SignInLimit.bucket)).all()
        assert rows and not any("198.51.100" in bucket for bucket in rows)  # addresses are not stored in clear


@pytest.mark.parametrize(("peer", "header", "expected"), [
    ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # peer is not a proxy: the header is the client's own claim
    ("10.0.0.2", "1.2.3.4", "1.2.3.4"),
    ("10.0.0.2", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the left part was written by the client
    ("10.0.0.2", "1.2.3.4, 10.0.0.7", "1.2.3.4"),  # two trusted hops
    ("10.0.0.2", "not-an-ip", "10.0.0.2"),
    ("10.0.0.2", "", "10.0.0.2"),
    (None, "1.2.3.4", "unknown"),
])
def test_resolve_client(peer: str | None, header: str, expected: str) -> None:
    assert resolve_client(peer, header, "10.0.0.0/8, bad-entry") == expected
    assert resolve_client(peer, header, "") == (peer or "unknown")


def test_rate_limiter_counts_across_engines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    engines = [make_engine(url), make_engine(url)]
    try:
        migrate(engines[0])
        moment = [5_000_000.0]
        limiters = [SharedRateLimiter(engine, b"secret", clock=lambda: moment[0]) for engine in engines]
        for n in range(4):
            limiters[n % 2].hit("login-address", "1.2.3.4", 4, 60.0)
        assert limiters[1].blocked("login-address", "1.2.3.4", 4, 60.0)
        assert not limiters[1].blocked("login-address", "5.6.7.8", 4, 60.0)
        with pytest.raises(RateLimited) as refused:
            limiters[0].hit("login-address", "1.2.3.4", 4, 60.0)
        assert 1 <= refused.value.retry_after <= 60
        moment[0] += 15  # one attempt's share of the window (60 s / 4) later: one more is allowed
        with pytest.raises(RateLimited):  # ... but the refused attempt also counted
            limiters[1].hit("login-address", "1.2.3.4", 4, 60.0)
        moment[0] += 45
        limiters[1].hit("login-address", "1.2.3.4", 4, 60.0)
    finally:
        for engine in engines:
            engine.dispose()


# ---------------------------------------------------------------- password policy

@pytest.mark.parametrize("password", [
    "aaaaaaaaaaaa", "password12", "123456789012", "qwertyuiop12", "Password2026!", "PASSWORD123456",
    "woaini5201314", "iloveyou1234", "1q2w3e4r5t6y", "short-pass", "zhangsan.wei", "ZHANGSAN.WEI2025",
    "iew.nasgnahz", "zhangsanwei99", " leading-space-password", "............",
])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidAccount) as refused:
        check(password, "zhangsan.wei")
    assert all("\u4e00" <= ch <= "\u9fff" or not ch.isalpha() for ch in str(refused.value))  # Chinese reason


@pytest.mark.parametrize("password", [PASSWORD, "handoff-test-password", "Lijiang-bamboo-raft-7", "桂林山水甲天下2026年"])
def test_reasonable_passwords_pass(password: str) -> None:
    check(password, "zhangsan.wei")


def test_common_list_is_shipped_and_large() -> None:
    listed = common_passwords()
    assert len(listed) >= 2000
    assert {"password12", "aaaaaaaaaaaa", "123456789012", "qwertyuiop12"} <= listed


def test_policy_applies_to_creation_and_reset(settings) -> None:  # type: ignore[no-untyped-def]
    with console_client(settings) as (_client, context), session_scope(context.sessions) as session:
        with pytest.raises(InvalidAccount, match="用户名"):
            create_account(session, "liwei88", "staff", "Liwei-2025!!", actor="test")
        with pytest.raises(InvalidAccount, match="常见"):
            auth_service.reset_password(session, "sam", "test", "password2026")
        assert len(auth_service.reset_password(session, "sam", "test")) >= 12  # generated ones pass the policy


# ---------------------------------------------------------------- a real `shequ serve --workers 2`

@pytest.mark.slow
def test_real_two_worker_server_holds_the_lockout_and_ignores_forged_addresses(db_url, tiny_kb_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    shequ = str(Path(sys.executable).with_name("shequ"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "SHEQU_VAR_DIR": str(tmp_path),
           "SHEQU_KB_DATA_DIR": str(tiny_kb_dir), "SHEQU_LOG_LEVEL": "WARNING", "SHEQU_STAFF_COOKIE_SECURE": "false",
           "SHEQU_STAFF_LOCKOUT_FAILURES": str(MAX_FAILURES), "SHEQU_STAFF_LOGIN_RATE_PER_MINUTE": "12",
           "SHEQU_STAFF_LOGIN_ACCOUNT_RATE_PER_MINUTE": "1000", "SHEQU_DATABASE_URL": db_url}
    made = subprocess.run([shequ, "users", "create", "--username", USERNAME, "--role", "staff", "--password-stdin"],
                          input=PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    server = subprocess.Popen([shequ, "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("the server did not become ready")

        def attempt(password: str, forwarded: str = "") -> int:
            with httpx.Client(base_url=base, timeout=60) as http:
                page = http.get("/staff/login")
                headers = {"X-Forwarded-For": forwarded} if forwarded else {}
                return http.post("/staff/login", headers=headers, data={
                    "username": USERNAME, "password": password, "csrf_token": csrf_from(page.text)}).status_code

        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda n: attempt(f"wrong-{n:03d}", f"198.51.100.{n}"), range(10)))
        assert statuses.count(401) == MAX_FAILURES and statuses.count(423) == 10 - MAX_FAILURES, statuses
        assert attempt(PASSWORD) == 423  # attempt 11: the right password is refused while locked
        assert attempt(PASSWORD, "203.0.113.1") == 423  # attempt 12
        # A 13th attempt from this machine: refused, whatever address the header claims and whichever worker.
        assert attempt(PASSWORD, "203.0.113.2") == 429
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
