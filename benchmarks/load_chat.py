"""Load benchmark of the chat API: ``shequ serve --workers 2`` against 1, 16 and 64 concurrent clients.

Starts its own server on a free loopback port with a fresh database in a temporary directory (the index and
intent model are reused from ``var/`` when present), waits until /readyz answers, then for each concurrency level
runs a fixed number of requests (resident questions, new and continuing sessions) and prints p50/p99 latency,
requests per second, and the CPU time per request of the server and of the load generator. Traffic stays on
127.0.0.1.

The generator shares the machine's cores with the server, so its own cost lowers what the server can reach:
the default client is aiohttp (0.3–0.7 ms of CPU per request here); ``--client httpx`` takes 1.4–2.3 ms and, at
64 clients, fails now and then with ``ReadError`` (encode/httpx#3348, a client-side problem).

    .venv/bin/python benchmarks/load_chat.py [--workers 2] [--requests 2000] [--levels 1,16,64] [--client aiohttp]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import aiohttp
import httpx
from bench_server import running_server

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "高龄津贴怎么申请", "要带什么材料", "社保卡丢了怎么补", "异地就医备案怎么弄", "网上能办吗", "低保怎么申请",
    "那公租房呢", "残疾证怎么办", "去哪里办", "居住证怎么办理", "老人体检去哪里", "你好", "谢谢",
    "孩子打疫苗要预约吗", "失业金怎么领", "电费在哪里交", "养老金每年怎么认证", "医保一年交多少钱",
]


class ChatClient(Protocol):
    async def post(self, text: str, session_id: str | None) -> str: ...


class HttpxClient:
    def __init__(self, url: str, concurrency: int) -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.url = url
        self.http = httpx.AsyncClient(limits=limits, timeout=30)

    async def post(self, text: str, session_id: str | None) -> str:
        response = await self.http.post(self.url, json={"session_id": session_id, "text": text, "channel": "api"})
        response.raise_for_status()
        return response.json()["session_id"]

    async def close(self) -> None:
        await self.http.aclose()


class AiohttpClient:
    def __init__(self, url: str, concurrency: int) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency),
                                          timeout=aiohttp.ClientTimeout(total=30))

    async def post(self, text: str, session_id: str | None) -> str:
        async with self.http.post(self.url, json={"session_id": session_id, "text": text, "channel": "api"}) as r:
            r.raise_for_status()
            return (await r.json())["session_id"]

    async def close(self) -> None:
        await self.http.close()


CLIENTS: dict[str, Callable[[str, int], HttpxClient | AiohttpClient]] = {"aiohttp": AiohttpClient,
                                                                          "httpx": HttpxClient}


async def resident(http: ChatClient, count: int, latencies: list[float], rng: random.Random) -> None:
    """One resident after another: a new session every fourth question, follow-ups in between."""
    session_id = None
    for i in range(count):
        if i % 4 == 0:
            session_id = None
        started = time.perf_counter()
        session_id = await http.post(rng.choice(QUESTIONS), session_id)
        latencies.append((time.perf_counter() - started) * 1000)


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time of every live process in the server's process group (master and workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the command name: state, ppid, pgrp, ...
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_level(base: str, concurrency: int, total: int, client: str) -> tuple[float, float, float]:
    latencies: list[float] = []
    per_client = max(1, total // concurrency)
    http = CLIENTS[client](f"{base}/api/v1/chat", concurrency)
    try:
        await resident(http, 5, [], random.Random(0))  # warm up
        started = time.perf_counter()
        await asyncio.gather(*(resident(http, per_client, latencies, random.Random(c)) for c in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        await http.close()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    return statistics.median(latencies), p99, len(latencies) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--levels", default="1,16,64")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="aiohttp")
    args = parser.parse_args()
    with running_server(args.workers, "shequ-load-") as server:
        print(f"shequ serve --workers {args.workers}, {args.requests} requests per level, database "
              f"{server.database}, client {args.client}")
        for level in (int(x) for x in args.levels.split(",")):
            server_cpu, client_cpu = group_cpu_seconds(server.process.pid), own_cpu_seconds()
            p50, p99, rps = asyncio.run(run_level(server.base, level, args.requests, args.client))
            # CPU per request, server and load generator, tells where the two shared cores went.
            server_ms = (group_cpu_seconds(server.process.pid) - server_cpu) * 1000 / args.requests
            client_ms = (own_cpu_seconds() - client_cpu) * 1000 / args.requests
            print(f"  {level:>3} clients: p50 {p50:6.1f} ms  p99 {p99:7.1f} ms  {rps:7.1f} requests/s  "
                  f"CPU per request: server {server_ms:4.1f} ms, load generator {client_ms:4.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
