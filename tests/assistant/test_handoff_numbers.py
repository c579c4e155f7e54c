"""Work-order numbers stay unique when two OS processes create orders at the same moment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from handoff_testkit import migrated

from assistant.settings import PROJECT_ROOT

PER_PROCESS = 25

WORKER = textwrap.dedent("""
    import datetime as dt, json, os, sys, time
    from cryptography.fernet import Fernet
    from assistant.handoff.calendar import CHINA
    from assistant.handoff.tickets import create_work_order
    from assistant.security.crypto import PersonalDataCipher
    from assistant.storage.db import make_engine, make_session_factory, session_scope

    url, start_file, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    factory = make_session_factory(make_engine(url))
    cipher = PersonalDataCipher(Fernet.generate_key())
    now = dt.datetime(2026, 3, 10, 10, 0, tzinfo=CHINA)
    while not os.path.exists(start_file):  # both processes start together
        time.sleep(0.005)
    numbers = []
    for i in range(count):
        with session_scope(factory) as db:
            order = create_work_order(db, cipher, source="staff", description=f"并发测试{i}", now=now)
            numbers.append(order.number)
    print(json.dumps(numbers))
""")


@pytest.mark.slow
def test_two_processes_never_draw_the_same_number(db_url, tmp_path: Path):
    with migrated(db_url):
        pass  # schema first, so the workers only race on numbers
    start = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, db_url, str(start), str(PER_PROCESS)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
               for _ in range(2)]
    time.sleep(0.5)  # let both import and connect before the start signal
    start.touch()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    numbers = [n for result in results for n in result]
    assert len(numbers) == 2 * PER_PROCESS
    assert len(set(numbers)) == len(numbers)  # unique across processes
    assert sorted(numbers) == [f"GX20260310{i:03d}" for i in range(1, 2 * PER_PROCESS + 1)]  # and gap-free
    assert all(len(result) == PER_PROCESS for result in results)
