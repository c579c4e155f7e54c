"""CAP samples for the warning tests (not a test module): the files in ``tests/fixtures/cap`` and what is
made from them (times moved to now, a 20 MB document, an Atom feed of CAP links, a signed push)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cap"
# The sequence of issue 17: rainstorm, typhoon, landslide, an update (rainstorm to red), a cancel.
GOOD = ("rainstorm_orange", "typhoon_blue", "typhoon_yellow", "landslide_red", "rainstorm_red_update",
        "rainstorm_cancel")
HOSTILE = ("billion_laughs", "external_entity", "wrong_namespace", "not_xml")
_TIME = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
FIXTURE_EPOCH = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)  # 20:00 China time, the rainstorm's <sent>


def cap(name: str) -> bytes:
    return (FIXTURES / f"{name}.xml").read_bytes()


def shifted(data: bytes, now: dt.datetime, epoch: dt.datetime = FIXTURE_EPOCH) -> bytes:
    """``data`` with every CAP time moved by ``now - epoch``, so a sample is current whenever the test runs."""
    delta = now - epoch

    def move(match: re.Match[bytes]) -> bytes:
        value = dt.datetime.fromisoformat(match.group().decode())
        return (value + delta).isoformat().encode()

    return _TIME.sub(move, data)


def huge_document(size: int = 20 * 1024 * 1024) -> bytes:
    """A well-formed CAP alert of ``size`` bytes (a description that never ends)."""
    head = cap("rainstorm_orange").split(b"<description>", 1)[0] + b"<description>"
    tail = b"</description></info></alert>"
    return head + b"x" * max(0, size - len(head) - len(tail)) + tail


def atom_feed(links: list[str], title: str = "南宁市突发事件预警信息") -> bytes:
    """An Atom feed whose entries link to CAP documents, as WMO alert hubs publish them."""
    entries = "".join(
        f"<entry><id>urn:test:{i}</id><title>预警 {i}</title><updated>2026-12-04T20:00:00+08:00</updated>"
        f'<link rel="alternate" type="application/cap+xml" href="{link}"/></entry>' for i, link in enumerate(links))
    return (f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{title}</title><id>urn:test:feed</id><updated>2026-12-04T20:00:00+08:00</updated>"
            f"{entries}</feed>").encode()


def rss_feed(links: list[str]) -> bytes:
    items = "".join(f"<item><title>预警 {i}</title><link>{link}</link></item>" for i, link in enumerate(links))
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>预警</title>'
            f"{items}</channel></rss>").encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class CapServer:
    """A local feed server (loopback only): ``routes`` maps a path to a body (bytes) or to a
    ``(status, headers, body)`` tuple; ``/feed``-style answers carry an ETag and honour ``If-None-Match``.
    ``requests`` records (path, headers) of every request; ``delay`` slows every answer (timeouts)."""

    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.delay = 0.0
        self._server: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    @contextmanager
    def running(self) -> Iterator[CapServer]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                if fake.delay:
                    time.sleep(fake.delay)
                route = fake.routes.get(self.path)
                if route is None:
                    status, headers, body = 404, {}, b"not found"
                elif isinstance(route, tuple):
                    status, headers, body = route
                else:
                    status, headers, body = 200, {}, route
                etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                if status == 200 and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("ETag", etag)
                chunked = headers.pop("_no_length", False) if isinstance(headers, dict) else False
                for name, value in headers.items():
                    self.send_header(name, value)
                if not chunked:
                    self.send_header("Content-Length", str(len(body)))
                else:
                    self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for start in range(0, len(body), 64 * 1024):
                        self.wfile.write(body[start:start + 64 * 1024])
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading at its cap
                if chunked:
                    self.close_connection = True

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
