"""Community notices and disaster warnings (issue 17): what residents see on every screen.

Modules (one job each)::

    models.py      Notice, EarlyWarning, WarningCommunity tables (migration 0018_bulletins)
    levels.py      the four warning levels (蓝/黄/橙/红): CAP severity ↔ level, label, banner colours (≥ 7:1)
    cap.py         CAP 1.2 parsing with defusedxml (no DTD, no entities, size-bounded) → CapAlert
    feed.py        polling a configured CAP feed (Atom of CAP links, or CAP documents) on a schedule
    areas.py       which communities a CAP <area> covers (district / street / geocode against communities)
    warnings.py    ingest: new, duplicate, update, cancel; manual warnings (转移安置) take the same path
    announce.py    what a new or changed warning sets off: staff alerts, the bus event, WeChat pushes
    notices.py     notices with draft → submitted → approved → published → archived, audited like KB entries
    board.py       the read model: a community's current warnings and notices as the kiosk and web chat get them

Errors::

    BulletinError            base
    ├── CapError             a CAP document or feed refused (too big, DTD/entities, wrong namespace, bad fields)
    └── NoticeError          a notice action refused (role, state, scope, invalid fields) — message in Chinese
"""

from __future__ import annotations


class BulletinError(Exception):
    """Base of this package's errors."""


class CapError(BulletinError):
    """A CAP document or feed was refused; the message says why in a short line (logged, never shown to residents)."""


class NoticeError(BulletinError):
    """A notice action was refused; the message is Chinese and shown to staff as is."""


WARNING_ALERT_KIND = "warning"  # Alert.kind of a warning for staff: not a resident's emergency, never escalated
NOTICE_CHANNEL = "system"
