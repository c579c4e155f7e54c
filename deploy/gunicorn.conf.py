"""gunicorn settings for one web node of shequ (``gunicorn -c deploy/gunicorn.conf.py``).

The application is ``assistant.api.main:app_factory()``: each worker builds its own app (database pool, event
bus, knowledge base), so nothing is preloaded in the master (``preload_app = False``) and a worker that dies is
replaced cleanly. Every value can be overridden by the environment named next to it.

Background work (outbox, handoff timeouts, alert escalation, retention purge) is not done here when
``SHEQU_BACKGROUND_WORKER=false``: one ``shequ worker`` process per installation does it.

Prometheus: with ``PROMETHEUS_MULTIPROC_DIR`` set, ``/metrics`` of this node sums all its workers; the
directory is emptied when the master starts and a dead worker's files are marked here.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

from knowledge_base.retrieval.pretrained import share_cores_between_workers

bind = os.environ.get("SHEQU_BIND", "127.0.0.1:8000")  # nginx reaches the node here; 0.0.0.0:8000 across hosts
# Chat turns run in threads and mostly wait on the database: two workers per core is a sound start.
workers = int(os.environ.get("SHEQU_GUNICORN_WORKERS", str(max(2, min(8, 2 * multiprocessing.cpu_count())))))
# The pretrained encoder's OpenMP threads: each worker its share of the cores, or they oversubscribe them.
share_cores_between_workers(workers)
worker_class = "uvicorn_worker.UvicornWorker"
wsgi_app = "assistant.api.main:app_factory()"
preload_app = False
# A worker that answers nothing for this long is killed and replaced (turns take well under a second).
timeout = int(os.environ.get("SHEQU_GUNICORN_TIMEOUT", "60"))
# On SIGTERM open requests get this long; server-push streams end by themselves within 60 s
# (assistant/api/routes/events.py STREAM_SECONDS), so nothing waits longer than that.
graceful_timeout = int(os.environ.get("SHEQU_GUNICORN_GRACEFUL_TIMEOUT", "65"))
keepalive = 75  # longer than nginx's upstream keepalive_timeout (60 s), so nginx closes idle connections first
max_requests = 5000  # recycle workers now and then (slow leaks in native libraries)
max_requests_jitter = 500
# Believe X-Forwarded-For only from nginx: the same list the app uses (SHEQU_TRUSTED_PROXIES), as `shequ serve`
# does. gunicorn's own default would trust 127.0.0.1, letting anyone on the node pick their address.
forwarded_allow_ips = ",".join(p.strip() for p in os.environ.get("SHEQU_TRUSTED_PROXIES", "").split(",") if p.strip())
# gunicorn 23+ opens a control socket under $HOME by default; two nodes on one machine would share it, and
# systemd (or docker) already controls the process.
control_socket_disable = True
accesslog = None  # access logs carry addresses and paths with session ids: nginx keeps its own, masked by policy
errorlog = "-"
loglevel = os.environ.get("SHEQU_LOG_LEVEL", "info").lower()


def on_starting(server: Any) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:  # counts of the previous run would be summed in otherwise
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
