"""What the kiosk offers before anyone types anything: category tiles, common questions, suggestions.

Built from the knowledge base the assistant answers from (in-process: the live KB, so staff edits show up;
over HTTP: the KB content shipped with this install). Tiles send ``/topic <entry-id>`` payloads, and the
entry title when the server does not know the id (see ``controller``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from assistant.dialogue import payloads
from knowledge_base.models import CATEGORIES, KbEntry
from knowledge_base.profile import CommunityProfile

log = logging.getLogger(__name__)

PAGE_SIZE = 6  # service choices per screen at most (reference/accessibility.md)
SHORT_SCREEN_PAGE_SIZE = 4
# Below this window height, three rows of choices leave a button too low for a title that wraps onto a second
# line (seen at 1280×800), so such screens show two rows.
SHORT_SCREEN_HEIGHT = 1000


def page_size_for(window_height: float) -> int:
    """Choices per list page for a window this tall (pixels)."""
    return PAGE_SIZE if window_height >= SHORT_SCREEN_HEIGHT else SHORT_SCREEN_PAGE_SIZE
DEFAULT_COMMUNITY_NAME = "社区服务中心"
# What older residents ask most at a community service centre; missing ids are skipped.
COMMON_QUESTION_IDS = (
    "senior-age-allowance",
    "resident-pension-claim",
    "pension-eligibility-certification",
    "resident-medical-insurance-enroll",
    "senior-free-checkup",
    "senior-preferential-card",
    "social-security-card-loss",
    "minimum-living-allowance",
    "home-care-service",
    "community-elderly-canteen",
    "cross-region-medical-filing",
    "family-doctor-contract",
)

T = TypeVar("T")


@dataclass(frozen=True)
class Question:
    entry_id: str
    title: str

    @property
    def payload(self) -> str:
        return payloads.topic(self.entry_id)


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    questions: tuple[Question, ...]


def page_of(items: Sequence[T], page: int, size: int = PAGE_SIZE) -> tuple[list[T], int, int]:
    """(items on ``page``, the page actually shown, number of pages); ``page`` is clamped, never raises."""
    pages = max(1, -(-len(items) // size))
    page = min(max(0, page), pages - 1)
    return list(items[page * size : (page + 1) * size]), page, pages


class Catalog:
    def __init__(
        self,
        entries: Iterable[KbEntry],
        profile: CommunityProfile | None = None,
        *,
        home_codes: Sequence[str] = (),
        common_ids: Sequence[str] = COMMON_QUESTION_IDS,
    ) -> None:
        self._entries: dict[str, KbEntry] = {e.id: e for e in entries}
        self.profile = profile or CommunityProfile()
        grouped: dict[str, list[Question]] = {}
        for entry in self._entries.values():
            grouped.setdefault(entry.category, []).append(Question(entry.id, entry.title))
        # Category order follows CATEGORIES (the order staff know), entries keep their file order.
        self.categories: dict[str, Category] = {
            code: Category(code, name, tuple(grouped[code])) for code, name in CATEGORIES.items() if code in grouped
        }
        self.home_codes = tuple(code for code in home_codes if code in self.categories)
        self._common_ids = tuple(common_ids)

    # --- construction ---
    @classmethod
    def from_directory(cls, data_dir: Path, profile_path: Path | None = None, **kwargs: object) -> Catalog:
        """The shipped KB files (used when the assistant runs on a central server)."""
        from knowledge_base.loader import load_entries
        from knowledge_base.models import EntryStatus
        from knowledge_base.profile import load_profile

        entries = [e for e in load_entries(data_dir) if e.status == EntryStatus.published]
        path = profile_path or data_dir / "community_profile.example.yaml"
        profile = load_profile(path) if path.exists() else None
        return cls(entries, profile, **kwargs)  # type: ignore[arg-type]

    # --- lookups ---
    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, entry_id: str) -> KbEntry | None:
        return self._entries.get(entry_id)

    def question(self, entry_id: str) -> Question | None:
        entry = self._entries.get(entry_id)
        return Question(entry.id, entry.title) if entry else None

    def category(self, code: str) -> Category | None:
        return self.categories.get(code)

    def home_categories(self) -> list[Category]:
        return [self.categories[code] for code in self.home_codes]

    def other_categories(self) -> list[Category]:
        return [c for code, c in self.categories.items() if code not in self.home_codes]

    def common_questions(self) -> list[Question]:
        found = [q for q in (self.question(i) for i in self._common_ids) if q is not None]
        if found:
            return found
        # A KB without any of the usual topics (a test KB, a new community): its first entries instead.
        return [Question(e.id, e.title) for e in list(self._entries.values())[: PAGE_SIZE * 2]]

    # --- rendered content (community profile placeholders filled, nothing invented) ---
    @property
    def community_name(self) -> str:
        name = self.profile.name.strip()
        return name if name and not self.profile.example else DEFAULT_COMMUNITY_NAME

    def aspect_text(self, entry_id: str, aspect: str) -> str | None:
        entry = self._entries.get(entry_id)
        raw = getattr(entry.aspects, aspect, None) if entry else None
        return self.profile.render(raw) if raw else None

    def answer_text(self, entry_id: str) -> str | None:
        entry = self._entries.get(entry_id)
        return self.profile.render(entry.answer) if entry else None
