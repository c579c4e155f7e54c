"""Showing personal data to staff: masked by default (masks in ``pii``); unmasked only for roles that need it,
and audited.

Every unmasked view or export writes an ``audit_log`` row (action ``personal.reveal`` or
``personal.export``) naming who, what record, and why, before the data leaves the server.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from assistant.auth.deps import StaffUser
from assistant.storage.models import AuditLog

# Administrators (exports, complaints) and department handlers (calling a resident back about their case).
REVEAL_ROLES = ("admin", "department")


def may_reveal(user: StaffUser) -> bool:
    return user.role in REVEAL_ROLES


def record_access(session: Session, user: StaffUser, action: str, target: str, purpose: str = "") -> None:
    session.add(AuditLog(actor=user.username, action=action, target=target[:120], detail=purpose[:500]))

