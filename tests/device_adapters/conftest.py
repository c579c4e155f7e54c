"""Fixtures for device tests: simulated readers on pseudo-terminals, short timeouts throughout."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from device_adapters.idcard.reader import SamSerialReader
from device_adapters.idcard.simulator import SamSimulator, SimulatorConfig


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., SamSimulator]]:
    started: list[SamSimulator] = []

    def make(**config: object) -> SamSimulator:
        simulator = SamSimulator(SimulatorConfig(**config))  # type: ignore[arg-type]
        simulator.start()
        started.append(simulator)
        return simulator

    yield make
    for simulator in started:
        simulator.stop()


@pytest.fixture
def make_reader() -> Iterator[Callable[..., SamSerialReader]]:
    opened: list[SamSerialReader] = []

    def make(port: str, **options: object) -> SamSerialReader:
        options.setdefault("timeout", 0.25)
        options.setdefault("read_timeout", 0.5)
        reader = SamSerialReader(port, **options)  # type: ignore[arg-type]
        opened.append(reader)
        return reader

    yield make
    for reader in opened:
        reader.close()
