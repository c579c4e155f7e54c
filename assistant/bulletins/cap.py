"""CAP 1.2 (Common Alerting Protocol, OASIS; the format of China's national early warning release system).

The dataclasses are the contract between parsing (this module), the feed, the push endpoint and ingest
(``warnings.py``). Times are aware UTC datetimes.

Parsing goes through defusedxml with DTDs, entities and external references all forbidden (a CAP message
needs none of them, so an XML bomb or an external entity is refused before anything is expanded or
fetched), after a size check on the raw bytes. Only the CAP 1.2 namespace is accepted. The ``<info>`` in
zh-CN is used (an alert may carry the same warning in several languages), else the first.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET  # Element and ParseError only: parsing is defusedxml's
from dataclasses import dataclass, field

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from assistant.bulletins import CapError

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"


@dataclass(frozen=True)
class CapArea:
    description: str  # <areaDesc>, e.g. 南宁市青秀区
    geocodes: tuple[tuple[str, str], ...] = ()  # (<valueName>, <value>), e.g. ("行政区划代码", "450103")


@dataclass(frozen=True)
class CapAlert:
    identifier: str
    sender: str
    sent: dt.datetime
    status: str  # Actual | Exercise | System | Test | Draft (only Actual reaches residents)
    msg_type: str  # Alert | Update | Cancel | Ack | Error
    event: str  # <info><event>, e.g. 暴雨
    severity: str  # Extreme | Severe | Moderate | Minor | Unknown
    urgency: str = "Unknown"  # Immediate | Expected | Future | Past | Unknown
    certainty: str = "Unknown"
    headline: str = ""
    description: str = ""
    instruction: str = ""
    sender_name: str = ""  # <senderName>, e.g. 南宁市气象台
    language: str = "zh-CN"
    effective: dt.datetime | None = None
    onset: dt.datetime | None = None
    expires: dt.datetime | None = None
    areas: tuple[CapArea, ...] = ()
    # (sender, identifier) of the alerts an Update or Cancel refers to (<references> "sender,identifier,sent" ...)
    references: tuple[tuple[str, str], ...] = ()
    # Manual warnings only: where to go (转移安置的集合地点).
    assembly_point: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # <parameter> valueName → value (e.g. 预警颜色)


# --- parsing -----------------------------------------------------------------------------------------------

# A real CAP message is a few kilobytes (polygons make it tens); anything this big is refused unread.
MAX_CAP_BYTES = 512 * 1024
# Alerts in one document (a feed of CAP messages): more than a province sends at once.
MAX_ALERTS_PER_DOCUMENT = 50
# The unique key's columns (early_warnings.sender / identifier) are this long; longer keys are refused, not cut.
MAX_KEY_CHARS = 200
# Text is cut (not refused) to what the table and a banner can hold.
TEXT_LIMITS = {"event": 100, "headline": 300, "sender_name": 200, "description": 4000, "instruction": 4000,
               "area": 500, "parameter": 200}
MAX_AREAS = 100
MAX_REFERENCES = 50
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
PREFERRED_LANGUAGE = "zh-cn"


def _local(tag: object) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree tag ``{ns}name``."""
    text = str(tag)
    if text.startswith("{"):
        ns, _, name = text[1:].partition("}")
        return ns, name
    return "", text


def _children(parent: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in parent if _local(child.tag) == (CAP_NAMESPACE, name)]


def _text(parent: ET.Element, name: str, limit: int | None = None) -> str:
    found = _children(parent, name)
    value = (found[0].text or "").strip() if found else ""
    return value[:limit] if limit else value


def _required(parent: ET.Element, name: str) -> str:
    value = _text(parent, name)
    if not value:
        raise CapError(f"missing <{name}>")
    return value


def _enum(value: str, allowed: tuple[str, ...], name: str, default: str | None = None) -> str:
    """CAP's enumerations are case-sensitive; some senders write them in lower case, which is taken."""
    if not value and default is not None:
        return default
    for option in allowed:
        if value.lower() == option.lower():
            return option
    raise CapError(f"bad <{name}>")


def parse_time(value: str, name: str = "time") -> dt.datetime:
    """A CAP time (``2026-12-04T20:00:00+08:00``, ``-00:00`` for UTC) as aware UTC; a time without a zone is
    refused (CAP requires one, and guessing would shift a warning by eight hours)."""
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError as e:
        raise CapError(f"bad <{name}>") from e
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise CapError(f"<{name}> has no time zone")
    return parsed.astimezone(dt.UTC)


def _optional_time(parent: ET.Element, name: str) -> dt.datetime | None:
    value = _text(parent, name)
    return parse_time(value, name) if value else None


def parse_references(value: str) -> tuple[tuple[str, str], ...]:
    """``sender,identifier,sent`` triples separated by white space → ((sender, identifier), ...)."""
    triples = value.split()
    if len(triples) > MAX_REFERENCES:
        raise CapError("too many <references>")
    refs: list[tuple[str, str]] = []
    for triple in triples:
        parts = triple.split(",")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise CapError("bad <references>")
        parse_time(parts[2], "references")
        if (parts[0], parts[1]) not in refs:
            refs.append((parts[0], parts[1]))
    return tuple(refs)


def _choose_info(infos: list[ET.Element]) -> ET.Element:
    """The zh-CN block (then any Chinese one), else the first: an alert may repeat itself in several languages."""
    languages = [_text(info, "language").lower() or "en-us" for info in infos]
    for wanted in (lambda lang: lang == PREFERRED_LANGUAGE, lambda lang: lang.startswith("zh")):
        for info, language in zip(infos, languages, strict=True):
            if wanted(language):
                return info
    return infos[0]


def _areas(info: ET.Element) -> tuple[CapArea, ...]:
    areas = []
    for area in _children(info, "area")[:MAX_AREAS]:
        geocodes = []
        for code in _children(area, "geocode"):
            name, value = _text(code, "valueName", 100), _text(code, "value", 100)
            if value:
                geocodes.append((name, value))
        areas.append(CapArea(_text(area, "areaDesc", TEXT_LIMITS["area"]), tuple(geocodes)))
    return tuple(areas)


def _parameters(info: ET.Element) -> dict[str, str]:
    extra: dict[str, str] = {}
    limit = TEXT_LIMITS["parameter"]
    for parameter in _children(info, "parameter"):
        name, value = _text(parameter, "valueName", limit), _text(parameter, "value", limit)
        if name and name not in extra:
            extra[name] = value
    return extra


def _alert(root: ET.Element) -> CapAlert:
    identifier, sender = _required(root, "identifier"), _required(root, "sender")
    if len(identifier) > MAX_KEY_CHARS or len(sender) > MAX_KEY_CHARS:
        raise CapError("identifier or sender too long")
    if any(ch.isspace() or ch in ",<&" for ch in identifier + sender):  # CAP 1.2 forbids them in both
        raise CapError("bad identifier or sender")
    sent = parse_time(_required(root, "sent"), "sent")
    status = _enum(_required(root, "status"), STATUSES, "status")
    msg_type = _enum(_required(root, "msgType"), MSG_TYPES, "msgType")
    references = parse_references(_text(root, "references"))
    if msg_type in ("Update", "Cancel") and not references:
        raise CapError(f"{msg_type} without <references>")
    infos = _children(root, "info")
    if not infos:
        if msg_type in ("Alert", "Update"):
            raise CapError("missing <info>")
        return CapAlert(identifier=identifier, sender=sender, sent=sent, status=status, msg_type=msg_type,
                        event="", severity="Unknown", references=references)
    info = _choose_info(infos)
    for name in ("category", "event", "urgency", "severity", "certainty"):
        _required(info, name)
    limits = TEXT_LIMITS
    return CapAlert(
        identifier=identifier, sender=sender, sent=sent, status=status, msg_type=msg_type,
        event=_text(info, "event", limits["event"]),
        severity=_enum(_text(info, "severity"), SEVERITIES, "severity"),
        urgency=_enum(_text(info, "urgency"), URGENCIES, "urgency"),
        certainty=_enum(_text(info, "certainty"), CERTAINTIES, "certainty"),
        headline=_text(info, "headline", limits["headline"]),
        description=_text(info, "description", limits["description"]),
        instruction=_text(info, "instruction", limits["instruction"]),
        sender_name=_text(info, "senderName", limits["sender_name"]),
        language=_text(info, "language") or "en-US",
        effective=_optional_time(info, "effective") or sent,
        onset=_optional_time(info, "onset"),
        expires=_optional_time(info, "expires"),
        areas=_areas(info),
        references=references,
        extra=_parameters(info),
    )


def _root(data: bytes) -> ET.Element:
    if not isinstance(data, bytes | bytearray):
        raise CapError("not bytes")
    if len(data) > MAX_CAP_BYTES:
        raise CapError("too large")
    if not data.strip():
        raise CapError("empty")
    try:
        return DET.fromstring(bytes(data), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden as e:
        raise CapError("DTD not allowed") from e
    except EntitiesForbidden as e:
        raise CapError("entities not allowed") from e
    except ExternalReferenceForbidden as e:
        raise CapError("external reference not allowed") from e
    except (ET.ParseError, DefusedXmlException, ValueError) as e:
        raise CapError("not XML") from e


def parse_many(data: bytes) -> list[CapAlert]:
    """Every CAP alert of a document: one ``<alert>`` root, or a wrapper element holding several (as some
    feeds serve them). A wrapper's alerts are all or nothing: one bad alert refuses the document."""
    root = _root(data)
    ns, name = _local(root.tag)
    if name == "alert":
        if ns != CAP_NAMESPACE:
            raise CapError("wrong namespace")
        return [_alert(root)]
    alerts = [child for child in root if _local(child.tag)[1] == "alert"]
    if not alerts:
        raise CapError("not a CAP alert")
    if any(_local(child.tag)[0] != CAP_NAMESPACE for child in alerts):
        raise CapError("wrong namespace")
    if len(alerts) > MAX_ALERTS_PER_DOCUMENT:
        raise CapError("too many alerts")
    return [_alert(child) for child in alerts]


def parse_cap(data: bytes) -> CapAlert:
    """One CAP 1.2 ``<alert>`` as a ``CapAlert``. Raises ``CapError`` with a short reason (too large, DTD,
    entities, not XML, wrong namespace, a missing or bad field); the reason never quotes the document."""
    root = _root(data)
    ns, name = _local(root.tag)
    if name != "alert":
        raise CapError("not a CAP alert")
    if ns != CAP_NAMESPACE:
        raise CapError("wrong namespace")
    return _alert(root)
