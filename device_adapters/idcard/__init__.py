"""Resident ID-card reader: SAM framing, the reader seam and driver, the poll loop, parsing, a simulator."""

from device_adapters.idcard.codes import CardType
from device_adapters.idcard.poller import CardEvent, CardEventKind, CardPoller
from device_adapters.idcard.reader import (
    READERS,
    FakeIdCardReader,
    IdCardReader,
    SamSerialReader,
    create_reader,
)
from device_adapters.idcard.record import IdCardRecord, parse_text_block
from device_adapters.idcard.regions import Region, lookup_region

__all__ = [
    "READERS",
    "CardEvent",
    "CardEventKind",
    "CardPoller",
    "CardType",
    "FakeIdCardReader",
    "IdCardReader",
    "IdCardRecord",
    "Region",
    "SamSerialReader",
    "create_reader",
    "lookup_region",
    "parse_text_block",
]
