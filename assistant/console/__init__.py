"""The staff and administrator console: knowledge-base workflow, unanswered questions, dashboard, exports.

Exceptions::

    ConsoleError
    ├── WorkflowError      a draft cannot move that way (wrong state, same person approving own work)
    └── FormInvalid        field-level validation messages for a form (``errors``: field → message)
"""

from __future__ import annotations

from fastapi import APIRouter


class ConsoleError(Exception):
    """Base of every error of the console package."""


class WorkflowError(ConsoleError):
    pass


class FormInvalid(ConsoleError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def routers() -> list[APIRouter]:
    from assistant.console import (
        admin_routes,
        alert_routes,
        auth_routes,
        dashboard_routes,
        kb_routes,
        notice_routes,
        pages,
        privacy_routes,
        profile_routes,
        transfer_routes,
        unanswered_routes,
        warning_routes,
    )

    return [auth_routes.router, pages.router, dashboard_routes.router, kb_routes.router, transfer_routes.router,
            unanswered_routes.router, admin_routes.router, alert_routes.router, privacy_routes.router,
            profile_routes.router, notice_routes.router, warning_routes.router]  # issue 17: bulletins
