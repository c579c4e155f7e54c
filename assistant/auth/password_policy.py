"""The one password policy: account creation, password reset (console and ``shequ users``) all call ``check``.

Rules (each refusal is one short Chinese sentence in ``InvalidAccount``):
- 12 to 256 characters, no leading or trailing spaces;
- not one character repeated, not in the shipped list of common passwords (also after dropping trailing digits
  and symbols, so ``password2026!`` counts as ``password``);
- not the username or a simple variant of it (any case, reversed, with digits or symbols around it).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from assistant.auth import InvalidAccount

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
# A base shorter than this after stripping digits/symbols is not looked up (``ab`` + 10 digits is not "ab").
MIN_BASE_LENGTH = 4
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _core(text: str) -> str:
    """Drops digits and symbols around a word: ``!!Admin2025`` → ``admin``."""
    return _EDGES.sub("", text.lower())


def _is_common(password: str) -> bool:
    lowered = password.lower()
    listed = common_passwords()
    if lowered in listed:
        return True
    core = _core(lowered)
    return len(core) >= MIN_BASE_LENGTH and core in listed


def _is_username_variant(password: str, username: str) -> bool:
    name = username.strip().lower()
    if not name:
        return False
    lowered = password.lower()
    candidates = {lowered, lowered[::-1], _core(lowered), _core(lowered[::-1])}
    # "zhangsan" also hides in "zhang.san" / "zhang_san": compare with separators removed.
    plain_name = re.sub(r"[\W_]+", "", name)
    candidates |= {re.sub(r"[\W\d_]+", "", c) for c in candidates}
    # "liwei88" as a username: "Liwei2025!" is the same name with other digits.
    name_core = _core(name)
    names = {name, plain_name} | ({name_core} if len(name_core) >= MIN_BASE_LENGTH else set())
    return bool(names & candidates)


def check(password: str, username: str = "") -> None:
    """Raises ``InvalidAccount`` with the reason when ``password`` is not allowed for ``username``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccount(f"密码至少要 {MIN_PASSWORD_LENGTH} 位")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidAccount(f"密码最多 {MAX_PASSWORD_LENGTH} 位")
    if password.strip() != password:
        raise InvalidAccount("密码开头和结尾不能是空格")
    if len(set(password)) == 1:
        raise InvalidAccount("密码不能只是同一个字符重复")
    if _is_username_variant(password, username):
        raise InvalidAccount("密码不能是用户名或用户名加数字、倒写")
    if _is_common(password):
        raise InvalidAccount("这个密码太常见，很容易被猜到，请换一个")
