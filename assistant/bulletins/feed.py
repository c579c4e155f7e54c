"""Polling the configured CAP feed (``Settings.warning_feed_url``) and ingesting what is new.

The feed is either a CAP document itself (one ``<alert>``, or a wrapper of several) or an Atom/RSS feed whose
entries link to CAP documents, as the WMO alert hubs and the national release system publish them. Each poll:

- the feed is fetched with a conditional GET (``If-None-Match`` / ``If-Modified-Since`` from the last answer),
  so an unchanged feed costs a 304 and nothing else;
- every response is read as a stream and dropped once it passes its cap (``MAX_FEED_BYTES`` for the feed,
  ``MAX_CAP_BYTES`` for a CAP document), whatever Content-Length claims; each request has ``FEED_TIMEOUT``;
- at most ``MAX_ENTRIES_PER_POLL`` entries not fetched before are followed, and only to http(s) URLs (redirects
  too: httpx follows nothing else, and at most its 20 hops);
- a refused document costs one log line (the reason and the URL's host, never its content) and the rest of
  the feed goes on; the alerts are handed over oldest first, so an Update follows the Alert it replaces.

``WarningFeedPoller`` runs one poll and ingest (``warnings.ingest``) per ``warning_feed_poll_seconds`` from
the background worker round. One poller of the installation at a time: on PostgreSQL the poll runs under
``pg_try_advisory_lock`` (a node that does not get it skips the round), which spares the feed N nodes' worth
of requests; correctness does not depend on it, since ingest keeps one row per (sender, identifier) and a
second delivery of the same alert is a ``duplicate``.
"""

from __future__ import annotations

import logging
import threading
import time
import xml.etree.ElementTree as ET  # Element and ParseError only: parsing is defusedxml's
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import defusedxml.ElementTree as DET
import httpx
from defusedxml import DefusedXmlException
from sqlalchemy import text

from assistant.bulletins import CapError
from assistant.bulletins.cap import CAP_NAMESPACE, MAX_CAP_BYTES, CapAlert, parse_many
from assistant.storage.db import session_scope

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 2 * 1024 * 1024  # an Atom index of a province's warnings is tens of kilobytes
MAX_ENTRIES_PER_POLL = 20  # new entries followed per poll; the rest wait for the next one
FEED_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_REMEMBERED_LINKS = 1000  # entry links already fetched, so a poll fetches only new ones
ALLOWED_SCHEMES = ("http", "https")
FEED_LOCK_KEY = 0x5E09_0017  # pg_try_advisory_lock key of the one feed poller (any constant of this app)
ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
CAP_TYPES = ("application/cap+xml", "application/xml", "text/xml")
USER_AGENT = "shequ-warning-feed/1.0"


@dataclass
class FeedState:
    """What one poller remembers between polls: the validators of the last feed answer and the entry links
    already fetched (bounded). ``last_error`` is the last feed-level refusal, for ``shequ warnings poll``."""

    etag: str = ""
    last_modified: str = ""
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    last_error: str = ""
    refused: int = 0  # documents refused in the last poll

    def remember(self, link: str) -> None:
        self.seen[link] = None
        self.seen.move_to_end(link)
        while len(self.seen) > MAX_REMEMBERED_LINKS:
            self.seen.popitem(last=False)

    def reset(self) -> None:
        """Forget everything: the next poll fetches the feed and its entries again (after a failed ingest)."""
        self.etag = self.last_modified = ""
        self.seen.clear()


class _Refused(Exception):
    """A response not read (status, size, network): the reason is short and has no content in it.
    ``transient``: the network or a 5xx/429, worth another try next poll (a 4xx or an oversize is not)."""

    def __init__(self, reason: str, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"


def _allowed(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() in ALLOWED_SCHEMES and bool(parts.hostname)


def _fetch(client: httpx.Client, url: str, max_bytes: int,
           headers: dict[str, str] | None = None) -> tuple[int, bytes, httpx.Headers]:
    """(status, body, headers); the body is read up to ``max_bytes`` and refused beyond."""
    try:
        with client.stream("GET", url, headers={"User-Agent": USER_AGENT, **(headers or {})},
                           timeout=FEED_TIMEOUT, follow_redirects=True) as response:
            if response.status_code == 304:
                return 304, b"", response.headers
            if response.status_code != 200:
                code = response.status_code
                raise _Refused(f"http {code}", transient=code >= 500 or code == 429)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _Refused("too large")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise _Refused("too large")
                chunks.append(chunk)
            return 200, b"".join(chunks), response.headers
    except httpx.HTTPError as e:
        raise _Refused(f"network {type(e).__name__}", transient=True) from None


def _local(tag: object) -> tuple[str, str]:
    value = str(tag)
    if value.startswith("{"):
        ns, _, name = value[1:].partition("}")
        return ns, name
    return "", value


def _feed_root(data: bytes) -> ET.Element:
    try:
        return DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise CapError("DTD not allowed" if "DTD" in type(e).__name__ else "entities not allowed") from e
    except (ET.ParseError, ValueError) as e:
        raise CapError("not XML") from e


def _atom_link(entry: ET.Element) -> str:
    links = [link for link in entry if _local(link.tag) == (ATOM_NAMESPACE, "link") and link.get("href")]
    for link in links:  # the CAP document itself, when the entry says which link it is
        if (link.get("type") or "").split(";")[0].strip().lower() in CAP_TYPES:
            return str(link.get("href"))
    for link in links:
        if (link.get("rel") or "alternate") in ("alternate", "related"):
            return str(link.get("href"))
    return ""


def entry_links(root: ET.Element, base: str) -> list[str]:
    """The CAP links of an Atom or RSS feed, absolute, in feed order (each once)."""
    ns, name = _local(root.tag)
    raw: list[str] = []
    if (ns, name) == (ATOM_NAMESPACE, "feed"):
        raw = [_atom_link(entry) for entry in root if _local(entry.tag) == (ATOM_NAMESPACE, "entry")]
    elif name == "rss":
        for channel in (c for c in root if _local(c.tag)[1] == "channel"):
            for item in (i for i in channel if _local(i.tag)[1] == "item"):
                link = next((c.text or "" for c in item if _local(c.tag)[1] == "link"), "")
                enclosure = next((c.get("url") or "" for c in item if _local(c.tag)[1] == "enclosure"), "")
                raw.append(link.strip() or enclosure.strip())
    else:
        raise CapError("not a CAP document or a feed")
    links: list[str] = []
    for href in raw:
        absolute = urljoin(base, href) if href else ""
        if absolute and absolute not in links:
            links.append(absolute)
    return links


def _refuse(url: str, reason: str, state: FeedState) -> None:
    state.refused += 1
    log.warning("warning feed: refused a document from %s: %s", _host(url), reason)


def poll_feed(url: str, client: httpx.Client, state: FeedState,
              max_entries: int = MAX_ENTRIES_PER_POLL) -> list[CapAlert]:
    """One poll: the new alerts of the feed, oldest first. Never raises for what the feed serves: a refused
    feed is one log line (and ``state.last_error``), a refused entry one log line each."""
    state.last_error, state.refused = "", 0
    if not _allowed(url):
        state.last_error = "feed URL is not http(s)"
        log.warning("warning feed: %s", state.last_error)
        return []
    conditional = {k: v for k, v in (("If-None-Match", state.etag), ("If-Modified-Since", state.last_modified)) if v}
    try:
        status, body, headers = _fetch(client, url, MAX_FEED_BYTES, conditional)
    except _Refused as e:
        state.last_error = str(e)
        _refuse(url, str(e), state)
        return []
    if status == 304:
        return []
    alerts: list[CapAlert] = []
    try:
        root = _feed_root(body)
        if _local(root.tag)[1] == "alert" or _local(root.tag)[0] == CAP_NAMESPACE or any(_local(c.tag)[0] == CAP_NAMESPACE for c in root):
            alerts = parse_many(body)  # the feed is CAP itself (checked again there, namespace and all)
            links: list[str] = []
        else:
            links = entry_links(root, url)
    except CapError as e:
        state.last_error = str(e)
        _refuse(url, str(e), state)
        return []
    # The validators are kept only once the feed was understood: a refused feed is fetched whole next time.
    state.etag, state.last_modified = headers.get("etag", ""), headers.get("last-modified", "")
    followed = 0
    for link in links:
        if link in state.seen:
            continue
        if followed >= max_entries:
            # The rest next poll: not remembered, and the feed must not answer 304 then, or they would be lost.
            state.etag = state.last_modified = ""
            break
        followed += 1
        state.remember(link)
        if not _allowed(link):
            _refuse(link, "link is not http(s)", state)
            continue
        try:
            status, document, _ = _fetch(client, link, MAX_CAP_BYTES)
            alerts.extend(parse_many(document))
        except _Refused as e:
            _refuse(link, str(e), state)
            if e.transient:  # tried again next poll: forgotten, and no 304 for the feed meanwhile
                state.seen.pop(link, None)
                state.etag = state.last_modified = ""
        except CapError as e:
            _refuse(link, str(e), state)
    alerts.sort(key=lambda alert: alert.sent)
    return alerts


@contextmanager
def _one_poller(engine: Any) -> Iterator[bool]:
    """True when this process may poll now: on PostgreSQL the installation's one advisory lock, taken without
    waiting; elsewhere (SQLite: one machine) always."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as connection:
        got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": FEED_LOCK_KEY}).scalar())
        connection.commit()
        try:
            yield got
        finally:
            if got:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": FEED_LOCK_KEY})
                connection.commit()


class WarningFeedPoller:
    """One poll and ingest of the configured feed per ``warning_feed_poll_seconds`` (``maybe_run`` from the
    background round), or now (``run_once``: ``shequ warnings poll``)."""

    def __init__(self, context: Any, client: httpx.Client | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.context = context
        self.client = client or httpx.Client()
        self.state = FeedState()
        self.clock = clock
        self._next_at = 0.0
        self._busy = threading.Lock()  # the drain's round and the server's warnings loop may both come by

    def maybe_run(self) -> list[Any] | None:
        settings = self.context.settings
        if not settings.warning_feed_url or settings.warning_feed_poll_seconds <= 0:
            return None
        if self.clock() < self._next_at or not self._busy.acquire(blocking=False):
            return None
        try:
            self._next_at = self.clock() + settings.warning_feed_poll_seconds
            return self.run_once()
        finally:
            self._busy.release()

    def run_once(self) -> list[Any]:
        """The ingest results of one poll ([] when there is no feed, nothing new, or another node polls)."""
        from assistant.bulletins import warnings  # the ingest side imports the board and the bus

        url = self.context.settings.warning_feed_url
        if not url:
            return []
        with _one_poller(self.context.engine) as mine:
            if not mine:
                return []
            alerts = poll_feed(url, self.client, self.state)
            results = []
            for alert in alerts:
                try:
                    with session_scope(self.context.sessions) as db:
                        results.append(warnings.ingest(db, self.context.events, alert, source="cap",
                                                       settings=self.context.settings))
                except Exception as e:  # the database went away: fetch it all again next poll, ingest dedupes
                    log.error("warning feed: ingest failed (%s); the feed is read again next poll",
                              type(e).__name__)
                    self.state.reset()
                    break
            for result in results:
                if result.action != "duplicate":
                    log.info("warning feed: %s warning %s (%d communities)%s", result.action, result.warning_id,
                             len(result.communities), f": {result.reason}" if result.reason else "")
            return results

    def close(self) -> None:
        self.client.close()
