"""Chinese labels for every code a person sees: statuses, actions, roles, audit entries, intents, channels.

One table per kind; ``zh(code, kind)`` is also the Jinja filter ``zh`` (``{{ entry.status | zh("kb_status") }}``).
An unknown code is shown as it is (never an error), so a new code shows up, untranslated, instead of a 500;
a test checks that every code the code base writes has a label.
"""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "kb_status": {"draft": "草稿", "review": "待审核", "published": "已发布", "archived": "已下线"},
}


def zh(code: object, kind: str) -> str:
    """The Chinese label of ``code`` in the table ``kind``; the code itself when there is none."""
    if code is None:
        return ""
    text = str(code)
    return LABELS.get(kind, {}).get(text, text)


def percent(value: object, digits: int = 1) -> str:
    """A rate (0.5056) as a percentage (50.6%); "—" when there is no rate."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    return f"{value * 100:.{digits}f}%"
