"""The blind index: which conversations, work orders and handoff requests hold a given phone or ID number.

Stored text is masked and contacts are encrypted, so a resident's request (「我要看/删我的信息」) could not be
answered from the data itself. Where resident text or a contact is stored, ``record_personal_data`` adds one
``personal_data_keys`` row per phone, landline or ID number found in it: the number as a keyed HMAC, never in
plain. The HMAC key is derived from the server secret and reaches database sessions through ``Session.info``
(``install`` puts it in the session factory), so the storing code needs nothing but its ``db``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import pii
from assistant.auth.secret import server_secret
from assistant.privacy import InvalidLookup
from assistant.privacy.models import PersonalDataKey
from assistant.security.crypto import PersonalDataCipher
from assistant.settings import Settings
from assistant.storage.db import session_scope
from assistant.storage.models import HandoffRequest, WorkOrder

log = logging.getLogger(__name__)
_warned: list[bool] = []  # the missing-key warning, once per process rather than once per turn

INFO_KEY = "shequ.privacy.index_key"  # in Session.info: the derived HMAC key
# A distinct key for the index: the server secret also signs cookies, and one key should do one job.
DERIVATION_LABEL = b"shequ personal-data index v1"
INDEXED_KINDS = ("id_number", "phone", "landline")
KIND_LABELS = {"id_number": "身份证号", "phone": "手机号", "landline": "固定电话"}
MAX_LOOKUP_CHARS = 40  # a phone or ID number with spaces and dashes fits easily; longer is not one number
TOO_LONG = "输入太长了，请只输入一个手机号、固定电话或身份证号。"
EMPTY = "请输入居民的手机号、固定电话或身份证号。"
NOT_A_NUMBER = "没有认出手机号、固定电话或身份证号，请检查后重新输入（身份证号要 18 位）。"
MORE_THAN_ONE = "请一次只输入一个号码。"


def derive_key(secret: bytes) -> bytes:
    return hmac.new(secret, DERIVATION_LABEL, hashlib.sha256).digest()


def key_for_settings(settings: Settings) -> bytes:
    return derive_key(server_secret(settings))


def install(factory: sessionmaker[Session], settings: Settings) -> None:
    """Gives every session of ``factory`` the index key (called once where the session factory is made)."""
    info = dict(factory.kw.get("info") or {})
    info[INFO_KEY] = key_for_settings(settings)
    factory.kw["info"] = info


def blind_key(index_key: bytes, kind: str, canonical: str) -> str:
    return hmac.new(index_key, f"{kind}:{canonical}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Identifier:
    """A phone or ID number as typed at the console, in the canonical form the index uses."""

    kind: str
    canonical: str
    masked: str

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def target(self, index_key: bytes) -> Target:
        return Target(self.kind, blind_key(index_key, self.kind, self.canonical), self.masked)


@dataclass(frozen=True)
class Target:
    """A number to look up, by its blind key: what pages carry between steps instead of the number itself."""

    kind: str
    key: str
    masked: str

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def describe(self) -> str:
        """As audit rows and pages name it: 手机号 138****5678."""
        return f"{self.label} {self.masked}"


def mask_identifier(kind: str, canonical: str) -> str:
    """The masked form for pages and audit rows (138****5678, 4501**********1234, 0771-***1234)."""
    return pii.mask_id_number(canonical) if kind == "id_number" else pii.mask_phone(canonical)


def parse_identifier(typed: str) -> Identifier:
    """The one phone, landline or ID number in what staff typed; ``InvalidLookup`` (Chinese) otherwise."""
    text = (typed or "").strip()
    if not text:
        raise InvalidLookup(EMPTY)
    if len(text) > MAX_LOOKUP_CHARS:
        raise InvalidLookup(TOO_LONG)
    found = [f for f in pii.find_personal_data(text) if f.kind in INDEXED_KINDS]
    distinct = {(f.kind, f.canonical) for f in found}
    if not distinct:
        raise InvalidLookup(NOT_A_NUMBER)
    if len(distinct) > 1:
        raise InvalidLookup(MORE_THAN_ONE)
    kind, canonical = distinct.pop()
    return Identifier(kind, canonical, mask_identifier(kind, canonical))


def keys_in_text(index_key: bytes, text: str, found: Sequence[pii.Found] | None = None) -> list[str]:
    """The blind keys of every phone, landline and ID number in ``text`` (each once); ``found`` as in
    ``pii.mask_text``."""
    keys: list[str] = []
    for item in (pii.find_personal_data(text or "") if found is None else found):
        if item.kind in INDEXED_KINDS:
            key = blind_key(index_key, item.kind, item.canonical)
            if key not in keys:
                keys.append(key)
    return keys


def record_personal_data(db: Session, session_id: str | None, text: str | None, *, work_order_id: int | None = None,
                         handoff_request_id: int | None = None, found: Sequence[pii.Found] | None = None) -> int:
    """Indexes the numbers in ``text`` (resident words or a contact, before masking or encryption) against the
    rows that hold them; returns how many rows were added. A number already indexed for the same rows is not
    added again. Without an installed key nothing is indexed (logged): a turn must never fail on this."""
    if not text:
        return 0
    index_key = db.info.get(INFO_KEY)
    if index_key is None:
        if not _warned:
            _warned.append(True)
            log.warning("personal-data index key not installed on this session factory; nothing indexed")
        return 0
    keys = keys_in_text(index_key, text, found)
    if not keys:
        return 0
    existing = set(db.scalars(select(PersonalDataKey.key).where(
        PersonalDataKey.key.in_(keys), _same(PersonalDataKey.session_id, session_id),
        _same(PersonalDataKey.work_order_id, work_order_id),
        _same(PersonalDataKey.handoff_request_id, handoff_request_id))))
    added = [PersonalDataKey(key=key, session_id=session_id, work_order_id=work_order_id,
                             handoff_request_id=handoff_request_id) for key in keys if key not in existing]
    db.add_all(added)
    return len(added)


def _same(column: Any, value: object) -> Any:  # a column and its value, NULL-aware
    return column.is_(None) if value is None else column == value


BACKFILL_BATCH = 500  # rows decrypted and indexed per transaction


def backfill_contacts(factory: sessionmaker[Session], cipher: PersonalDataCipher) -> dict[str, int]:
    """Indexes the encrypted contacts of work orders and handoff requests stored before the index existed, so a
    resident's request finds them too. Safe to run again: a number already indexed for a row is not added twice.
    Resident turns stored earlier were masked on the way in and cannot be indexed; this says how many rows of each
    kind it read and how many keys it added."""
    import assistant.handoff.models  # noqa: F401  (maps HandoffRequest.contact_encrypted; the handoff code imports us)

    report = {"work_orders": 0, "handoff_requests": 0, "keys_added": 0}
    for model, kind, column in ((WorkOrder, "work_orders", "work_order_id"),
                                (HandoffRequest, "handoff_requests", "handoff_request_id")):
        last_id = 0
        while True:
            with session_scope(factory) as db:
                rows = list(db.scalars(select(model).where(model.id > last_id, model.contact_encrypted.is_not(None))
                                       .order_by(model.id).limit(BACKFILL_BATCH)))
                for row in rows:
                    contact = cipher.decrypt(row.contact_encrypted)
                    report["keys_added"] += record_personal_data(db, row.session_id, contact, **{column: row.id})
                report[kind] += len(rows)
            if len(rows) < BACKFILL_BATCH:
                break
            last_id = rows[-1].id
    return report
