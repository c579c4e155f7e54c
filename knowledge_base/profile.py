"""The per-community profile (name, address, hours, phones) and placeholder rendering.

Entries never hard-code a local phone number or address: they say ``{社区电话}`` or
``{部门电话:民政}`` and the profile that staff fill in supplies the value. Anything unknown renders
as a visible marker for staff instead of a guess.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from knowledge_base.errors import ProfileError
from knowledge_base.loader import parse_yaml_file

UNKNOWN = "（待社区工作人员填写）"
_PLACEHOLDER = re.compile(r"\{([^{}:：]{1,12})(?:[:：]([^{}]{1,20}))?\}")


class CommunityProfile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    example: bool = False
    name: str = ""
    address: str = ""
    hours: str = ""
    phone: str = ""
    department_phones: dict[str, str] = {}
    places: dict[str, str] = {}
    online_service_url: str = ""

    def lookup(self, key: str, argument: str | None) -> str | None:
        simple = {"社区名称": self.name, "社区地址": self.address, "办公时间": self.hours, "社区电话": self.phone}
        if key in simple:
            return simple[key] or None
        if key == "部门电话" and argument:
            return self.department_phones.get(argument) or None
        if key == "地点" and argument:
            return self.places.get(argument) or None
        return None

    def render(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            key, argument = match.group(1), match.group(2)
            value = self.lookup(key, argument)
            if value:
                return value
            if key == "地点" and argument:
                return f"{argument}{UNKNOWN}"
            if key == "部门电话" and argument:
                return f"{argument}电话{UNKNOWN}"
            return UNKNOWN

        return _PLACEHOLDER.sub(replace, text)


def placeholders_in(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in _PLACEHOLDER.finditer(text)]


def load_profile(path: Path) -> CommunityProfile:
    data, _ = parse_yaml_file(path)
    try:
        return CommunityProfile.model_validate(data or {})
    except ValidationError as exc:
        raise ProfileError(f"{path}: {exc.errors()[0]['msg']}") from exc
