"""Where a work order goes and by when: the routing table, deadlines and categories from the orders config."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from assistant.handoff import ConfigError
from assistant.handoff.calendar import WorkingCalendar
from assistant.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).resolve().parent / "orders.yaml"
GENERAL_CATEGORY = "一般诉求"


@dataclass(frozen=True)
class Route:
    department: str
    category: str
    priority: str
    deadline_days: int


@dataclass
class OrderPolicy:
    default_department: str = "社区"
    local_departments: frozenset[str] = frozenset({"社区"})
    topic_routes: dict[str, str] = field(default_factory=dict)
    category_routes: dict[str, str] = field(default_factory=dict)
    deadlines: dict[str, int] = field(default_factory=lambda: {"default": 3})
    priorities: dict[str, str] = field(default_factory=dict)
    keywords: dict[str, list[str]] = field(default_factory=dict)
    webhooks: dict[str, str] = field(default_factory=dict)
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    # True when a ticket sink delivers orders to department systems (otherwise nothing is queued).
    deliver: bool = False

    def categorize(self, description: str, category: str | None) -> str:
        for name, words in self.keywords.items():
            if any(word in description for word in words):
                return name
        return category or GENERAL_CATEGORY

    def deadline_days(self, category: str) -> int:
        return int(self.deadlines.get(category, self.deadlines.get("default", 3)))

    def route(self, *, description: str = "", category: str | None = None, topic_id: str | None = None,
              suggested_department: str | None = None) -> Route:
        final_category = self.categorize(description, category)
        department = (self.topic_routes.get(topic_id or "") or self.category_routes.get(final_category)
                      or suggested_department or self.default_department)
        return Route(department, final_category, self.priorities.get(final_category, "normal"),
                     self.deadline_days(final_category))

    def due_at(self, start: dt.datetime, days: int) -> dt.datetime:
        # In UTC: SQLite stores datetimes without their zone, and every stored time is read back as UTC.
        return self.calendar.add_working_days(start, days).astimezone(dt.UTC)

    def delivers_to(self, department: str) -> bool:
        return self.deliver and department not in self.local_departments


def _dates(values: Any, name: str) -> list[dt.date]:
    result = []
    for value in values or []:
        if isinstance(value, dt.date):
            result.append(value)
            continue
        try:
            result.append(dt.date.fromisoformat(str(value)))
        except ValueError as exc:
            raise ConfigError(f"{name}: {value!r} is not a date like 2030-10-01") from exc
    return result


def _office_end(office_hours: str) -> dt.time:
    match = re.fullmatch(r"\s*\d{1,2}:\d{2}\s*-\s*(\d{1,2}):(\d{2})\s*", office_hours or "")
    if not match:
        return dt.time(18, 0)
    return dt.time(min(int(match.group(1)), 23), min(int(match.group(2)), 59))


def parse_policy(data: dict[str, Any], *, office_hours: str = "08:00-18:00", deliver: bool = False,
                 source: str = "orders config") -> OrderPolicy:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    routing = data.get("routing") or {}
    deadlines = {str(k): v for k, v in (data.get("deadlines") or {}).items()}
    for name, days in deadlines.items():
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 365:
            raise ConfigError(f"{source}: deadline of {name!r} must be a whole number of working days (0-365)")
    deadlines.setdefault("default", 3)
    keywords = {str(k): [str(w) for w in (v or []) if str(w)] for k, v in (data.get("keywords") or {}).items()}
    calendar = WorkingCalendar(_dates(data.get("holidays"), "holidays"), _dates(data.get("workdays"), "workdays"),
                               _office_end(office_hours))
    default = str(data.get("default_department") or "社区")
    return OrderPolicy(
        default_department=default,
        local_departments=frozenset(str(d) for d in (data.get("local_departments") or [default])),
        topic_routes={str(k): str(v) for k, v in (routing.get("topics") or {}).items()},
        category_routes={str(k): str(v) for k, v in (routing.get("categories") or {}).items()},
        deadlines=deadlines,
        priorities={str(k): str(v) for k, v in (data.get("priorities") or {}).items()},
        keywords=keywords,
        webhooks={str(k): str(v) for k, v in (data.get("webhooks") or {}).items()},
        calendar=calendar,
        deliver=deliver,
    )


def load_policy(path: Path | None = None, *, office_hours: str = "08:00-18:00", deliver: bool = False) -> OrderPolicy:
    path = path or DEFAULT_CONFIG
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read the orders config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"the orders config {path} is not valid YAML: {exc}") from exc
    return parse_policy(data, office_hours=office_hours, deliver=deliver, source=str(path))


def policy_from_settings(settings: Settings) -> OrderPolicy:
    return load_policy(settings.orders_config, office_hours=settings.office_hours,
                       deliver=settings.ticket_sink not in ("", "none"))


@lru_cache(maxsize=1)
def default_policy() -> OrderPolicy:
    """The shipped configuration, for callers that were not given one (nothing is delivered)."""
    return load_policy()
