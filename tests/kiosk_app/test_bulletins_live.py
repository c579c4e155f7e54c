"""End to end in one process: a CAP warning ingested by the assistant reaches a polling kiosk's banner and
speech; an update raises the level, a cancel takes the banner away. Prints publish → banner p50/p99."""

from __future__ import annotations

import datetime as dt
import queue
import statistics
import time
from collections.abc import Iterator

import pytest
from kiosk_testkit import FakeClock, RecordingUi, ScriptedClient, response

from accessibility import FakeTtsEngine
from assistant.bulletins.cap import CapAlert, CapArea
from assistant.bulletins.warnings import ingest
from assistant.clock import now_utc
from assistant.communities.directory import import_community
from assistant.context import AppContext, create_context
from assistant.settings import Settings
from assistant.storage.db import session_scope
from kiosk_app.bulletins import Board, BulletinPoller
from kiosk_app.catalog import Catalog
from kiosk_app.client import InProcessAssistantClient
from kiosk_app.config import KioskConfig
from kiosk_app.controller import KioskController
from kiosk_app.devices import KioskDevices
from kiosk_app.speech import KioskSpeech

CODE = "zhuxi"
DISPLAY_BUDGET_SECONDS = 10.0  # the issue: on every kiosk of the area within 10 s
POLL_SECONDS = 1.0


class BannerUi(RecordingUi):
    def __init__(self) -> None:
        super().__init__()
        self.banner = None

    def set_warning(self, view: object) -> None:
        self.banner = view


@pytest.fixture
def ctx(db_settings: Settings) -> Iterator[AppContext]:
    context = create_context(db_settings)
    try:
        with session_scope(context.sessions) as db:
            import_community(db, CODE, {"name": "竹溪社区"}, street="新竹街道", district="青秀区")
        yield context
    finally:
        context.close()


def alert(identifier: str, severity: str, event: str, *, msg_type: str = "Alert",
          references: tuple[tuple[str, str], ...] = ()) -> CapAlert:
    sent = now_utc()
    return CapAlert(identifier=identifier, sender="nnqxt", sent=sent, status="Actual", msg_type=msg_type,
                    event=event, severity=severity, urgency="Immediate", headline=f"南宁市气象台发布{event}预警信号",
                    instruction="减少外出，远离低洼地带。", sender_name="南宁市气象台", effective=sent,
                    expires=sent + dt.timedelta(hours=6), areas=(CapArea("南宁市青秀区"),), references=references)


def test_published_warnings_reach_the_kiosk_within_seconds(ctx: AppContext) -> None:
    client = InProcessAssistantClient(ctx.settings, context=ctx, engine=object())  # type: ignore[arg-type]
    client.use_community(CODE)
    tts, ui = FakeTtsEngine(), BannerUi()
    controller = KioskController(KioskConfig(tts="fake"), ScriptedClient(Catalog([]), lambda _t: response()),
                                 KioskSpeech(tts), KioskDevices(), ui, clock=FakeClock())
    controller.start()
    boards: queue.Queue[Board] = queue.Queue()  # the kiosk's UI thread is this test's thread
    poller = BulletinPoller(client.bulletins, boards.put, interval=POLL_SECONDS)
    poller.start()

    def publish_and_wait(cap: CapAlert, shown: object) -> float:
        with session_scope(ctx.sessions) as db:
            ingest(db, ctx.events, cap, settings=ctx.settings)
        start = time.monotonic()
        while time.monotonic() - start < DISPLAY_BUDGET_SECONDS:
            try:
                controller.bulletins.update(boards.get(timeout=0.05))
            except queue.Empty:
                continue
            if shown(ui.banner):
                return time.monotonic() - start
        raise AssertionError(f"{cap.identifier} not shown within {DISPLAY_BUDGET_SECONDS} s")

    def titles() -> set[str]:
        return {w.title for w in controller.bulletins.warnings()}

    latencies: list[float] = []
    try:
        for n, (event, severity) in enumerate([("暴雨", "Severe"), ("台风", "Extreme"), ("山体滑坡", "Moderate")]):
            latencies.append(publish_and_wait(alert(f"w{n}", severity, event),
                                              lambda _b, event=event: any(t.startswith(event) for t in titles())))
        assert ui.banner.text.startswith("台风红色预警")  # the most severe on the banner
        assert ui.banner.more == "另有2条预警"
        assert any(u.text.count("台风红色预警") >= 2 for u in tts.spoken)  # said twice on arrival
        update = alert("w0-up", "Extreme", "暴雨", msg_type="Update", references=(("nnqxt", "w0"),))
        latencies.append(publish_and_wait(update, lambda _b: "暴雨红色预警" in titles() and len(titles()) == 3))
        for ident, left in (("w0-up", 2), ("w1", 1), ("w2", 0)):
            cancel = alert(f"{ident}-x", "Extreme", "暴雨", msg_type="Cancel", references=(("nnqxt", ident),))
            latencies.append(publish_and_wait(cancel, lambda _b, left=left: len(titles()) == left))
        assert ui.banner is None
    finally:
        poller.stop()
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(f"\npublish → kiosk banner: n={len(ordered)} p50={statistics.median(ordered):.2f}s p99={p99:.2f}s "
          f"(poll {POLL_SECONDS:.0f} s)")
    assert max(latencies) < DISPLAY_BUDGET_SECONDS
