"""The kiosk reporting to the central server: a heartbeat with its device health, its configuration back.

Every ``SHEQU_KIOSK_HEARTBEAT_SECONDS`` a thread of its own posts ``{"version", "health", "uptime"}`` to
``POST {SHEQU_KIOSK_ASSISTANT_URL}/api/v1/kiosk/heartbeat`` with the kiosk's device token
(``SHEQU_KIOSK_TOKEN``) and hands the configuration it gets back to ``on_config`` (the app gives the assistant
client its community, so that the kiosk's conversations belong to it). The UI never waits for it. A failure is
logged with the HTTP status or the error's type only — never a resident's data, never the token — and retried
sooner than the next regular beat (``RETRY_SECONDS`` doubling up to the interval).

Health, from the device adapters (``device_adapters.health.check_health``) and the voice flow's last look at
the microphone: ``printer`` ok | low_paper | no_paper | offline | none, ``reader`` ok | offline | none,
``microphone`` ok | offline | none (none: not configured).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from device_adapters.health import check_health
from device_adapters.printer.status import PrinterState
from kiosk_app.background import BackgroundLoop
from kiosk_app.devices import KioskDevices
from kiosk_app.microphone import Microphone, NoMicrophone

log = logging.getLogger(__name__)

HEARTBEAT_PATH = "/api/v1/kiosk/heartbeat"
RETRY_SECONDS = 5.0  # the first retry after a failed beat; doubled up to the regular interval
MIN_INTERVAL_SECONDS = 10.0  # whatever the server says, no faster than this
MAX_INTERVAL_SECONDS = 3600.0
TIMEOUT_SECONDS = 5.0

_PRINTER = {PrinterState.READY: "ok", PrinterState.UNKNOWN: "ok", PrinterState.PAPER_NEAR_END: "low_paper",
            PrinterState.PAPER_OUT: "no_paper", PrinterState.COVER_OPEN: "offline",
            PrinterState.OFFLINE: "offline", PrinterState.UNREACHABLE: "offline"}


def kiosk_version() -> str:
    try:
        return package_version("shequ")
    except PackageNotFoundError:
        return "unknown"


def device_health(devices: KioskDevices | None, microphone: Microphone | None,
                  microphone_ok: bool | None) -> dict[str, str]:
    """What the heartbeat says about the devices (see the module text)."""
    health: dict[str, str] = {}
    if devices is None:
        health.update(printer="none", reader="none")
    else:
        checked = check_health(poller=devices.poller, printer=devices.printer, spooler=devices.spooler)
        if checked.printer is None:
            health["printer"] = "none"
        else:
            health["printer"] = _PRINTER.get(checked.printer.state, "offline")
        if not checked.reader_configured:
            health["reader"] = "none"
        else:
            health["reader"] = "offline" if checked.reader_connected is False else "ok"
    if microphone is None or isinstance(microphone, NoMicrophone):
        health["microphone"] = "none"
    else:
        health["microphone"] = "offline" if microphone_ok is False else "ok"
    return health


@dataclass(frozen=True)
class ServerConfig:
    """The part of ``GET /api/v1/kiosk/config`` the kiosk uses."""

    community_code: str
    community_name: str = ""
    kiosk_name: str = ""
    heartbeat_seconds: float | None = None

    @classmethod
    def from_json(cls, body: Any) -> ServerConfig:
        """Raises ``ValueError`` on a body without a community code."""
        if not isinstance(body, dict):
            raise ValueError("not an object")
        community = body.get("community") if isinstance(body.get("community"), dict) else {}
        code = community.get("code")
        if not isinstance(code, str) or not code:
            raise ValueError("no community code")
        settings = body.get("settings") if isinstance(body.get("settings"), dict) else {}
        kiosk = body.get("kiosk") if isinstance(body.get("kiosk"), dict) else {}
        seconds = settings.get("heartbeat_seconds")
        return cls(code, str(community.get("name") or ""), str(kiosk.get("name") or ""),
                   float(seconds) if isinstance(seconds, int | float) and seconds > 0 else None)


class KioskHeartbeat(BackgroundLoop):
    """``start()`` beats at once and then every ``interval`` seconds on a daemon thread; ``stop()`` ends it."""

    thread_name = "kiosk-heartbeat"

    def __init__(self, base_url: str, token: str, *, interval: float, health: Callable[[], dict[str, str]],
                 on_config: Callable[[ServerConfig], None], version: str | None = None,
                 transport: Any = None, timeout: float = TIMEOUT_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        import httpx

        super().__init__()
        self.interval = _bounded(interval)
        self._health = health
        self._on_config = on_config
        self._version = version or kiosk_version()
        self._monotonic = monotonic
        self._started_at = monotonic()
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport,
                                  headers={"User-Agent": "shequ-kiosk", "Authorization": f"Bearer {token}"})
        self.config: ServerConfig | None = None

    def beat_once(self) -> ServerConfig | None:
        """One heartbeat; the configuration the server sent back, or None (logged) when it failed."""
        import httpx

        try:
            body = {"version": self._version, "health": self._health(),
                    "uptime": round(self._monotonic() - self._started_at, 1)}
        except Exception as e:  # a device that cannot be asked must not stop the kiosk from reporting in
            log.warning("device health unavailable for the heartbeat: %s", type(e).__name__)
            body = {"version": self._version, "health": {}, "uptime": round(self._monotonic() - self._started_at)}
        try:
            response = self._http.post(HEARTBEAT_PATH, json=body)
        except httpx.HTTPError as e:
            return self._failed(f"server unreachable ({type(e).__name__})")
        if response.status_code != 200:
            hint = " (SHEQU_KIOSK_TOKEN wrong or kiosk retired)" if response.status_code == 401 else ""
            return self._failed(f"server answered HTTP {response.status_code}{hint}")
        try:
            config = ServerConfig.from_json(response.json())
        except ValueError as e:
            return self._failed(f"unreadable configuration ({e})")
        if self.failures:
            log.info("heartbeat back after %d failed attempt(s)", self.failures)
        self.failures = 0
        self.config = config
        if config.heartbeat_seconds:
            self.interval = _bounded(config.heartbeat_seconds)
        try:
            self._on_config(config)
        except Exception:
            log.exception("the kiosk could not apply its configuration")
        return config

    def _failed(self, why: str) -> None:
        self.failures += 1
        log.warning("heartbeat failed (%d in a row): %s", self.failures, why)
        return None

    def next_delay(self) -> float:
        if not self.failures:
            return self.interval
        return min(self.interval, RETRY_SECONDS * 2 ** (self.failures - 1))

    def run_once(self) -> ServerConfig | None:
        return self.beat_once()

    def stop(self, timeout: float = 2.0) -> None:
        super().stop(timeout)
        self._http.close()


def _bounded(seconds: float) -> float:
    return min(max(float(seconds), MIN_INTERVAL_SECONDS), MAX_INTERVAL_SECONDS)


def start_heartbeat(assistant_url: str, token: str, interval: float, health: Callable[[], dict[str, str]],
                    on_config: Callable[[ServerConfig], None]) -> KioskHeartbeat | None:
    """A running heartbeat, or None when this kiosk reports to nobody (no server URL or no token)."""
    if not assistant_url or not token:
        if token and not assistant_url:
            log.warning("SHEQU_KIOSK_TOKEN is set but SHEQU_KIOSK_ASSISTANT_URL is empty: no heartbeat")
        return None
    heartbeat = KioskHeartbeat(assistant_url, token, interval=interval, health=health, on_config=on_config)
    heartbeat.start()
    log.info("heartbeat to the server every %.0f s", heartbeat.interval)
    return heartbeat
