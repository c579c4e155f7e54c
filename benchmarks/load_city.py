"""City load benchmark (issue 15): simulated residents across many communities, 1 node against 2 nodes.

Each simulated resident belongs to one of the communities and, until the time is up, starts a conversation in
its community, asks one or two follow-ups, now and then asks for a person or reports a problem, and pauses
between messages as a person does (``--think`` seconds, uniformly 0.5×–1.5×). The kiosks of every community
send heartbeats (``--heartbeat`` seconds). Every request is timed by kind; the figures printed are p50/p99
per kind, requests per second and errors, for one app node and then for two app nodes on the same database
(PostgreSQL) and Redis, the load spread over the nodes by the client (or by nginx with ``--nginx``).

Needs the machine's PostgreSQL and Redis (``SHEQU_BENCH_DATABASE_URL``, default the test database;
``SHEQU_BENCH_REDIS_URL``, default redis://127.0.0.1:6379/5). Loopback only. On a two-core machine two nodes
share the same cores: the comparison shows the cost of the second node's coordination, not more capacity.

    .venv/bin/python benchmarks/load_city.py [--residents 200] [--communities 20] [--minutes 10] [--nodes 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import aiohttp
import yaml
from bench_server import free_port, shequ_command, wait_ready
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "高龄津贴怎么申请", "社保卡丢了怎么补", "异地就医备案怎么弄", "低保怎么申请", "残疾证怎么办", "居住证怎么办理",
    "老人体检去哪里", "孩子打疫苗要预约吗", "失业金怎么领", "养老金每年怎么认证", "医保一年交多少钱",
    "公租房怎么申请", "我想问下那个老人补贴的事", "新生儿医保怎么参保", "灵活就业社保怎么交",
]
FOLLOW_UPS = ["要带什么材料", "去哪里办", "网上能办吗", "大概多久有结果", "要钱吗", "那要准备点啥"]
HANDOFF = "我要找工作人员"
REPORT = "我要反映问题"
HANDOFF_SHARE = 0.05
REPORT_SHARE = 0.03


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Recorder:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)

    def report(self, seconds: float, label: str) -> None:
        total = sum(len(v) for v in self.latencies.values())
        print(f"  {label}: {total} requests in {seconds:.0f} s = {total / seconds:.1f} requests/s, "
              f"errors {sum(self.errors.values())}")
        for kind in sorted(set(self.latencies) | set(self.errors)):
            values = self.latencies.get(kind, [])
            if values:
                print(f"    {kind:<10} n={len(values):>6}  p50 {statistics.median(values):7.1f} ms  "
                      f"p99 {percentile(values, 0.99):8.1f} ms  errors {self.errors.get(kind, 0)}")
            else:
                print(f"    {kind:<10} n=     0  errors {self.errors.get(kind, 0)}")


async def timed(recorder: Recorder, kind: str, call: asyncio.Future | object) -> dict | None:
    started = time.perf_counter()
    try:
        result = await call  # type: ignore[misc]
    except (aiohttp.ClientError, TimeoutError, ValueError):
        recorder.errors[kind] += 1
        return None
    recorder.latencies[kind].append((time.perf_counter() - started) * 1000)
    return result


async def post_json(http: aiohttp.ClientSession, url: str, body: dict, headers: dict | None = None) -> dict:
    async with http.post(url, json=body, headers=headers) as response:
        if response.status != 200:
            raise ValueError(f"HTTP {response.status}")
        return await response.json()


async def resident(http: aiohttp.ClientSession, bases: list[str], community: str, deadline: float,
                   think: float, rng: random.Random, recorder: Recorder) -> None:
    async def pause() -> None:
        await asyncio.sleep(min(think * rng.uniform(0.5, 1.5), max(0.0, deadline - time.monotonic())))

    await asyncio.sleep(rng.uniform(0, think))  # residents do not all arrive in the same second
    while time.monotonic() < deadline:
        base = rng.choice(bases)
        roll = rng.random()
        if roll < HANDOFF_SHARE:
            kind, first = "handoff", HANDOFF
        elif roll < HANDOFF_SHARE + REPORT_SHARE:
            kind, first = "report", REPORT
        else:
            kind, first = "chat", rng.choice(QUESTIONS)
        body = {"text": first, "channel": "api", "community": community}
        reply = await timed(recorder, kind, post_json(http, f"{base}/api/v1/chat", body))
        if reply is None or kind != "chat":
            await pause()
            continue
        for _ in range(rng.choice((1, 1, 2))):
            if time.monotonic() >= deadline:
                return
            await pause()
            body = {"text": rng.choice(FOLLOW_UPS), "channel": "api", "session_id": reply["session_id"]}
            await timed(recorder, "follow-up", post_json(http, f"{rng.choice(bases)}/api/v1/chat", body))
        await pause()


async def kiosk(http: aiohttp.ClientSession, bases: list[str], token: str, deadline: float, every: float,
                rng: random.Random, recorder: Recorder) -> None:
    await asyncio.sleep(rng.uniform(0, every))
    health = {"printer": "ok", "reader": "ok", "microphone": "ok"}
    while time.monotonic() < deadline:
        body = {"version": "bench", "health": health, "uptime_seconds": 60}
        await timed(recorder, "heartbeat", post_json(http, f"{rng.choice(bases)}/api/v1/kiosk/heartbeat", body,
                                                     {"Authorization": f"Bearer {token}"}))
        await asyncio.sleep(min(every, max(0.0, deadline - time.monotonic())))


async def run_load(bases: list[str], communities: list[str], tokens: list[str], args: argparse.Namespace
                   ) -> Recorder:
    recorder = Recorder()
    connector = aiohttp.TCPConnector(limit=args.residents + len(tokens))
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        # Warm-up, not timed: each node's first turn for each community builds that community's view.
        for base in bases:
            for community in communities:
                await post_json(http, f"{base}/api/v1/chat", {"text": QUESTIONS[0], "community": community})
        deadline = time.monotonic() + args.minutes * 60
        tasks = [resident(http, bases, communities[i % len(communities)], deadline, args.think,
                          random.Random(i), recorder) for i in range(args.residents)]
        tasks += [kiosk(http, bases, token, deadline, args.heartbeat, random.Random(10_000 + i), recorder)
                  for i, token in enumerate(tokens)]
        await asyncio.gather(*tasks)
    return recorder


# ---------------------------------------------------------------- the installation under test

@contextmanager
def fresh_schema(base_url: str) -> Iterator[str]:
    schema = f"bench_city_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def prepare(env: dict[str, str], var_dir: Path, count: int) -> tuple[list[str], list[str]]:
    """Imports the communities and registers one kiosk in each; returns their codes and the kiosks' tokens."""
    codes, tokens = [], []
    for i in range(count):
        code = f"bench-{i:02d}"
        profile = var_dir / f"{code}.yaml"
        profile.write_text(yaml.safe_dump({"name": f"测试社区{i:02d}", "phone": ""}, allow_unicode=True),
                           encoding="utf-8")
        subprocess.run([shequ_command(), "communities", "import", str(profile), "--code", code], env=env,
                       check=True, capture_output=True)
        codes.append(code)
        registered = subprocess.run([shequ_command(), "kiosks", "register", "--community", code, "--name",
                                     f"{code}-1"], env=env, capture_output=True, text=True)
        token = next((w for line in registered.stdout.splitlines() for w in line.split() if len(w) >= 32), None)
        if registered.returncode == 0 and token:
            tokens.append(token)
    if not tokens:
        print("  (no kiosk registration command answered: heartbeats left out)")
    return codes, tokens


def start_node(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([shequ_command(), "serve", "--port", str(port), "--workers", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--communities", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--nodes", default="1,2")
    parser.add_argument("--think", type=float, default=3.0, help="seconds between a resident's messages")
    parser.add_argument("--heartbeat", type=float, default=30.0, help="seconds between a kiosk's heartbeats")
    args = parser.parse_args()
    database = os.environ.get("SHEQU_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    redis = os.environ.get("SHEQU_BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
    print(f"{args.residents} residents in {args.communities} communities, {args.minutes:g} min per run, "
          f"think time {args.think:g} s, kiosk heartbeat every {args.heartbeat:g} s; PostgreSQL + Redis")
    for nodes in (int(n) for n in args.nodes.split(",")):
        var_dir = Path(tempfile.mkdtemp(prefix="shequ-city-"))
        if (ROOT / "var" / "index").exists():
            shutil.copytree(ROOT / "var" / "index", var_dir / "index")
        with fresh_schema(database) as url, ExitStack() as stack:
            env = {**os.environ, "SHEQU_VAR_DIR": str(var_dir), "SHEQU_LOG_LEVEL": "WARNING",
                   "SHEQU_DATABASE_URL": url, "SHEQU_EVENTS_URL": redis, "SHEQU_RATE_LIMIT_URL": redis,
                   "SHEQU_OFFICE_HOURS": "00:00-24:00"}
            communities, tokens = prepare(env, var_dir, args.communities)
            bases = []
            for _ in range(nodes):
                port = free_port()
                process = start_node(env, port)
                stack.callback(stop, process)
                wait_ready(process, f"http://127.0.0.1:{port}")
                bases.append(f"http://127.0.0.1:{port}")
            recorder = asyncio.run(run_load(bases, communities, tokens, args))
            recorder.report(args.minutes * 60, f"{nodes} node{'s' if nodes > 1 else ''}")
        shutil.rmtree(var_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
