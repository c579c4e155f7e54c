"""The production profile end to end, on loopback: PostgreSQL + Redis, two gunicorn web nodes started with
deploy/gunicorn.conf.py (``SHEQU_BACKGROUND_WORKER=false``), one ``shequ worker`` and nginx with the shipped
locations (deploy/nginx/shequ-locations.conf).

- a knowledge-base change published through node 1 is served by node 2;
- an emergency raised through node 1 reaches a staff page's server push on node 2;
- node 1 killed (SIGKILL) in the middle of a stream of chat requests through nginx: every answered request
  has its turn stored, requests keep succeeding through node 2, and outbox messages enqueued before the kill
  are delivered by the worker.

Isolation: a fresh PostgreSQL database (dropped afterwards) and Redis db ``REDIS_DB``. Skips cleanly without
PostgreSQL, Redis or nginx.
"""

from __future__ import annotations

import getpass
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from assistant.settings import PROJECT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

NGINX = Path("/usr/sbin/nginx")
DATABASE_ENV = "SHEQU_TEST_DATABASE_URL"
REDIS_ENV = "SHEQU_TEST_REDIS_URL"
REDIS_DB = 12  # distinct from the other Redis tests (db 0)
LOCATIONS = PROJECT_ROOT / "deploy" / "nginx" / "shequ-locations.conf"
GUNICORN_CONF = PROJECT_ROOT / "deploy" / "gunicorn.conf.py"
# Two nodes importing torch and building the tiny index side by side on a shared 2-core machine (~25 s idle).
START_SECONDS = 180  # a bound on waiting, not a figure: the time taken is printed
# A publish reaches another node when it next checks the revision (in the background every
# SHEQU_KB_CHECK_SECONDS = 0.5 s, assistant/kb_runtime.py KnowledgeBaseProvider.watch) and has rebuilt in the
# background (well under a second for the tiny KB). Issue 15's bound.
PUBLISH_SECONDS = 2.0
PUSH_SECONDS = 5.0
DELIVERY_SECONDS = 10.0
PASSWORD = "Lijiang-bamboo-raft-7"
REVIEWER = "shenhe.li"
AGENT = "zuoxi.wang"  # staff: takes live conversations
FALL = "我家老人摔倒了起不来了"
ARCHIVED_ENTRY = "senior-age-allowance"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _root_conftest() -> ModuleType:
    # By path under its own name, as tests/assistant/tests_conftest_bridge.py does ("conftest" is ambiguous).
    spec = importlib.util.spec_from_file_location("shequ_tests_root_conftest", PROJECT_ROOT / "tests" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _redis_url() -> str:
    base = os.environ.get(REDIS_ENV, "redis://127.0.0.1:6379/0")
    return re.sub(r"/\d*$", "", base) + f"/{REDIS_DB}"


def _unavailable() -> str | None:
    if not NGINX.exists():
        return f"{NGINX} is missing (Debian package nginx)"
    if not os.environ.get(DATABASE_ENV):
        return f"{DATABASE_ENV} is not set"
    import redis
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(os.environ[DATABASE_ENV], connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL is not reachable: {type(exc).__name__}"
    try:
        redis.Redis.from_url(_redis_url(), socket_timeout=2, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis is not reachable: {type(exc).__name__}"
    return None


# ---------------------------------------------------------------- a department system that takes webhooks

@dataclass
class Receiver:
    """Answers 503 until ``accepting``; records the Idempotency-Key of every delivery it took."""

    accepting: bool = False
    refused: set[str] = field(default_factory=set)
    taken: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = self.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    if receiver.accepting:
                        receiver.taken.append(key)
                        status = 200
                    else:
                        receiver.refused.add(key)
                        status = 503
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler


# ---------------------------------------------------------------- the installation

@dataclass
class Cluster:
    database_url: str
    node_urls: list[str]
    proxy_url: str
    nodes: list[subprocess.Popen[bytes]]
    worker: subprocess.Popen[bytes]
    receiver: Receiver
    logs: Path


def _wait_ready(url: str, process: subprocess.Popen[bytes], deadline: float, log: Path | None = None) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
            pytest.fail(f"{url} exited with {process.returncode}\n{tail}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} was not ready within {START_SECONDS} s")


def _nginx_conf(directory: Path, node_ports: list[int], port: int) -> Path:
    upstream = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in node_ports)
    temp = "\n".join(f"    {name}_temp_path {directory / name};" for name in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""  # root would hand workers to nobody
    conf = directory / "nginx.conf"
    conf.write_text(f"""{user}worker_processes 1;
error_log {directory / 'error.log'} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
{temp}
    upstream shequ_app {{
{upstream}
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port};
        include {LOCATIONS};
    }}
}}
""")
    return conf


def _kill_group(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    import redis
    from cryptography.fernet import Fernet
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    root = tmp_path_factory.mktemp("multi_node")
    kb_dir = _root_conftest().write_kb_files(root / "kb")  # the shared tiny knowledge base
    base_url = make_url(os.environ[DATABASE_ENV])
    database = f"shequ_deploy_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    database_url = base_url.set(database=database).render_as_string(hide_password=False)
    events = redis.Redis.from_url(_redis_url())
    events.flushdb()

    processes: list[subprocess.Popen[bytes]] = []
    hook: ThreadingHTTPServer | None = None
    try:
        receiver = Receiver()
        hook = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
        threading.Thread(target=hook.serve_forever, daemon=True).start()

        shequ = str(Path(sys.executable).with_name("shequ"))
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "SHEQU_DATABASE_URL": database_url,
               "SHEQU_KB_DATA_DIR": str(kb_dir), "SHEQU_EVENTS_URL": _redis_url(), "SHEQU_RATE_LIMIT_URL": _redis_url(),
               "SHEQU_SECRET_KEY": uuid.uuid4().hex * 2, "SHEQU_ENCRYPTION_KEY": Fernet.generate_key().decode(),
               "SHEQU_BACKGROUND_WORKER": "false", "SHEQU_ASR_ENGINE": "off", "SHEQU_LOG_LEVEL": "WARNING",
               "SHEQU_STAFF_COOKIE_SECURE": "false", "SHEQU_TRUSTED_PROXIES": "127.0.0.1",
               "SHEQU_TICKET_SINK": "webhook", "SHEQU_TICKET_WEBHOOK_URL": f"http://127.0.0.1:{hook.server_port}/hook",
               "SHEQU_TICKET_WEBHOOK_SECRET": uuid.uuid4().hex,
               "SHEQU_ALERT_ESCALATION_SECONDS": "1", "SHEQU_OUTBOX_BACKOFF_SECONDS": "0.3",
               "SHEQU_OUTBOX_BACKOFF_MAX_SECONDS": "0.5", "SHEQU_VAR_DIR": str(root / "var"),
               "SHEQU_GUNICORN_WORKERS": "1", "SHEQU_GUNICORN_GRACEFUL_TIMEOUT": "5",
               # A worker's first start builds its node's index and trains the intent model: on a loaded 2-core
               # CI machine that can pass gunicorn's 60 s, which would kill it as hung (exit 3, "failed to boot").
               "SHEQU_GUNICORN_TIMEOUT": "240",
               "SHEQU_OFFICE_HOURS": "00:00-24:00", "SHEQU_OFFICE_WEEKENDS": "true"}  # a person is always there
        for username, role in ((REVIEWER, "approver"), (AGENT, "staff")):
            made = subprocess.run([shequ, "users", "create", "--username", username, "--role", role,
                                   "--password-stdin"], input=PASSWORD + "\n", capture_output=True, text=True,
                                  env=env, timeout=120)  # the first also migrates the database and loads the KB
            assert made.returncode == 0, made.stderr[-2000:]

        logs = root / "logs"
        logs.mkdir()
        ports = [_free_port(), _free_port()]
        for n, port in enumerate(ports, 1):
            # Separate machines in production: each node its own var dir (index), the keys shared through the env.
            node_env = {**env, "SHEQU_VAR_DIR": str(root / f"var{n}"), "SHEQU_BIND": f"127.0.0.1:{port}"}
            processes.append(subprocess.Popen([gunicorn, "-c", str(GUNICORN_CONF)], env=node_env, cwd=PROJECT_ROOT,
                                              stdout=subprocess.DEVNULL, stderr=(logs / f"node{n}.log").open("wb"),
                                              start_new_session=True))
        worker = subprocess.Popen([shequ, "worker", "--interval", "0.3"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=(logs / "worker.log").open("wb"), start_new_session=True)
        processes.append(worker)
        proxy_port = _free_port()
        conf = _nginx_conf(root, ports, proxy_port)
        nginx = subprocess.Popen([str(NGINX), "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf),
                                  "-g", f"daemon off; pid {root / 'nginx.pid'};"],
                                 stdout=subprocess.DEVNULL, stderr=(logs / "nginx.log").open("wb"),
                                 start_new_session=True)
        processes.append(nginx)
        node_urls = [f"http://127.0.0.1:{p}" for p in ports]
        deadline = time.monotonic() + START_SECONDS
        for n, (url, process) in enumerate(zip(node_urls, processes, strict=False), 1):
            _wait_ready(url, process, deadline, logs / f"node{n}.log")
        _wait_ready(f"http://127.0.0.1:{proxy_port}", nginx, deadline)
        print(f"two nodes, worker and nginx ready in {time.monotonic() - deadline + START_SECONDS:.1f} s")
        yield Cluster(database_url, node_urls, f"http://127.0.0.1:{proxy_port}", processes[:2], worker,
                      receiver, logs)
    finally:
        for process in reversed(processes):
            _kill_group(process)
        if hook is not None:
            hook.shutdown()
        events.flushdb()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def _ask(base: str, text: str, session_id: str | None = None, timeout: float = 10) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/chat", json={"session_id": session_id, "text": text, "channel": "api"},
                      timeout=timeout)


def _server_sent(stream: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(event kind, decoded data) of each event of a server-sent-events stream, as they come."""
    kind = ""
    for line in stream.iter_lines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and kind:
            yield kind, json.loads(line.split(":", 1)[1])


@contextmanager
def _signed_in(base: str, username: str = REVIEWER) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=10) as client:
        page = client.get("/staff/login")
        token = _CSRF.search(page.text)
        assert token, page.text[:300]
        answer = client.post("/staff/login", data={"username": username, "password": PASSWORD,
                                                   "csrf_token": token.group(1), "next": "/staff/"})
        assert answer.status_code == 303, answer.text[:300]
        yield client


# ---------------------------------------------------------------- the three properties

def test_a_publish_on_node_one_is_served_by_node_two(cluster: Cluster) -> None:
    one, two = cluster.node_urls
    before = _ask(two, "高龄津贴怎么申请").json()
    assert (before["topic"] or {}).get("id") == ARCHIVED_ENTRY
    with _signed_in(one) as staff:
        page = staff.get(f"/staff/kb/entry/{ARCHIVED_ENTRY}")
        token = _CSRF.search(page.text)
        assert token, page.text[:300]
        archived = staff.post(f"/staff/kb/entry/{ARCHIVED_ENTRY}/archive", data={"csrf_token": token.group(1)})
        published = time.monotonic()
        assert archived.status_code == 303, archived.text[:300]
    elapsed = None
    while time.monotonic() - published < PUBLISH_SECONDS + 3:  # measured past the bound, to report the figure
        if (_ask(two, "高龄津贴怎么申请").json()["topic"] or {}).get("id") != ARCHIVED_ENTRY:
            elapsed = time.monotonic() - published
            break
        time.sleep(0.05)
    print(f"publish on node 1 served by node 2 after {elapsed if elapsed is None else round(elapsed, 2)} s")
    assert elapsed is not None and elapsed <= PUBLISH_SECONDS, f"node 2 still served the entry after {elapsed} s"


def test_b_alert_raised_on_node_one_reaches_server_push_on_node_two(cluster: Cluster) -> None:
    one, two = cluster.node_urls
    seen: list[dict[str, Any]] = []
    connected = threading.Event()
    stop = threading.Event()

    def listen() -> None:
        with _signed_in(two) as staff, staff.stream("GET", "/staff/api/events",
                                                    headers={"Accept": "text/event-stream"},
                                                    timeout=httpx.Timeout(10, read=PUSH_SECONDS + 5)) as stream:
            assert stream.status_code == 200
            connected.set()
            for kind, data in _server_sent(stream):
                seen.append({"kind": kind, "data": data})
                if stop.is_set() or any(e["kind"] == "alert.raised" for e in seen):
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(10), "the event stream of node 2 did not open"
    raised = time.monotonic()
    answer = _ask(one, FALL)
    assert answer.status_code == 200 and answer.json()["action"] == "emergency", answer.text[:300]
    listener.join(PUSH_SECONDS)
    stop.set()
    kinds = [e["kind"] for e in seen]
    print(f"alert from node 1 pushed by node 2 after {time.monotonic() - raised:.2f} s: {kinds}")
    assert "alert.raised" in kinds


def test_b2_a_live_agents_message_on_node_one_reaches_the_resident_on_node_two(cluster: Cluster) -> None:
    one, two = cluster.node_urls
    asked = _ask(two, "转人工")
    assert asked.status_code == 200 and asked.json()["action"] == "handoff", asked.text[:300]
    session_id = asked.json()["session_id"]
    seen: list[dict[str, Any]] = []
    reply_id: list[int] = []  # the agent's message's id, once sent
    connected = threading.Event()

    def listen() -> None:  # the resident's web chat, connected to node 2
        with httpx.stream("GET", f"{two}/api/v1/sessions/{session_id}/events",
                          headers={"Accept": "text/event-stream"},
                          timeout=httpx.Timeout(10, read=PUSH_SECONDS + 5)) as stream:
            assert stream.status_code == 200
            connected.set()
            for kind, data in _server_sent(stream):
                if kind == "message":
                    seen.append(data)
                    if reply_id and any(m.get("id", 0) >= reply_id[0] for m in seen):
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(10), "the resident's stream on node 2 did not open"
    with _signed_in(one, AGENT) as staff:
        token = _CSRF.search(staff.get("/staff/inbox").text)
        assert token
        headers = {"X-CSRF-Token": token.group(1)}
        waiting = [i for i in staff.get("/staff/api/handoffs").json()["items"] if i["session_id"] == session_id]
        assert waiting, "node 1's queue does not show the resident who asked on node 2"
        handoff_id = waiting[0]["id"]
        assert staff.post(f"/staff/api/handoffs/{handoff_id}/claim", headers=headers).status_code == 200
        sent = time.monotonic()
        reply = staff.post(f"/staff/api/handoffs/{handoff_id}/messages", json={"text": "您好，请问哪里不方便？"},
                           headers=headers)
        assert reply.status_code == 201, reply.text[:300]
        reply_id.append(reply.json()["id"])
    listener.join(PUSH_SECONDS)
    print(f"agent's message on node 1 pushed to the resident on node 2 after {time.monotonic() - sent:.2f} s")
    assert any(m.get("id", 0) >= reply_id[0] for m in seen), seen  # the claim's own notice does not count
    history = httpx.get(f"{two}/api/v1/sessions/{session_id}/history", timeout=10).json()
    assert "您好，请问哪里不方便？" in json.dumps(history, ensure_ascii=False)


def test_c_node_one_killed_mid_stream_loses_no_turn_and_no_outbox_message(cluster: Cluster) -> None:
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from assistant.storage.models import Turn

    # Outbox messages enqueued before the kill: emergencies nobody acknowledges are escalated to the
    # department's webhook, which refuses them for now (they stay pending in the outbox).
    alerted = [_ask(cluster.proxy_url, f"{FALL}，第{n}次") for n in range(3)]
    assert all(a.status_code == 200 and a.json()["action"] == "emergency" for a in alerted)
    deadline = time.monotonic() + DELIVERY_SECONDS
    while len(cluster.receiver.refused) < 4 and time.monotonic() < deadline:  # 3 now + test b's one
        time.sleep(0.1)
    assert len(cluster.receiver.refused) >= 4, "the worker did not try the escalations"

    results: list[tuple[float, int, str | None]] = []
    done = threading.Event()

    def chat_stream() -> None:
        n = 0
        while not done.is_set():
            n += 1
            try:
                answer = _ask(cluster.proxy_url, f"社保卡怎么办理 {n}", timeout=5)
                sid = answer.json().get("session_id") if answer.status_code == 200 else None
                results.append((time.monotonic(), answer.status_code, sid))
            except httpx.HTTPError:
                results.append((time.monotonic(), 0, None))

    streams = [threading.Thread(target=chat_stream, daemon=True) for _ in range(2)]
    for thread in streams:
        thread.start()
    time.sleep(1.5)
    killed = time.monotonic()
    _kill_group(cluster.nodes[0], signal.SIGKILL)  # the machine dies: master and worker at once
    time.sleep(3.0)
    done.set()
    for thread in streams:
        thread.join(10)

    with cluster.receiver.lock:
        cluster.receiver.accepting = True
    deadline = time.monotonic() + DELIVERY_SECONDS
    while not cluster.receiver.refused <= set(cluster.receiver.taken) and time.monotonic() < deadline:
        time.sleep(0.1)

    answered = [sid for _at, status, sid in results if status == 200 and sid]
    after_kill = [status for at, status, _sid in results if at > killed + 0.5]
    failed = [status for _at, status, _sid in results if status != 200]
    print(f"chat through nginx: {len(results)} requests, {len(answered)} answered, failures {failed}; "
          f"after the kill {after_kill.count(200)}/{len(after_kill)} answered; "
          f"outbox delivered {len(set(cluster.receiver.taken))} (refused before: {len(cluster.receiver.refused)})")
    engine = create_engine(cluster.database_url)
    try:
        with Session(engine) as db:
            stored = set(db.scalars(select(Turn.session_id).where(Turn.session_id.in_(answered))))
    finally:
        engine.dispose()
    assert answered and set(answered) <= stored, f"{len(set(answered) - stored)} answered turns were not stored"
    assert after_kill and after_kill.count(200) == len(after_kill), "requests failed after node 1 was gone"
    assert len(failed) <= 2, f"more than the two requests in flight at the kill failed: {failed}"
    assert cluster.receiver.refused <= set(cluster.receiver.taken), "outbox messages enqueued before the kill were lost"
