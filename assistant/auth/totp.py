"""Optional TOTP second factor (RFC 6238, pyotp) with one-time recovery codes, for staff sign-in (issue 18).

- Set-up: ``begin_setup`` keeps a new secret as *pending*; ``confirm_setup`` turns it on only when a current
  code from the phone matches, so a mistyped set-up never locks anyone out, and returns the recovery codes to
  show once. Secrets are stored Fernet-encrypted (``PersonalDataCipher``), recovery codes only as argon2id
  hashes.
- Sign-in: after the password, ``verify_sign_in_code`` takes a 6-digit code or a recovery code. Every try
  first claims a slot of the password lockout (``service.claim_attempt``, one atomic UPDATE), so wrong codes
  count toward the same lock as wrong passwords. A code is accepted within ±1 time step (pyotp's
  ``valid_window=1``) and never twice: the last accepted step is stored with a conditional UPDATE, so of two
  parallel submissions of one code only one passes. A recovery code is marked used the same way.
- The half-signed-in state is a ``PendingSignIn`` row behind its own cookie, valid a few minutes; it is not a
  ``StaffSession``, so no page accepts it.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hmac
import io
import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pyotp
import qrcode
import qrcode.image.svg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from assistant.auth import ROLES, AccountLocked, InvalidAccount, InvalidCode
from assistant.auth.models import PendingSignIn, RecoveryCode, StaffAccount
from assistant.auth.service import (
    LockoutPolicy,
    claim_attempt,
    finish_sign_in,
    live_token_row,
    now,
    token_hash,
)
from assistant.security.crypto import PersonalDataCipher
from assistant.settings import Settings
from assistant.storage.models import AuditLog

ISSUER = "社区小助手"  # the name the authenticator app shows next to the account
DIGITS = 6
STEP_SECONDS = 30
VALID_WINDOW = 1  # steps either side of now: a phone clock 30 s off, or a code typed as it changes
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_CHARS = 10  # 32 symbols ** 10 = 2**50: not guessable within the lockout
RECOVERY_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read off paper without mistakes
PENDING_MINUTES = 5.0  # how long the "password right, code not yet entered" state lasts
MAX_CODE_INPUT = 64  # longer input is refused before any work

# Epoch seconds for the time step; tests move it to make "the next 30 seconds" without waiting.
clock: Callable[[], float] = time.time

TOTP = "totp"
RECOVERY = "recovery"
VERIFY = "verify"  # pending purpose: the account has TOTP, the code is asked for
ENROLL = "enroll"  # pending purpose: the role requires TOTP and the account has none yet: set it up first

# Recovery codes carry 50 random bits, so a cheaper argon2id than for passwords (OWASP's minimum: 19 MiB,
# 2 passes) is still far beyond guessing, and checking one against all ten stays ~0.5 s instead of ~2 s.
_recovery_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)

ENTER_CODE = "请输入手机验证器上的 6 位数字"
BAD_FORMAT = "验证码是 6 位数字；备用码是 10 位字母和数字。请检查后重新输入"
WRONG_CODE = "验证码不对或已经用过，请输入手机上现在显示的 6 位数字"
WRONG_SETUP_CODE = "验证码不对。请确认手机时间准确，再输入验证器上现在显示的 6 位数字"
SETUP_EXPIRED = "设置已失效，请重新扫描二维码"
NOT_ENABLED = "这个账号没有开启两步验证"


@functools.lru_cache(maxsize=4)
def _cipher(key: str, var_dir: Path) -> PersonalDataCipher:
    return PersonalDataCipher.from_settings(key, var_dir)


def cipher_for(settings: Settings) -> PersonalDataCipher:
    """The personal-data cipher (the key of work-order contacts), read once per key."""
    return _cipher(settings.encryption_key, settings.var_dir)


def required_roles(settings: Settings) -> frozenset[str]:
    """Roles of ``staff_totp_required_roles`` ("admin" or "admin, approver"); unknown words are ignored."""
    words = re.split(r"[\s,，、]+", settings.staff_totp_required_roles or "")
    return frozenset(w for w in words if w in ROLES)


def is_enabled(account: StaffAccount) -> bool:
    return bool(account.totp_secret)


def must_enroll(settings: Settings, account: StaffAccount) -> bool:
    return account.role in required_roles(settings) and not is_enabled(account)


# ---------------------------------------------------------------- codes

def _clean(text: str | None) -> str:
    # NFKC: full-width digits from a Chinese input method (１２３) become 123; spaces and dashes are layout.
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", text or "")).upper()


def parse_code(text: str | None, *, recovery_allowed: bool = True) -> tuple[str, str]:
    """(``TOTP``, "123456") or (``RECOVERY``, "ABCDE23456"); ``InvalidCode`` with a Chinese message otherwise."""
    if text and len(text) > MAX_CODE_INPUT:
        raise InvalidCode(BAD_FORMAT if recovery_allowed else ENTER_CODE)
    cleaned = _clean(text)
    if not cleaned:
        raise InvalidCode(ENTER_CODE)
    if re.fullmatch(rf"[0-9]{{{DIGITS}}}", cleaned):
        return TOTP, cleaned
    if recovery_allowed and len(cleaned) == RECOVERY_CODE_CHARS and all(c in RECOVERY_ALPHABET for c in cleaned):
        return RECOVERY, cleaned
    raise InvalidCode(BAD_FORMAT if recovery_allowed else ENTER_CODE)


def current_step(at: float | None = None) -> int:
    return int((clock() if at is None else at) // STEP_SECONDS)


def matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step whose code ``code`` is, within ±``VALID_WINDOW`` steps of ``at``; None if none.

    The same check as ``pyotp.TOTP.verify(code, valid_window=1)``, but it says *which* step matched, so that
    step can be marked used.
    """
    generator = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now_step = current_step(at)
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if hmac.compare_digest(generator.generate_otp(step), code):
            return step
    return None


def group_secret(secret: str) -> str:
    """"ABCD EFGH …": easier to type into a phone than 32 letters in a row."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """An SVG QR code of ``uri`` as a data: URL (the console's CSP allows data: images, not inline SVG)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _format_recovery(code: str) -> str:
    half = RECOVERY_CODE_CHARS // 2
    return f"{code[:half]}-{code[half:]}"


def _decrypt(cipher: PersonalDataCipher, stored: str | None) -> str | None:
    return cipher.decrypt(stored) if stored else None


# ---------------------------------------------------------------- set-up, recovery codes, turning off

def begin_setup(session: Session, account: StaffAccount, cipher: PersonalDataCipher, *,
                restart: bool = False) -> str:
    """The secret being set up: the pending one (a reload shows the same QR), or a new one."""
    if not restart:
        pending = _decrypt(cipher, account.totp_pending_secret)
        if pending:
            return pending
    secret = pyotp.random_base32()  # 160 bits, the RFC 4226 recommendation
    account.totp_pending_secret = cipher.encrypt(secret)
    session.flush()
    return secret


def confirm_setup(session: Session, account: StaffAccount, cipher: PersonalDataCipher, text: str | None, *,
                  actor: str, at: float | None = None) -> list[str]:
    """Turns TOTP on when ``text`` is a current code of the pending secret; the new recovery codes, to show once."""
    _, code = parse_code(text, recovery_allowed=False)
    pending = _decrypt(cipher, account.totp_pending_secret)
    if not pending:
        raise InvalidCode(SETUP_EXPIRED)
    step = matching_step(pending, code, at)
    if step is None:
        raise InvalidCode(WRONG_SETUP_CODE)
    account.totp_secret, account.totp_pending_secret = account.totp_pending_secret, None
    account.totp_enabled_at = now()
    account.totp_last_step = step  # the code just typed cannot sign anyone in
    codes = _replace_recovery_codes(session, account)
    session.add(AuditLog(actor=actor, action="auth.totp.enable", target=account.username))
    return codes


def _replace_recovery_codes(session: Session, account: StaffAccount) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_CHARS))
             for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(RecoveryCode(account_id=account.id, code_hash=_recovery_hasher.hash(code)) for code in codes)
    session.flush()
    return [_format_recovery(code) for code in codes]


def unused_recovery_codes(session: Session, account: StaffAccount) -> int:
    return len(session.scalars(select(RecoveryCode.id).where(RecoveryCode.account_id == account.id,
                                                              RecoveryCode.used_at.is_(None))).all())


def _check_current_code(session: Session, account: StaffAccount, cipher: PersonalDataCipher, text: str | None,
                        policy: LockoutPolicy, at: float | None) -> None:
    """A signed-in person proves the phone is in hand (regenerating codes, turning off). Counted like sign-in
    codes, so a browser left signed in cannot be used to try all million codes."""
    if not is_enabled(account):
        raise InvalidCode(NOT_ENABLED)
    _, code = parse_code(text, recovery_allowed=False)
    claim = claim_attempt(session, account.id, policy)  # commits
    if claim.refused_until is not None:
        raise AccountLocked(claim.refused_until)
    if not _accept_totp(session, account, cipher, code, at):
        session.add(AuditLog(actor=account.username, action="auth.totp.fail", detail=f"failure {claim.number}"))
        raise InvalidCode(WRONG_CODE)
    session.execute(update(StaffAccount).where(StaffAccount.id == account.id)
                    .values(failed_attempts=0, locked_until=None))


def regenerate_recovery_codes(session: Session, account: StaffAccount, cipher: PersonalDataCipher,
                              text: str | None, policy: LockoutPolicy, *, at: float | None = None) -> list[str]:
    """New recovery codes (the old ones stop working), after a current code."""
    _check_current_code(session, account, cipher, text, policy, at)
    codes = _replace_recovery_codes(session, account)
    session.add(AuditLog(actor=account.username, action="auth.totp.recovery_codes", target=account.username))
    return codes


def _clear(session: Session, account: StaffAccount) -> None:
    account.totp_secret = account.totp_pending_secret = None
    account.totp_enabled_at = None
    account.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    session.execute(delete(PendingSignIn).where(PendingSignIn.account_id == account.id))


def disable(session: Session, account: StaffAccount, cipher: PersonalDataCipher, text: str | None,
            policy: LockoutPolicy, settings: Settings, *, at: float | None = None) -> None:
    """The person turns their own TOTP off (a current code needed; refused when their role requires it)."""
    if account.role in required_roles(settings):
        raise InvalidAccount("你的角色必须使用两步验证，不能关闭。换了手机请先用备用码登录，再重新设置。")
    _check_current_code(session, account, cipher, text, policy, at)
    _clear(session, account)
    session.add(AuditLog(actor=account.username, action="auth.totp.disable", target=account.username))


def reset(session: Session, account: StaffAccount, actor: str) -> None:
    """An administrator clears someone's second factor (a lost phone); their next sign-in is by password,
    and when their role requires TOTP they set it up again right then."""
    if not is_enabled(account) and not account.totp_pending_secret:
        raise InvalidAccount(NOT_ENABLED)
    _clear(session, account)
    session.add(AuditLog(actor=actor, action="auth.totp_reset", target=account.username))


# ---------------------------------------------------------------- the second sign-in step

def _accept_totp(session: Session, account: StaffAccount, cipher: PersonalDataCipher, code: str,
                 at: float | None) -> bool:
    secret = _decrypt(cipher, account.totp_secret)
    step = matching_step(secret, code, at) if secret else None
    if step is None:
        return False
    # Conditional on the stored step: the database serialises the two UPDATEs of parallel submissions, and
    # the second finds the step already taken (rowcount 0). Earlier steps are refused too.
    result = session.execute(
        update(StaffAccount)
        .where(StaffAccount.id == account.id,
               StaffAccount.totp_last_step.is_(None) | (StaffAccount.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _accept_recovery(session: Session, account: StaffAccount, code: str) -> bool:
    rows = session.execute(select(RecoveryCode.id, RecoveryCode.code_hash)
                           .where(RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None))).all()
    for row_id, code_hash in rows:
        try:
            _recovery_hasher.verify(code_hash, code)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            continue
        result = session.execute(update(RecoveryCode)
                                 .where(RecoveryCode.id == row_id, RecoveryCode.used_at.is_(None))
                                 .values(used_at=now()).execution_options(synchronize_session=False))
        return result.rowcount == 1
    return False


def verify_sign_in_code(session: Session, account: StaffAccount, text: str | None, policy: LockoutPolicy,
                        cipher: PersonalDataCipher, client: str = "", *, at: float | None = None) -> str:
    """The second step: ``TOTP`` or ``RECOVERY`` (what was used) when ``text`` is right; the sign-in is done.

    Malformed input is refused before counting (a typo, not a guess). Otherwise, like a password: the attempt
    is claimed first (``AccountLocked`` while locked), a wrong code is audited and raises ``InvalidCode``.
    ``session`` is committed by the claim: the caller leaves its block normally so the audit row is kept.
    """
    kind, code = parse_code(text)
    if not is_enabled(account):
        raise InvalidCode(NOT_ENABLED)
    claim = claim_attempt(session, account.id, policy)
    if claim.refused_until is not None:
        session.add(AuditLog(actor=account.username, action="auth.login.locked", detail="code"))
        raise AccountLocked(claim.refused_until)
    accepted = (_accept_totp(session, account, cipher, code, at) if kind == TOTP
                else _accept_recovery(session, account, code))
    if not accepted:
        detail = f"code failure {claim.number}" + (", locked" if claim.locks else "")
        session.add(AuditLog(actor=account.username, action="auth.login.fail", detail=detail))
        raise InvalidCode(WRONG_CODE)
    finish_sign_in(session, account)
    session.add(AuditLog(actor=account.username, action="auth.login.recovery" if kind == RECOVERY else "auth.login",
                         detail=client[:60]))
    return kind


# ---------------------------------------------------------------- the pending (half-signed-in) state

def open_pending(session: Session, account: StaffAccount, purpose: str) -> str:
    token = secrets.token_urlsafe(32)
    moment = now()
    session.execute(delete(PendingSignIn).where(PendingSignIn.expires_at < moment))
    session.add(PendingSignIn(token_hash=token_hash(token), account_id=account.id, purpose=purpose,
                              expires_at=moment + dt.timedelta(minutes=PENDING_MINUTES)))
    return token


def resolve_pending(session: Session, token: str | None) -> tuple[StaffAccount, str] | None:
    """(account, purpose) of a live pending sign-in; None when unknown, expired or the account is disabled."""
    if not token:
        return None
    found = live_token_row(session, PendingSignIn, token)
    if found is None:
        return None
    row, account = found
    return account, row.purpose


def close_pending(session: Session, token: str | None) -> bool:
    """Ends a pending sign-in; True only for the one call that removed it (parallel submissions: one wins)."""
    if not token:
        return False
    result = session.execute(delete(PendingSignIn).where(PendingSignIn.token_hash == token_hash(token))
                             .execution_options(synchronize_session=False))
    return result.rowcount == 1
