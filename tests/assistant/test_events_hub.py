"""One reader of the bus per worker: many open streams cost one query per poll, not one each."""

from __future__ import annotations

import asyncio

from assistant.events import MemoryBus
from assistant.events.hub import Hub


class CountingBus(MemoryBus):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def since(self, last_id: int, limit: int = 100):
        self.reads += 1
        return super().since(last_id, limit)


def test_many_listeners_share_one_reader_and_all_get_each_event() -> None:
    bus = CountingBus()

    async def run() -> list[list[int]]:
        hub = Hub(bus, poll=0.02)

        async def listen() -> list[int]:
            async with hub.listening():
                got: list[int] = []
                last = bus.latest()
                while len(got) < 3:
                    for event in await hub.after(last, wait=1.0):
                        got.append(event.data["n"])
                        last = event.id
                return got

        tasks = [asyncio.create_task(listen()) for _ in range(50)]
        await asyncio.sleep(0.1)
        for n in range(3):
            bus.publish("message", {"n": n})
            await asyncio.sleep(0.03)
        return await asyncio.wait_for(asyncio.gather(*tasks), 5)

    results = asyncio.run(run())
    assert all(r == [0, 1, 2] for r in results)
    # About one read per poll for the whole worker (0.2 s at 0.02 s), never one per listener per poll.
    assert bus.reads < 60


def test_a_stream_resuming_from_before_the_hub_started_catches_up_from_the_bus() -> None:
    bus = MemoryBus()
    for n in range(5):
        bus.publish("message", {"n": n})

    async def run() -> list[int]:
        hub = Hub(bus, poll=0.02)
        async with hub.listening():
            return [e.data["n"] for e in await hub.after(2, wait=0.1)]

    assert asyncio.run(run()) == [2, 3, 4]


def test_a_stream_behind_what_the_bus_keeps_goes_on_from_the_hub() -> None:
    bus = MemoryBus(keep=2)
    for n in range(5):
        bus.publish("message", {"n": n})  # ids 1..5; the bus keeps 4 and 5

    async def run() -> list[int]:
        hub = Hub(bus, poll=0.02)
        async with hub.listening():
            caught = [e.data["n"] for e in await hub.after(0, wait=0.1)]
            bus.publish("message", {"n": 5})
            newer = [e.data["n"] for e in await hub.after(5, wait=1.0)]
            return caught + newer

    assert asyncio.run(run()) == [3, 4, 5]


def test_the_reader_stops_when_nobody_listens() -> None:
    bus = CountingBus()

    async def run() -> int:
        hub = Hub(bus, poll=0.01)
        async with hub.listening():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        before = bus.reads
        await asyncio.sleep(0.1)
        return bus.reads - before

    assert asyncio.run(run()) == 0


class FlakyBus(MemoryBus):
    """A bus whose reads fail while ``down`` is set, as during a database or Redis outage."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True
        self.failures = 0

    def since(self, last_id: int, limit: int = 100):
        if self.down:
            self.failures += 1
            raise ConnectionError("server closed the connection")
        return super().since(last_id, limit)


def test_an_outage_is_logged_once_not_once_per_poll(caplog) -> None:  # type: ignore[no-untyped-def]
    bus = FlakyBus()

    async def run() -> list[int]:
        hub = Hub(bus, poll=0.01)
        async with hub.listening():
            await asyncio.sleep(0.2)  # about 20 failed polls
            bus.down = False
            bus.publish("message", {"n": 7})
            return [event.data["n"] for event in await hub.after(0, wait=1.0)]

    with caplog.at_level("INFO", logger="assistant.events.hub"):
        got = asyncio.run(run())
    assert got == [7]  # the stream survived the outage and got the event after it
    assert bus.failures >= 5
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert any("works again" in r.getMessage() for r in caplog.records)
