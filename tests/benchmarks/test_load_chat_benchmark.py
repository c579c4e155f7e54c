"""The load benchmark itself runs end to end (a real ``shequ serve --workers 2``) and prints its table.

Only the shape of the output is checked: speed is reported by the benchmark, never asserted in a test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\s+(\d+) clients: p50\s+[\d.]+ ms\s+p99\s+[\d.]+ ms\s+[\d.]+ requests/s\s+"
                 r"CPU per request: server\s+[\d.]+ ms, load generator\s+[\d.]+ ms$")


@pytest.mark.slow
@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
def test_load_benchmark_prints_a_row_per_level(client: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "load_chat.py"), "--requests", "24", "--levels", "1,4",
         "--client", client],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHEQU_LOG_LEVEL": "WARNING"},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert any(f"client {client}" in line and "SQLite" in line for line in lines), result.stdout
    levels = [int(match.group(1)) for line in lines if (match := ROW.match(line))]
    assert levels == [1, 4], result.stdout
