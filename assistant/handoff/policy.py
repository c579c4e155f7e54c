"""Where a work order goes and by when: the departments, routing rules, deadlines and categories of the orders config.

Departments are a fixed list (``departments`` in ``orders.yaml``): every rule, route, default and webhook must name
one of them, or loading the config fails with a message naming the culprit, so a typo can never hide an order
from a department's account. Names coming from elsewhere (a knowledge-base entry's ``department`` such as
「人社（劳动监察）」) are mapped onto the list by ``department_for``.
"""

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
MAX_DEPARTMENT = 40  # the width of work_orders.department


@dataclass(frozen=True)
class Route:
    department: str
    category: str
    priority: str
    deadline_days: int


@dataclass(frozen=True)
class ProblemRule:
    """A kind of problem residents report and the department that handles it.

    Matches when any of ``words`` is in the report and, if ``also`` is given, any of those too (e.g. noise
    *and* a night-time word goes to the police rather than to the community's mediation).
    """

    kind: str
    words: tuple[str, ...]
    department: str
    also: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()

    def matches(self, text: str) -> bool:
        if not any(word in text for word in self.words):
            return False
        if self.also and not any(word in text for word in self.also):
            return False
        return not any(word in text for word in self.unless)


@dataclass
class OrderPolicy:
    default_department: str = "社区"
    departments: tuple[str, ...] = ("社区",)
    department_aliases: dict[str, str] = field(default_factory=dict)
    problems: tuple[ProblemRule, ...] = ()
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

    def is_department(self, name: str | None) -> bool:
        return bool(name) and name in self.departments

    def department_for(self, name: str | None) -> str | None:
        """The listed department a free-form name means (「人社（劳动监察）」→ 人社, 「公安」→ 派出所), or None."""
        name = (name or "").strip()
        if not name:
            return None
        if name in self.departments:
            return name
        if name in self.department_aliases:
            return self.department_aliases[name]
        # Longest prefix first, so 「公安出入境」 is not read as some shorter listed name.
        for prefix in sorted([*self.departments, *self.department_aliases], key=len, reverse=True):
            if name.startswith(prefix):
                return self.department_aliases.get(prefix, prefix)
        return None

    def problem_of(self, description: str) -> tuple[str, str] | None:
        """(kind, department) of the first problem rule the report matches."""
        text = (description or "").lower()
        for rule in self.problems:
            if rule.matches(text):
                return rule.kind, rule.department
        return None

    def route(self, *, description: str = "", category: str | None = None, topic_id: str | None = None,
              suggested_department: str | None = None) -> Route:
        """What the resident says comes first (problem rules), then a topic's or category's route, then the
        suggested department (mapped onto the list), then the default: the result is always a listed department."""
        final_category = self.categorize(description, category)
        problem = self.problem_of(description)
        department = (self.topic_routes.get(topic_id or "") or (problem[1] if problem else None)
                      or self.category_routes.get(final_category)
                      or self.department_for(suggested_department) or self.default_department)
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


def _departments(values: Any, source: str) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise ConfigError(f"{source}: departments 应该是部门名称的列表")
    names = [str(v).strip() for v in values]
    for name in names:
        if not name or len(name) > MAX_DEPARTMENT:
            raise ConfigError(f"{source}: 部门名称“{name}”应为1到{MAX_DEPARTMENT}个字")
        if names.count(name) > 1:
            raise ConfigError(f"{source}: 部门“{name}”在 departments 里出现了两次")
    return tuple(names)


def _words(value: Any) -> tuple[str, ...]:
    return tuple(str(w).lower() for w in (value or []) if str(w).strip())


def _problem(item: Any, source: str) -> ProblemRule:
    if not isinstance(item, dict) or not item.get("kind") or not item.get("department"):
        raise ConfigError(f"{source}: problems 的每条规则都要有 kind、words 和 department：{item!r}")
    words = _words(item.get("words"))
    if not words:
        raise ConfigError(f"{source}: problems 规则“{item['kind']}”没有 words（关键词）")
    return ProblemRule(str(item["kind"]), words, str(item["department"]), _words(item.get("also")),
                       _words(item.get("unless")))


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
    # A config without a list knows only its default department.
    departments = _departments(data.get("departments") or [default], source)
    aliases = {str(k): str(v) for k, v in (data.get("department_aliases") or {}).items()}
    problems = tuple(_problem(item, source) for item in (data.get("problems") or []))
    topic_routes = {str(k): str(v) for k, v in (routing.get("topics") or {}).items()}
    category_routes = {str(k): str(v) for k, v in (routing.get("categories") or {}).items()}
    local = frozenset(str(d) for d in (data.get("local_departments") or [default]))
    webhooks = {str(k): str(v) for k, v in (data.get("webhooks") or {}).items()}
    named = [("default_department", default), *((f"local_departments {d}", d) for d in local),
             *((f"department_aliases {k}", v) for k, v in aliases.items()),
             *((f"problems {r.kind}", r.department) for r in problems),
             *((f"routing.topics {k}", v) for k, v in topic_routes.items()),
             *((f"routing.categories {k}", v) for k, v in category_routes.items()),
             *((f"webhooks {k}", k) for k in webhooks)]
    for where, name in named:
        if name not in departments:
            raise ConfigError(f"{source}: {where} 的部门“{name}”不在 departments 列表里（{'、'.join(departments)}）")
    return OrderPolicy(
        default_department=default,
        departments=departments,
        department_aliases=aliases,
        problems=problems,
        local_departments=local,
        topic_routes=topic_routes,
        category_routes=category_routes,
        deadlines=deadlines,
        priorities={str(k): str(v) for k, v in (data.get("priorities") or {}).items()},
        keywords=keywords,
        webhooks=webhooks,
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
