"""``shequ users create|list|unlock|passwd|disable|enable|role|reset-totp``: staff accounts of the console.

``--role`` has no default: an account gets exactly the role asked for, never administrator by omission.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from assistant.auth import ROLE_LABELS, AuthError, totp
from assistant.auth.models import StaffAccount
from assistant.auth.service import (
    ROLES_BY_PRIVILEGE,
    change_role,
    create_account,
    reset_password,
    set_active,
    set_community,
    unlock,
)
from assistant.commands.common import UserError, app_context
from assistant.console.departments import departments_of
from assistant.context import AppContext
from assistant.handoff import ConfigError
from assistant.handoff.policy import policy_from_settings
from assistant.settings import Settings
from assistant.storage.db import session_scope

ROLE_HELP = "what the account may do, least privilege first: " + ", ".join(
    f"{r} ({ROLE_LABELS[r]})" for r in ROLES_BY_PRIVILEGE)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError("no password on standard input")
        return line.rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _check_department(settings: Settings, role: str, department: str) -> list[str]:
    """Department handlers belong to one department of the fixed list in the orders config."""
    try:
        departments = departments_of(policy_from_settings(settings))
    except ConfigError as exc:
        raise UserError(str(exc)) from exc
    if role == "department" and department not in departments:
        raise UserError(f"--department must be one of: {', '.join(departments)}")
    return departments


@click.group()
def users() -> None:
    """Staff accounts: department, staff, approver, admin."""


def _community_codes(context: AppContext) -> list[str]:
    return [c.code for c in context.communities.all() if c.active]


COMMUNITY_HELP = "the community code the account serves (see `shequ communities list`); omit for city staff"


@users.command()
@click.option("--username", required=True, help="2-40 letters, digits, '.', '_' or '-'")
@click.option("--role", required=True, type=click.Choice(ROLES_BY_PRIVILEGE), help=ROLE_HELP)
@click.option("--department", default="", help="for department handlers: their department (from orders.yaml)")
@click.option("--community", default="", help=COMMUNITY_HELP)
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of standard input")
def create(username: str, role: str, department: str, community: str, password_stdin: bool) -> None:
    """Create a staff account (the password is prompted for, or read with --password-stdin).

    Passwords: at least 12 characters, not a common one, not the username or a variant of it.
    """
    with app_context(load_shipped=False) as context:
        _check_department(context.settings, role, department)
        password = _read_password(password_stdin)
        with session_scope(context.sessions) as session:
            try:
                create_account(session, username, role, password,
                               department=department if role == "department" else "", actor="cli",
                               community=community or None, communities=_community_codes(context))
            except AuthError as exc:
                raise UserError(str(exc)) from exc
    click.echo(f"created {username} ({role} {ROLE_LABELS[role]})")


@users.command("list")
def list_users() -> None:
    """List accounts with their role, lock state and community ("city": city staff, who see every community)."""
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as session:
        for account in session.scalars(select(StaffAccount).order_by(StaffAccount.username)):
            state = "active" if account.active else "disabled"
            if account.locked_until is not None:
                state += ", locked"
            click.echo(f"{account.username}\t{account.role}\t{account.department or '-'}\t{state}\t"
                       f"{account.community_code or 'city'}")


@users.command("unlock")
@click.option("--username", required=True)
def unlock_command(username: str) -> None:
    """Clear the lockout after repeated sign-in failures."""
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as session:
        try:
            unlock(session, username, actor="cli")
        except AuthError as exc:
            raise UserError(str(exc)) from exc
    click.echo(f"unlocked {username}")


@users.command("passwd")
@click.option("--username", required=True)
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of standard input")
@click.option("--generate", is_flag=True, help="generate a password and print it once")
def passwd(username: str, password_stdin: bool, generate: bool) -> None:
    """Set a new password (signs the account out everywhere)."""
    password = None if generate else _read_password(password_stdin)
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as session:
        try:
            new_password = reset_password(session, username, "cli", password)
        except AuthError as exc:
            raise UserError(str(exc)) from exc
    click.echo(f"password changed for {username}")
    if generate:
        click.echo(f"new password (shown once): {new_password}")


def _set_active(username: str, active: bool) -> None:
    # The command line acts as "cli", so the self-disable check does not apply; the last administrator stays.
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as session:
        try:
            set_active(session, username, active, "cli")
        except AuthError as exc:
            raise UserError(str(exc)) from exc


@users.command("disable")
@click.option("--username", required=True)
def disable(username: str) -> None:
    """Disable an account: it cannot sign in and its open sessions end at once."""
    _set_active(username, False)
    click.echo(f"disabled {username}")


@users.command("enable")
@click.option("--username", required=True)
def enable(username: str) -> None:
    """Enable a disabled account again."""
    _set_active(username, True)
    click.echo(f"enabled {username}")


@users.command("role")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES_BY_PRIVILEGE), help=ROLE_HELP)
@click.option("--department", default="", help="for department handlers: their department (from orders.yaml)")
def role_command(username: str, role: str, department: str) -> None:
    """Give an account another role (the last active administrator keeps theirs)."""
    with app_context(load_shipped=False) as context:
        departments = _check_department(context.settings, role, department)
        with session_scope(context.sessions) as session:
            try:
                change_role(session, username, role, "cli", department=department, departments=departments)
            except AuthError as exc:
                raise UserError(str(exc)) from exc
    click.echo(f"{username} is now {role} ({ROLE_LABELS[role]})")


@users.command("community")
@click.option("--username", required=True)
@click.option("--community", default="", help=COMMUNITY_HELP)
def community_command(username: str, community: str) -> None:
    """Limit an account to one community, or (without --community) let it see the whole city."""
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as session:
        try:
            set_community(session, username, community or None, "cli", communities=_community_codes(context))
        except AuthError as exc:
            raise UserError(str(exc)) from exc
    click.echo(f"{username} now serves {community or 'the whole city'}")


@users.command("reset-totp")
@click.option("--username", required=True)
def reset_totp_command(username: str) -> None:
    """Turn off an account's two-step sign-in (a lost phone and lost recovery codes); audited.

    The way back in for the last administrator, who cannot reset their own second factor on the web.
    """
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as session:
        account = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
        if account is None:
            raise UserError(f"no account named {username}")
        try:
            totp.reset(session, account, "cli")
        except AuthError as exc:
            raise UserError(str(exc)) from exc
    click.echo(f"two-step sign-in turned off for {username}; they sign in with the password and may set it up again")
