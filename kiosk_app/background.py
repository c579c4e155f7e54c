"""One loop on a daemon thread, for the kiosk's talks with the server (heartbeat, bulletins).

``start()`` runs ``run_once`` at once and then again after ``next_delay()`` seconds until ``stop()``; the UI never
waits for it. An exception that escapes a round is logged by its type and counted in ``failures`` (the next round
may work); subclasses count their own handled failures there too, so ``next_delay`` can back off.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class BackgroundLoop:
    thread_name = "kiosk-background"

    def __init__(self) -> None:
        self.failures = 0  # rounds failed in a row
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> object:
        raise NotImplementedError

    def next_delay(self) -> float:
        raise NotImplementedError

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as e:  # never let the thread die: the next round may work
                log.warning("%s round failed: %s", self.thread_name, type(e).__name__)
                self.failures += 1
            if self._stop.wait(self.next_delay()):
                break

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
