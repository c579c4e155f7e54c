"""Exceptions of the knowledge-base package.

KnowledgeBaseError
├── ValidationFailed      one or more content problems, each with a location (file:line or row/column)
├── ProfileError          the community profile cannot be read
├── IndexBuildError       the retrieval index cannot be built or loaded
└── UnknownComponentError a config name that no registry knows
"""

from __future__ import annotations

from dataclasses import dataclass


class KnowledgeBaseError(Exception):
    """Base of every knowledge-base error."""


@dataclass(frozen=True)
class Problem:
    """One content problem and where it is: ``file:line`` for YAML, ``row N, column X`` for sheets."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ValidationFailed(KnowledgeBaseError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        head = "; ".join(str(p) for p in problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} problem(s): {head}{more}")


class ProfileError(KnowledgeBaseError):
    pass


class IndexBuildError(KnowledgeBaseError):
    pass


class UnknownComponentError(KnowledgeBaseError):
    pass
