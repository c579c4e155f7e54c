"""A throwaway ``shequ serve`` for the benchmarks: a free loopback port, a fresh database in a temporary
directory (the index and intent model are reused from ``var/`` when present), ready when /readyz answers,
and stopped with its whole process group afterwards."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
READY_SECONDS = 240  # building the index on a cold start takes a while on two cores


@dataclass(frozen=True)
class BenchServer:
    process: subprocess.Popen[bytes]
    base: str
    env: dict[str, str]

    @property
    def database(self) -> str:
        return "PostgreSQL" if self.env.get("SHEQU_DATABASE_URL") else "SQLite (WAL)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shequ_command() -> str:
    return str(Path(sys.executable).with_name("shequ"))


@contextmanager
def running_server(workers: int, prefix: str, extra_env: dict[str, str] | None = None,
                   prepare: Callable[[dict[str, str]], None] | None = None) -> Iterator[BenchServer]:
    """``shequ serve --workers N`` until the block ends; ``prepare(env)`` runs first (e.g. creating accounts).

    ``SHEQU_BENCH_DATABASE_URL`` picks PostgreSQL; empty means SQLite in the temporary directory.
    """
    var_dir = Path(tempfile.mkdtemp(prefix=prefix))
    if (ROOT / "var" / "index").exists():
        shutil.copytree(ROOT / "var" / "index", var_dir / "index")
    if (ROOT / "var" / "index-pretrained.npz").exists():  # the pretrained encoder's vectors of the questions
        shutil.copy2(ROOT / "var" / "index-pretrained.npz", var_dir / "index-pretrained.npz")
    env = {**os.environ, "SHEQU_VAR_DIR": str(var_dir), "SHEQU_LOG_LEVEL": "WARNING",
           "SHEQU_DATABASE_URL": os.environ.get("SHEQU_BENCH_DATABASE_URL", ""), **(extra_env or {})}
    server: subprocess.Popen[bytes] | None = None
    try:
        if prepare is not None:
            prepare(env)
        port = free_port()
        server = subprocess.Popen([shequ_command(), "serve", "--port", str(port), "--workers", str(workers)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        wait_ready(server, base)
        yield BenchServer(server, base, env)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        shutil.rmtree(var_dir, ignore_errors=True)


def wait_ready(server: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise SystemExit("server exited early")
        time.sleep(0.5)
    raise SystemExit("server did not become ready")
