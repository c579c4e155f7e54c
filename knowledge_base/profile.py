"""The per-community profile (name, address, hours, phones) and placeholder rendering.

Entries never hard-code a local phone number or address: they say ``{社区电话}`` or
``{部门电话:民政}`` and the profile that staff fill in supplies the value.

What a resident reads when a value is unknown: the sentence degrades to what is known instead of showing a
marker (rules in ``knowledge_base/profile_text.py``): 「到{社区地址}办」 → 「到社区服务中心办」, 「12333；
{部门电话:人社}」 → 「12333」, an unknown 办公时间 → 「具体时间请打12345问」. Staff previews render with
``for_staff=True`` and keep the visible marker 「（待社区工作人员填写）」 so the gaps show.

A demonstration profile (``demo: true``, used by ``make run`` when no profile is configured) adds one note
per rendered text that used one of its values: 「（示例社区信息，仅供演示）」.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from knowledge_base.errors import ProfileError
from knowledge_base.loader import parse_yaml_file
from knowledge_base.profile_text import PLACEHOLDER, Placeholder, degrade

UNKNOWN = "（待社区工作人员填写）"
DEMO_NOTE = "（示例社区信息，仅供演示）"
MISSING_LABEL = "未填写"
SIMPLE_FIELDS = {"社区名称": "name", "社区地址": "address", "办公时间": "hours", "社区电话": "phone"}


class CommunityProfile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    example: bool = False  # the shipped template: not any real community's details
    demo: bool = False  # the demonstration profile of `make run`: answers that use it say so once
    name: str = ""
    address: str = ""
    hours: str = ""
    phone: str = ""
    department_phones: dict[str, str] = {}
    places: dict[str, str] = {}
    online_service_url: str = ""

    def lookup(self, key: str, argument: str | None) -> str | None:
        if key in SIMPLE_FIELDS and argument is None:
            value: str = getattr(self, SIMPLE_FIELDS[key])
        elif key == "部门电话" and argument:
            value = self.department_phones.get(argument) or ""
        elif key == "地点" and argument:
            value = self.places.get(argument) or ""
        else:
            return None
        # Braces in a value would read as a placeholder on a second pass; nobody means them.
        value = value.strip().replace("{", "").replace("}", "")
        return value or None

    def render(self, text: str, *, for_staff: bool = False) -> str:
        """``text`` with its placeholders filled in: for residents unknown values degrade (see the module
        docstring); ``for_staff`` shows them as 「（待社区工作人员填写）」 instead."""
        used_value = False

        def value_of(placeholder: Placeholder) -> str | None:
            nonlocal used_value
            value = self.lookup(placeholder.key, placeholder.argument)
            used_value = used_value or value is not None
            return value

        if for_staff:
            rendered = PLACEHOLDER.sub(lambda m: value_of(Placeholder.of(m)) or _staff_marker(Placeholder.of(m)),
                                       text)
        else:
            rendered = degrade(text, value_of, fallback_phone="12345")
        if self.demo and used_value and rendered:
            rendered += DEMO_NOTE
        return rendered


def _staff_marker(placeholder: Placeholder) -> str:
    if placeholder.key == "地点" and placeholder.argument:
        return f"{placeholder.argument}{UNKNOWN}"
    if placeholder.key == "部门电话" and placeholder.argument:
        return f"{placeholder.argument}电话{UNKNOWN}"
    return UNKNOWN


def placeholders_in(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(text)]


def load_profile(path: Path) -> CommunityProfile:
    data, _ = parse_yaml_file(path)
    try:
        return CommunityProfile.model_validate(data or {})
    except ValidationError as exc:
        raise ProfileError(f"{path}: {exc.errors()[0]['msg']}") from exc


# ---------------------------------------------------------------- what staff still have to fill in

@dataclass
class ProfileField:
    """One detail of the profile as the console lists it."""

    label: str  # 社区电话, 部门电话：民政, 地点：派出所
    placeholder: str  # how entries write it: {社区电话}
    value: str  # "" when not filled in
    used_by: list[str] = field(default_factory=list)  # ids of entries whose text uses it

    @property
    def filled(self) -> bool:
        return bool(self.value)


def profile_fields(profile: CommunityProfile, texts: Iterable[tuple[str, str]]) -> list[ProfileField]:
    """Every detail of ``profile``, plus every one the entries use that the profile does not list, with the
    ids of the entries that use it. ``texts`` are (entry id, text) pairs of the resident-facing fields."""
    rows: dict[tuple[str, str | None], ProfileField] = {}
    for key in SIMPLE_FIELDS:
        rows[(key, None)] = ProfileField(key, f"{{{key}}}", profile.lookup(key, None) or "")
    for group, values in (("部门电话", profile.department_phones), ("地点", profile.places)):
        for argument in values:
            rows[(group, argument)] = ProfileField(f"{group}：{argument}", f"{{{group}:{argument}}}",
                                                   profile.lookup(group, argument) or "")
    for entry_id, text in texts:
        for key, argument in placeholders_in(text):
            argument = argument.strip() if argument else None
            row = rows.get((key, argument))
            if row is None:
                label = f"{key}：{argument}" if argument else key
                placeholder = f"{{{key}:{argument}}}" if argument else f"{{{key}}}"
                row = rows[(key, argument)] = ProfileField(label, placeholder, profile.lookup(key, argument) or "")
            if entry_id not in row.used_by:
                row.used_by.append(entry_id)
    return list(rows.values())
