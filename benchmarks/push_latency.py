"""Push latency of a live handoff with ``shequ serve --workers 2`` and the default ``db:`` event bus.

Starts its own server on a free loopback port with a fresh database in a temporary directory (office hours all
day, nobody swept to 留言), creates a staff account with ``shequ users create --password-stdin``, signs in, opens
the staff event stream (``GET /staff/api/events``, SSE) and a resident conversation that a staff member claims.
Then it measures, N times each:

(a) resident → staff: from sending a message (``POST /api/v1/chat``) until the staff stream receives the
    ``message`` event for it. The chat request and the stream usually land on different workers, so the event
    crosses processes through the database bus;
(b) staff → resident: from posting a reply (``POST /staff/api/handoffs/{id}/messages``) until the resident's
    page has it, the way the web chat does during a handoff (``chat.js``): the conversation's own event stream
    (``GET /api/v1/sessions/{id}/events``) says a message is there, and ``GET …/messages`` fetches it;
(c) the same without push: polling ``…/messages`` 4 s after the previous poll answered (the web chat's
    fallback when EventSource is unavailable), replies posted at random moments of the poll cycle.

Prints p50/p99/max of each. Traffic stays on 127.0.0.1; every wait is bounded.

    .venv/bin/python benchmarks/push_latency.py [--workers 2] [-n 50]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from bench_server import running_server, shequ_command

ROOT = Path(__file__).resolve().parent.parent
RESIDENT_POLL_SECONDS = 4.0  # chat.js POLL_MS
WAIT_SECONDS = 20.0  # one sample gives up after this (counted as a timeout)
PASSWORD = "push-latency-bench-password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(name: str, values: list[float], timeouts: int) -> str:
    if not values:
        return f"  {name}: no samples ({timeouts} timed out)"
    return (f"  {name}: n={len(values)}  p50 {percentile(values, 0.5) * 1000:7.1f} ms  "
            f"p99 {percentile(values, 0.99) * 1000:7.1f} ms  max {max(values) * 1000:7.1f} ms  "
            f"mean {statistics.fmean(values) * 1000:7.1f} ms" + (f"  ({timeouts} timed out)" if timeouts else ""))


class Stream:
    """The staff event stream, read in a thread; remembers when each ``message`` event arrived."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.cond = threading.Condition()
        self.last_id = ""
        self.thread = threading.Thread(target=self._run, name="sse", daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            headers = {"Accept": "text/event-stream"}
            if self.last_id:
                headers["Last-Event-ID"] = self.last_id
            try:
                with self.client.stream("GET", "/staff/api/events", headers=headers,
                                        timeout=httpx.Timeout(10, read=60)) as response:
                    response.raise_for_status()
                    self.ready.set()
                    kind = ""
                    for line in response.iter_lines():
                        if self.stop.is_set():
                            return
                        if line.startswith("id:"):
                            self.last_id = line[3:].strip()
                        elif line.startswith("event:"):
                            kind = line[6:].strip()
                        elif line.startswith("data:") and kind == "message":
                            data = json.loads(line[5:].strip())
                            with self.cond:
                                self.arrivals.append((time.perf_counter(), data))
                                self.cond.notify_all()
                        elif not line:
                            kind = ""
            except httpx.HTTPError:
                time.sleep(0.2)  # the server ends a stream now and then; reconnect where it left off

    def wait_for(self, session_id: str, since: float, timeout: float) -> float | None:
        deadline = time.perf_counter() + timeout
        with self.cond:
            while True:
                for at, data in self.arrivals:
                    if at >= since and data.get("session_id") == session_id:
                        return at
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.cond.wait(left)


class Resident:
    """The web chat during a handoff, in a thread: fetches ``/messages`` when its event stream announces one
    (``push``), or every 4 s (``poll``, chat.js's fallback)."""

    def __init__(self, base: str, session_id: str, *, push: bool) -> None:
        self.http = httpx.Client(base_url=base, timeout=httpx.Timeout(10, read=400))
        self.session_id = session_id
        self.push = push
        self.after = 0
        self.seen: dict[str, float] = {}  # agent text → when the page first had it
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._listen if push else self._poll, name="resident", daemon=True)

    def fetch(self) -> None:
        try:
            body = self.http.get(f"/api/v1/sessions/{self.session_id}/messages", params={"after": self.after}).json()
        except (httpx.HTTPError, ValueError):
            return
        now = time.perf_counter()
        with self.cond:
            for message in body.get("messages", []):
                self.after = max(self.after, int(message["id"]))
                if message["from"] == "agent":
                    self.seen.setdefault(message["text"], now)
            self.cond.notify_all()

    def _poll(self) -> None:
        self.ready.set()
        while not self.stop.is_set():
            self.fetch()
            self.stop.wait(RESIDENT_POLL_SECONDS)  # chat.js: the next poll 4 s after this one answered

    def _listen(self) -> None:
        last_id = ""
        while not self.stop.is_set():
            headers = {"Accept": "text/event-stream", **({"Last-Event-ID": last_id} if last_id else {})}
            try:
                with self.http.stream("GET", f"/api/v1/sessions/{self.session_id}/events",
                                      headers=headers) as response:
                    response.raise_for_status()
                    self.ready.set()
                    for line in response.iter_lines():
                        if self.stop.is_set():
                            return
                        if line.startswith("id:"):
                            last_id = line[3:].strip()
                        elif line.startswith("event:") and line[6:].strip() == "message":
                            self.fetch()
            except httpx.HTTPError:
                time.sleep(0.2)  # the server ends a stream now and then; reconnect where it left off

    def wait_for(self, text: str, timeout: float) -> float | None:
        deadline = time.perf_counter() + timeout
        with self.cond:
            while text not in self.seen:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.seen[text]


def staff_to_resident(base: str, staff: httpx.Client, headers: dict[str, str], sid: str, hid: int, n: int, *,
                      push: bool) -> tuple[list[float], int]:
    resident = Resident(base, sid, push=push)
    resident.thread.start()
    if not resident.ready.wait(30):
        raise SystemExit("the resident's event stream did not open")
    time.sleep(0.5)
    latencies: list[float] = []
    lost = 0
    for i in range(n):
        time.sleep(random.uniform(0, RESIDENT_POLL_SECONDS) if not push else random.uniform(0.05, 0.3))
        text = f"您好，第{i + 1}次回复（{'push' if push else 'poll'}），工作人员马上过来。"
        posted = time.perf_counter()
        response = staff.post(f"/staff/api/handoffs/{hid}/messages", json={"text": text}, headers=headers)
        if response.status_code != 201:
            raise SystemExit(f"reply failed: HTTP {response.status_code}")
        shown = resident.wait_for(text, WAIT_SECONDS)
        if shown is None:
            lost += 1
        else:
            latencies.append(shown - posted)
    resident.stop.set()
    return latencies, lost


# Office hours all day and nobody swept to 留言, so every sample reaches a person; sign-ins are not throttled.
BENCH_ENV = {"SHEQU_EVENTS_URL": "db:", "SHEQU_OFFICE_HOURS": "00:00-24:00", "SHEQU_OFFICE_WEEKENDS": "true",
             "SHEQU_HANDOFF_CLAIM_TIMEOUT_SECONDS": "86400", "SHEQU_STAFF_COOKIE_SECURE": "false",
             "SHEQU_STAFF_LOGIN_RATE_PER_MINUTE": "1000"}


def create_staff_account(env: dict[str, str]) -> None:
    created = subprocess.run([shequ_command(), "users", "create", "--username", "bench", "--role", "staff",
                              "--password-stdin"], input=PASSWORD + "\n", text=True, env=env,
                             capture_output=True, timeout=300)
    if created.returncode != 0:
        raise SystemExit(f"could not create the staff account: {created.stderr.strip()[-300:]}")


def sign_in(base: str) -> tuple[httpx.Client, str]:
    staff = httpx.Client(base_url=base, timeout=10)
    page = staff.get("/staff/login").text
    token = _CSRF.search(page)
    assert token, "no CSRF token on the sign-in page"
    signed = staff.post("/staff/login", data={"username": "bench", "password": PASSWORD,
                                              "csrf_token": token.group(1), "next": "/staff/"})
    if signed.status_code != 303:
        raise SystemExit(f"sign-in failed: HTTP {signed.status_code}")
    inbox = _CSRF.search(staff.get("/staff/inbox").text)
    assert inbox, "no CSRF token on the inbox page"
    return staff, inbox.group(1)


def measure(base: str, n: int) -> None:
    staff, token = sign_in(base)
    headers = {"X-CSRF-Token": token}
    stream = Stream(httpx.Client(base_url=base, cookies=staff.cookies, timeout=10))
    stream.thread.start()
    if not stream.ready.wait(30):
        raise SystemExit("the staff event stream did not open (GET /staff/api/events)")
    chat = httpx.Client(base_url=base, timeout=10)
    first = chat.post("/api/v1/chat", json={"session_id": None, "text": "转人工", "channel": "web"}).json()
    sid = first["session_id"]
    items = staff.get("/staff/api/handoffs").json()["items"]
    hid = next(item["id"] for item in items if item["session_id"] == sid)
    claimed = staff.post(f"/staff/api/handoffs/{hid}/claim", headers=headers)
    if claimed.status_code != 200:
        raise SystemExit(f"claim failed: HTTP {claimed.status_code}")
    time.sleep(1)

    to_staff: list[float] = []
    lost_a = 0
    for i in range(n):
        sent = time.perf_counter()
        chat.post("/api/v1/chat", json={"session_id": sid, "text": f"第{i + 1}条：楼道的灯还是不亮", "channel": "web"})
        arrived = stream.wait_for(sid, sent, WAIT_SECONDS)
        if arrived is None:
            lost_a += 1
        else:
            to_staff.append(arrived - sent)
        time.sleep(random.uniform(0.05, 0.3))

    pushed, lost_b = staff_to_resident(base, staff, headers, sid, hid, n, push=True)
    polled, lost_c = staff_to_resident(base, staff, headers, sid, hid, n, push=False)
    stream.stop.set()

    print(summary("(a) resident message → staff stream event", to_staff, lost_a))
    print(summary("(b) staff reply → resident's page has it (push stream, as chat.js)", pushed, lost_b))
    print(summary(f"(c) staff reply → resident's poll shows it (no push, every {RESIDENT_POLL_SECONDS:.0f} s)",
                  polled, lost_c))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("-n", type=int, default=50, help="samples of each direction")
    args = parser.parse_args()
    with running_server(args.workers, "shequ-push-", BENCH_ENV, create_staff_account) as server:
        print(f"shequ serve --workers {args.workers}, event bus {server.env['SHEQU_EVENTS_URL']}, database "
              f"{server.database}, {args.n} samples each")
        measure(server.base, args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
