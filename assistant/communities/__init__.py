"""Communities: one deployment serves a city's communities (issue 15).

Everything a resident starts — a conversation, a handoff, a work order, an emergency, an unanswered
question — belongs to one community, named by its code. The community of today's single-community
installation is the default community: it mirrors the profile file named by ``SHEQU_COMMUNITY_PROFILE``
(``knowledge_base/data/community_profile.example.yaml`` is the format) and is what a request without a
community gets.
"""

from __future__ import annotations

import re

DEFAULT_CODE = "default"
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")  # goes into URLs (/?c=CODE) and file names
CODE_HELP = "社区编号只能用字母、数字、- 和 _，最长 32 位"


class CommunityError(ValueError):
    """A community that cannot be used; ``str(error)`` is a short Chinese sentence for the person asking."""


class UnknownCommunity(CommunityError):
    def __init__(self, code: str) -> None:
        shown = code if CODE_PATTERN.fullmatch(code or "") else "（格式不对）"
        super().__init__(f"没有编号为 {shown} 的社区，请检查社区编号")
        self.code = code


def valid_code(code: str | None) -> bool:
    return bool(code) and CODE_PATTERN.fullmatch(code or "") is not None
