"""Running slow work (the assistant, the printer) off the UI thread, and delivering results back on it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Runner(Protocol):
    def submit(self, work: Callable[[], T], done: Callable[[T], None],
               failed: Callable[[BaseException], None]) -> None: ...

    def shutdown(self) -> None: ...


class InlineRunner:
    """Runs work at once on the caller's thread (tests, screenshots)."""

    def submit(self, work: Callable[[], T], done: Callable[[T], None],
               failed: Callable[[BaseException], None]) -> None:
        try:
            result = work()
        except Exception as e:
            failed(e)
            return
        done(result)

    def shutdown(self) -> None:
        pass


class ThreadRunner:
    """One worker thread, so turns reach the assistant in the order they were tapped; ``call_soon`` puts the
    callbacks back on the UI thread (Kivy: ``Clock.schedule_once``)."""

    def __init__(self, call_soon: Callable[[Callable[[], None]], None]) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-work")
        self._call_soon = call_soon

    def submit(self, work: Callable[[], T], done: Callable[[T], None],
               failed: Callable[[BaseException], None]) -> None:
        def finished(future: Future[Any]) -> None:
            error = future.exception()
            if error is not None:
                self._call_soon(lambda: failed(error))
            else:
                result = future.result()
                self._call_soon(lambda: done(result))

        self._executor.submit(work).add_done_callback(finished)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
