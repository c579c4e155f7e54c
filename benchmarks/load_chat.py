"""Load benchmark of the chat API: ``shequ serve --workers 2`` against 1, 16 and 64 concurrent clients.

Starts its own server on a free loopback port with a fresh database in a temporary directory (the index and
intent model are reused from ``var/`` when present), waits until /readyz answers, then for each concurrency level
runs a fixed number of requests (resident questions, new and continuing sessions) and prints p50/p99 latency
and requests per second. Traffic stays on 127.0.0.1.

    .venv/bin/python benchmarks/load_chat.py [--workers 2] [--requests 2000] [--levels 1,16,64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "高龄津贴怎么申请", "要带什么材料", "社保卡丢了怎么补", "异地就医备案怎么弄", "网上能办吗", "低保怎么申请",
    "那公租房呢", "残疾证怎么办", "去哪里办", "居住证怎么办理", "老人体检去哪里", "你好", "谢谢",
    "孩子打疫苗要预约吗", "失业金怎么领", "电费在哪里交", "养老金每年怎么认证", "医保一年交多少钱",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def client(http: httpx.AsyncClient, url: str, count: int, latencies: list[float], rng: random.Random) -> None:
    session_id = None
    for i in range(count):
        if i % 4 == 0:
            session_id = None
        started = time.perf_counter()
        response = await http.post(url, json={"session_id": session_id, "text": rng.choice(QUESTIONS),
                                              "channel": "api"})
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        session_id = response.json()["session_id"]


async def run_level(base: str, concurrency: int, total: int) -> tuple[float, float, float]:
    latencies: list[float] = []
    per_client = max(1, total // concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        await client(http, f"{base}/api/v1/chat", 5, [], random.Random(0))  # warm up
        started = time.perf_counter()
        await asyncio.gather(*(client(http, f"{base}/api/v1/chat", per_client, latencies, random.Random(c))
                               for c in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return statistics.median(latencies), p99, len(latencies) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--levels", default="1,16,64")
    args = parser.parse_args()
    port = free_port()
    var_dir = Path(tempfile.mkdtemp(prefix="shequ-load-"))
    if (ROOT / "var" / "index").exists():
        shutil.copytree(ROOT / "var" / "index", var_dir / "index")
    env = {**os.environ, "SHEQU_VAR_DIR": str(var_dir), "SHEQU_LOG_LEVEL": "WARNING",
           "SHEQU_DATABASE_URL": os.environ.get("SHEQU_BENCH_DATABASE_URL", "")}
    shequ = str(Path(sys.executable).with_name("shequ"))
    server = subprocess.Popen([shequ, "serve", "--port", str(port), "--workers", str(args.workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                print("server exited early", file=sys.stderr)
                return 1
            time.sleep(0.5)
        else:
            print("server did not become ready", file=sys.stderr)
            return 1
        print(f"shequ serve --workers {args.workers}, {args.requests} requests per level, database "
              f"{'PostgreSQL' if env['SHEQU_DATABASE_URL'] else 'SQLite (WAL)'}")
        for level in (int(x) for x in args.levels.split(",")):
            p50, p99, rps = asyncio.run(run_level(base, level, args.requests))
            print(f"  {level:>3} clients: p50 {p50:6.1f} ms  p99 {p99:7.1f} ms  {rps:7.1f} requests/s")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(var_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
