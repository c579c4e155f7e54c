"""``shequ users create|list|unlock|passwd``: staff accounts of the console."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from assistant.auth import ROLE_LABELS, ROLES, AuthError
from assistant.auth.models import StaffAccount
from assistant.auth.service import create_account, set_password, unlock
from assistant.commands.common import UserError, app_context
from assistant.storage.db import session_scope


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError("no password on standard input")
        return line.rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group()
def users() -> None:
    """Staff accounts: admin, staff, approver, department."""


@users.command()
@click.option("--username", required=True, help="2-40 letters, digits, '.', '_' or '-'")
@click.option("--role", required=True, type=click.Choice(ROLES), help="what the account may do")
@click.option("--department", default="", help="for department handlers: the department they handle")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of standard input")
def create(username: str, role: str, department: str, password_stdin: bool) -> None:
    """Create a staff account (the password is prompted for, or read with --password-stdin)."""
    password = _read_password(password_stdin)
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as session:
        try:
            create_account(session, username, role, password, department=department, actor="cli")
        except AuthError as exc:
            raise UserError(str(exc)) from exc
    click.echo(f"created {username} ({role} {ROLE_LABELS[role]})")


@users.command("list")
def list_users() -> None:
    """List accounts with their role and lock state."""
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as session:
        for account in session.scalars(select(StaffAccount).order_by(StaffAccount.username)):
            state = "active" if account.active else "disabled"
            if account.locked_until is not None:
                state += ", locked"
            click.echo(f"{account.username}\t{account.role}\t{account.department or '-'}\t{state}")


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
def passwd(username: str, password_stdin: bool) -> None:
    """Set a new password (signs the account out everywhere)."""
    password = _read_password(password_stdin)
    with app_context(load_shipped=False) as context, session_scope(context.sessions) as session:
        try:
            set_password(session, username, password, actor="cli")
        except AuthError as exc:
            raise UserError(str(exc)) from exc
    click.echo(f"password changed for {username}")
