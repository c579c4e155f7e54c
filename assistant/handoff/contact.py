"""The resident's phone number in a live handoff: captured encrypted, shown masked, revealed only on purpose.

A resident often gives a number while talking to a person (「我电话13912345678」). ``capture`` keeps the latest
one on the handoff request, encrypted, with its masked form for the staff pages. ``reveal`` decrypts it for the
agent handling the conversation (or an administrator) and writes an audit row — who looked, at which queue or
order number, never the number itself. The orders page's reveal writes the same audit code.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from assistant.handoff import NotAllowed
from assistant.handoff import models as _columns  # noqa: F401  # maps contact_encrypted, contact_masked
from assistant.security.crypto import PersonalDataCipher
from assistant.storage.models import AuditLog, HandoffRequest
from knowledge_base.normalize import normalize
from pii import mask_phone, split_phone

log = logging.getLogger(__name__)

REVEAL_ACTION = "contact.reveal"  # one audit code for every reveal of a resident's number (label: 查看完整号码)
REVEAL_DETAIL = "查看了居民的完整号码"

def capture(request: HandoffRequest, message: str, cipher: PersonalDataCipher) -> bool:
    """Keeps the phone number in ``message`` (if any) on the request, encrypted; True when one was found."""
    phone, _rest = split_phone(normalize(message or ""))
    if phone is None:
        return False
    request.contact_encrypted = cipher.encrypt(phone)
    request.contact_masked = mask_phone(phone)
    log.info("handoff %s: the resident gave a callback number", request.id)
    return True


def may_reveal(request: HandoffRequest, username: str, role: str) -> bool:
    """Only the agent handling the conversation, or an administrator."""
    return role == "admin" or (bool(request.agent) and request.agent == username)


def reveal(db: Session, request: HandoffRequest, cipher: PersonalDataCipher, username: str, role: str) -> str:
    """The full number, for the call; every look is audited (actor, queue or order number, no number)."""
    if not may_reveal(request, username, role):
        raise NotAllowed("只有接待这位居民的工作人员或管理员可以查看完整号码")
    if not request.contact_encrypted:
        return ""
    phone = cipher.decrypt(request.contact_encrypted) or ""
    audit(db, username, request.work_order_number or request.queue_number or f"会话{request.id}")
    return phone


def audit(db: Session, actor: str, target: str) -> None:
    db.add(AuditLog(actor=actor, action=REVEAL_ACTION, target=target[:120], detail=REVEAL_DETAIL))
